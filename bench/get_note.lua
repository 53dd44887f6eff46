-- wrk script: read one note.  GET $NOTE_PATH (e.g. /api/v1/notes/<id>) with a
-- bearer token taken from $CAIRN_BOOTSTRAP_TOKEN.
--
--   NOTE_PATH=/api/v1/notes/abc CAIRN_BOOTSTRAP_TOKEN=bench-token \
--     wrk -t1 -c64 -d10s -s bench/get_note.lua http://127.0.0.1:8091

local path = os.getenv("NOTE_PATH")
if path == nil or path == "" then
   io.stderr:write("get_note.lua: NOTE_PATH is not set\n")
   os.exit(1)
end

wrk.method = "GET"
wrk.path = path
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("CAIRN_BOOTSTRAP_TOKEN") or "")
