-- wrk script: single ingest.  POST /api/v1/interactions, cycling through the bodies
-- in $INGEST_BODIES (one JSON interaction per line, made by `insights_load bodies N`:
-- ~1 000 customers, mixed channels, 60-200 characters of text, a user agent, timestamps
-- over the last 120 days), with the bearer token $CAIRN_BOOTSTRAP_TOKEN.
--
--   INGEST_BODIES=/tmp/bodies.ndjson CAIRN_BOOTSTRAP_TOKEN=bench-token \
--     wrk -t1 -c64 -d15s --latency -s bench/ingest_one.lua http://127.0.0.1:8097
--
-- The requests are formatted once, in init(); request() only hands the next one out, so
-- wrk spends no Lua time per request on building them. No response() callback (it would
-- make wrk parse every answer into Lua); wrk counts non-2xx answers itself. done() prints
-- one line with p50/p90/p95/p99 (wrk --latency has no p95).

local token = os.getenv("CAIRN_BOOTSTRAP_TOKEN") or ""
local file = os.getenv("INGEST_BODIES") or ""
local reqs = {}
local n = 0
local i = 0

function init(args)
   local f = io.open(file, "r")
   if f == nil then
      io.stderr:write("ingest_one.lua: cannot open INGEST_BODIES=" .. file .. "\n")
      os.exit(1)
   end
   local headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
   }
   for line in f:lines() do
      if #line > 2 then
         n = n + 1
         reqs[n] = wrk.format("POST", "/api/v1/interactions", headers, line)
      end
   end
   f:close()
   if n == 0 then
      io.stderr:write("ingest_one.lua: no bodies in " .. file .. "\n")
      os.exit(1)
   end
end

function request()
   i = i % n + 1
   return reqs[i]
end

-- the summary line the bench scripts parse (wrk_summary.lua, next to this script)
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_summary.lua")
