-- wrk script: create notes.  POST /api/v1/notes with a bearer token taken from
-- $CAIRN_BOOTSTRAP_TOKEN.  Non-2xx answers are counted and printed in done().
--
--   CAIRN_BOOTSTRAP_TOKEN=bench-token wrk -t1 -c64 -d10s -s bench/post_note.lua http://127.0.0.1:8091

local token = os.getenv("CAIRN_BOOTSTRAP_TOKEN") or ""

wrk.method = "POST"
wrk.path = "/api/v1/notes"
wrk.body = '{"title":"bench note","body":"some text for the benchmark"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

-- Every wrk thread has its own Lua state: keep a handle on each so done()
-- (which runs in the main state) can add their counters up.
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

non2xx = 0
statuses = {}

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      statuses[status] = (statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local total, by_status = 0, {}
   for _, thread in ipairs(threads) do
      total = total + (thread:get("non2xx") or 0)
      for status, n in pairs(thread:get("statuses") or {}) do
         by_status[status] = (by_status[status] or 0) + n
      end
   end
   local parts = {}
   for status, n in pairs(by_status) do
      table.insert(parts, string.format("%d x%d", status, n))
   end
   table.sort(parts)
   io.write(string.format("post_note: non-2xx responses: %d%s\n", total,
                          #parts > 0 and (" (" .. table.concat(parts, ", ") .. ")") or ""))
   if token == "" then
      io.write("post_note: warning: CAIRN_BOOTSTRAP_TOKEN is not set\n")
   end
end
