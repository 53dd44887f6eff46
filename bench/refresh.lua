-- wrk script: token refresh (rotation) throughput. Every refresh token works once, so the
-- script keeps a pool: it starts from the tokens in the file $REFRESH_TOKENS (one per
-- line) and puts back the fresh token each answer carries.
local pool = {}
local f = assert(io.open(os.getenv("REFRESH_TOKENS") or "", "r"), "REFRESH_TOKENS not readable")
for line in f:lines() do
   if #line > 0 then table.insert(pool, line) end
end
f:close()

wrk.method = "POST"
wrk.path = "/api/v1/auth/refresh"
wrk.headers["Content-Type"] = "application/json"

function request()
   local token = table.remove(pool) or "pool-empty"
   return wrk.format(nil, nil, nil, '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
   local token = body:match('"refresh_token":"([^"]+)"')
   if token then table.insert(pool, token) end
end
