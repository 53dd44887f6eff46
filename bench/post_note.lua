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

-- No response() callback: it makes wrk parse every answer into Lua tables, and on
-- this 2-core machine wrk itself would become the bottleneck. wrk already prints
-- "Non-2xx or 3xx responses: N" when any answer is not 2xx/3xx.
if token == "" then
   io.stderr:write("post_note.lua: warning: CAIRN_BOOTSTRAP_TOKEN is not set\n")
end
