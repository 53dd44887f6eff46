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
