-- wrk script: the read side of the insights app, cached or uncached.
--
--   QUERY=list_email|list_customer|list_segment|trends|search VARY=1|0 NOW_MS=<epoch ms> \
--   CUSTOMERS_FILE=/tmp/ids.txt SEGMENTS=enterprise CAIRN_BOOTSTRAP_TOKEN=bench-token \
--     wrk -t1 -c4 -d10s --latency -s bench/insights_query.lua http://127.0.0.1:8097
--
--   list_email     GET /api/v1/insights?channels=email&sentiment_min=0.05&from=<NOW-30d>&to=T&limit=50
--   list_customer  GET /api/v1/insights?customer_id=C&to=T&limit=50   (C cycles over the customers)
--   list_segment   GET /api/v1/insights?segments=$SEGMENTS&from=<NOW-30d>&to=T&limit=50
--   trends         GET /api/v1/insights/sentiment-trends?from=<T-90d>&to=T&group_by=day&timezone=Europe/Paris
--   search         GET /api/v1/interactions/search?q=Q&limit=L   (Q cycles over realistic queries)
--
-- VARY=1 (uncached): every request differs in a parameter, so every request misses the
-- response cache (whose key is the typed query): T = NOW_MS - k ms for the k-th request
-- (a different `to` each time); for search, where there is no time parameter, the k-th
-- request uses query k mod #queries, followed by ((k / #queries) mod 150) spaces
-- (the FTS query built from it is the same, the cache key is not) and limit
-- 10 + (k / (150 #queries)) mod 11.  With -t1 all connections share this Lua state, so
-- k is unique across them.
-- VARY=0 (cached): T = NOW_MS for every request; list_customer cycles over 8 customers and
-- search over the queries at limit 20: after the first round every answer is a cache hit.
--
-- The server's cairn_cache_hits_total / cairn_cache_misses_total (from /metrics) are what
-- bench/insights.sh reports as the hit ratio of a run; this script has no response()
-- callback. done() prints one line with p50/p90/p95/p99.
--
-- DUMP_PATHS=n: init() prints the first n request paths, one per line, and exits without
-- sending anything (insights.sh uses it to warm the cache with curl before a VARY=0 run,
-- so that the slow first misses do not count in the cached figures).

local token = os.getenv("CAIRN_BOOTSTRAP_TOKEN") or ""
local kind = os.getenv("QUERY") or "list_email"
local vary = (os.getenv("VARY") or "1") == "1"
local now_ms = tonumber(os.getenv("NOW_MS") or "") or (os.time() * 1000)
local segments = os.getenv("SEGMENTS") or "enterprise"
local DAY = 86400000

local queries = {
   "password reset", "refund", "charged twice", "tracking number", "stopped working",
   "arrived damaged", "cancel subscription", "coffee machine", "discount code",
   "rude unhelpful", "warranty laptop", "battery drains", "checkout crashed",
   "never arrived", "return label", "washing machine",
}

local customers = {}
local k = 0

local function iso(ms)
   local s = math.floor(ms / 1000)
   return os.date("!%Y-%m-%dT%H:%M:%S", s) .. string.format(".%03dZ", ms - s * 1000)
end

local function urlenc(s)
   return (string.gsub(s, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function path_for(n)
   local t = vary and (now_ms - n) or now_ms
   if kind == "list_email" then
      return "/api/v1/insights?channels=email&sentiment_min=0.05&from=" .. iso(now_ms - 30 * DAY)
         .. "&to=" .. iso(t) .. "&limit=50"
   elseif kind == "list_customer" then
      local c = customers[(vary and n or (n % 8)) % #customers + 1]
      return "/api/v1/insights?customer_id=" .. c .. "&to=" .. iso(t) .. "&limit=50"
   elseif kind == "list_segment" then
      return "/api/v1/insights?segments=" .. urlenc(segments) .. "&from=" .. iso(now_ms - 30 * DAY)
         .. "&to=" .. iso(t) .. "&limit=50"
   elseif kind == "trends" then
      return "/api/v1/insights/sentiment-trends?from=" .. iso(t - 90 * DAY) .. "&to=" .. iso(t)
         .. "&group_by=day&timezone=Europe%2FParis"
   elseif kind == "search" then
      local nq = #queries
      local q = queries[n % nq + 1]
      local limit = 20
      if vary then
         q = q .. string.rep(" ", math.floor(n / nq) % 150)
         limit = 10 + math.floor(n / (nq * 150)) % 11
      end
      return "/api/v1/interactions/search?q=" .. urlenc(q) .. "&limit=" .. limit
   end
   io.stderr:write("insights_query.lua: unknown QUERY=" .. kind .. "\n")
   os.exit(1)
end

function init(args)
   if kind == "list_customer" then
      local f = io.open(os.getenv("CUSTOMERS_FILE") or "", "r")
      if f == nil then
         io.stderr:write("insights_query.lua: cannot open CUSTOMERS_FILE\n")
         os.exit(1)
      end
      for line in f:lines() do
         if #line == 36 then customers[#customers + 1] = line end
      end
      f:close()
   end
   wrk.headers["Authorization"] = "Bearer " .. token
   path_for(0) -- fail early on a bad QUERY
   local dump = tonumber(os.getenv("DUMP_PATHS") or "")
   if dump then
      for n = 1, dump do io.write(path_for(n), "\n") end
      io.flush()
      os.exit(0)
   end
end

function request()
   k = k + 1
   return wrk.format("GET", path_for(k))
end

-- the summary line the bench scripts parse (wrk_summary.lua, next to this script)
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_summary.lua")
