-- wrk `done` hook shared by the bench scripts: one machine-readable summary line.
-- Load it from a script with: dofile(script_dir .. "wrk_summary.lua")
function done(summary, latency, requests)
   local function ms(p) return latency:percentile(p) / 1000 end
   io.write(string.format(
      "wrk_summary: requests=%d duration_s=%.2f rps=%.0f p50_ms=%.2f p90_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d sockerr=%d\n",
      summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
      ms(50), ms(90), ms(95), ms(99), latency.max / 1000, summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
