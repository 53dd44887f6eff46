# Shell helpers the bench scripts share (source it; needs a log function).
# BENCH_DIR, REPO_DIR and BUILD (absolute) for a script in bench/; BUILD defaults to build.
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD="$REPO_DIR/$BUILD"

# stop_pid PID: SIGTERM, up to 10 s for it to exit, then SIGKILL; reaps it.
stop_pid() {
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# show_logs DIR LINES: the tail of every non-empty DIR/*.log on stderr (after a failure).
show_logs() {
  local f
  for f in "$1"/*.log; do
    [[ -s $f ]] || continue
    log "--- tail of $(basename "$f") ---"
    tail -n "$2" "$f" >&2 || true
  done
}

# wrk latency value (e.g. 812.00us, 4.18ms, 1.02s, 1.50m) -> milliseconds
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v == "") { print "n/a"; exit }
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}

# median FORMAT NUMBER...: the median printed with FORMAT; non-numbers ("n/a") ignored, "n/a"
# when none is left
median() {
  local fmt=$1
  shift
  printf '%s\n' "$@" | { grep -E '^[0-9.]+$' || true; } | sort -g |
    awk -v fmt="$fmt" '{ a[NR] = $1 } END {
      if (NR == 0) { print "n/a"; exit }
      printf fmt, (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
