#!/usr/bin/env bash
# Cairn benchmark: compares Cairn with a bare h2o "hello" server (bench-hello,
# the ceiling) and prints a Markdown block for bench/RESULTS.md on stdout.
# Progress and diagnostics go to stderr.
#
#   cmake --build build && bash bench/run.sh > /tmp/results.md
#
# Environment knobs:
#   BUILD=build          build tree holding cairn and bench-hello
#   ROUNDS=3             rounds; every round runs each scenario once, interleaved
#   DURATION=10          seconds per wrk run
#   CONNECTIONS=64       wrk connections (wrk always runs with -t1)
#   HELLO_THREADS=       bench-hello --threads (default: its own, = online CPUs)
#   HELLO_PORT=8090 CAIRN_PORT=8091
#
# If $BUILD/cairn does not exist yet, only bench-hello is measured.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
HELLO_THREADS=${HELLO_THREADS:-}
HELLO_PORT=${HELLO_PORT:-8090}
CAIRN_PORT=${CAIRN_PORT:-8091}
HOST=127.0.0.1
TOKEN=bench-token
READY_TIMEOUT_MS=5000

HELLO_BIN="$BUILD/bench-hello"
CAIRN_BIN="$BUILD/cairn"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v wrk >/dev/null || die "wrk not found"
command -v curl >/dev/null || die "curl not found"
[[ -x $HELLO_BIN ]] || die "$HELLO_BIN not found (cmake --build $BUILD --target bench-hello)"
HAVE_CAIRN=0
if [[ -x $CAIRN_BIN ]]; then
  HAVE_CAIRN=1
else
  log "warning: $CAIRN_BIN not found; measuring bench-hello only"
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench.XXXXXX")
DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-data.XXXXXX")
HELLO_PID=
CAIRN_PID=
SAMPLER_PID=

cleanup() {
  local rc=$?
  stop_pid "$SAMPLER_PID"
  stop_pid "$CAIRN_PID"
  stop_pid "$HELLO_PID"
  ((rc == 0)) || show_logs "$WORK" 20
  rm -rf "$WORK" "$DATA_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A sleep that does not fork: read with a timeout on a pipe nobody writes to.
exec {SLEEP_FD}<> <(:)
nap() { read -r -t "$1" -u "$SLEEP_FD" _ || true; }

now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }

port_busy() { curl -s -o /dev/null --max-time 1 "http://$HOST:$1/" 2>/dev/null; }

# wait_ready PID LOGFILE T0_US -> prints ms from T0_US until LOGFILE holds
# "listening on http://".  Polls about once per millisecond without forking.
wait_ready() {
  local pid=$1 logf=$2 t0=$3 fd chunk cur="" t
  exec {fd}<"$logf"
  while :; do
    while :; do
      if IFS= read -r chunk <&"$fd"; then
        cur+=$chunk
        [[ $cur == *"listening on http://"* ]] && break 2
        cur=""
      else
        cur+=$chunk # partial line at EOF
        [[ $cur == *"listening on http://"* ]] && break 2
        break
      fi
    done
    t=${EPOCHREALTIME/[.,]/}
    if ((t - t0 > READY_TIMEOUT_MS * 1000)); then
      exec {fd}<&-
      die "$(basename "$logf" .log) not ready after ${READY_TIMEOUT_MS} ms"
    fi
    kill -0 "$pid" 2>/dev/null || { exec {fd}<&-; die "$(basename "$logf" .log) exited during start-up"; }
    nap 0.001
  done
  t=${EPOCHREALTIME/[.,]/}
  exec {fd}<&-
  awk -v d=$((t - t0)) 'BEGIN { printf "%.1f", d / 1000 }'
}

rss_kb() { awk -v k="$2" '$1 == k":" { print $2; found = 1 } END { if (!found) print "" }' "/proc/$1/status" 2>/dev/null; }
kb_to_mib() { awk -v k="$1" 'BEGIN { if (k == "") print "n/a"; else printf "%.1f", k / 1024 }'; }

# paired_ratio SCENARIO: the median over rounds of req/s(SCENARIO) / req/s(hello) of the
# same round (a round's runs are seconds apart, so they share most of the machine's noise)
paired_ratio() {
  awk -v a="${RPS_OF[$1]}" -v b="${RPS_OF[hello]}" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); m = 0
    for (i = 1; i <= n; i++) if (y[i] > 0) r[++m] = 100 * x[i] / y[i]
    if (m == 0) { print "n/a"; exit }
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
    printf "%.1f %%", (m % 2) ? r[(m + 1) / 2] : (r[m / 2] + r[m / 2 + 1]) / 2 }'
}

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0) print "n/a"; else printf "%.1f %%", 100 * a / b }'; }

# CPU time (user + system, in clock ticks) a process has used so far: fields 14 and 15 of
# /proc/PID/stat, counted after the ")" that ends the command name
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
CLK_TCK=$(getconf CLK_TCK)

# run_wrk NAME URL [LUA] -> sets RPS P99 NON2XX SOCKERR CPU_US; raw output kept in $WORK.
# CPU_US is the server's own CPU time per request (µs): unlike req/s it does not depend on
# how much of the machine other processes left to the server during the run.
run_wrk() {
  local name=$1 url=$2 script=${3:-} out="$WORK/wrk-$1-r$ROUND.txt"
  local pid=$CAIRN_PID
  [[ $name == hello ]] && pid=$HELLO_PID
  local ticks0
  ticks0=$(cpu_ticks "$pid")
  local args=(-t1 "-c$CONNECTIONS" "-d${DURATION}s" --latency)
  [[ -n $script ]] && args+=(-s "$script")
  log "round $ROUND: $name ($url)"
  CAIRN_BOOTSTRAP_TOKEN=$TOKEN NOTE_PATH=${NOTE_PATH:-} wrk "${args[@]}" "$url" >"$out" 2>&1 ||
    { cat "$out" >&2; die "wrk failed for $name"; }
  RPS=$(awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' "$out")
  P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  NON2XX=${NON2XX:-0}
  SOCKERR=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
  SOCKERR=${SOCKERR:-0}
  [[ -n $RPS ]] || { cat "$out" >&2; die "could not parse wrk output for $name"; }
  local requests ticks1
  ticks1=$(cpu_ticks "$pid")
  requests=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$out")
  CPU_US=$(awk -v t="$((ticks1 - ticks0))" -v n="${requests:-0}" -v hz="$CLK_TCK" \
    'BEGIN { if (n > 0) printf "%.2f", t * 1e6 / hz / n; else print "n/a" }')
  if ((NON2XX > 0 || SOCKERR > 0)); then
    log "warning: $name: $NON2XX non-2xx/3xx responses, $SOCKERR socket errors"
  fi
}

# ---------------------------------------------------------------- start servers

port_busy "$HELLO_PORT" && die "something already answers on $HOST:$HELLO_PORT"
hello_args=(--listen "$HOST:$HELLO_PORT")
[[ -n $HELLO_THREADS ]] && hello_args+=(--threads "$HELLO_THREADS")
: >"$WORK/bench-hello.log"
t0=$(now_us)
"$HELLO_BIN" "${hello_args[@]}" >>"$WORK/bench-hello.log" 2>&1 &
HELLO_PID=$!
HELLO_READY_MS=$(wait_ready "$HELLO_PID" "$WORK/bench-hello.log" "$t0")
log "bench-hello ready in $HELLO_READY_MS ms (pid $HELLO_PID)"

CAIRN_READY_MS=n/a
CAIRN_IDLE_RSS=
NOTE_PATH=
if ((HAVE_CAIRN)); then
  port_busy "$CAIRN_PORT" && die "something already answers on $HOST:$CAIRN_PORT"
  : >"$WORK/cairn.log"
  t0=$(now_us)
  # the load comes from one client IP and one credential: lift the per-client limits
  CAIRN_RATE_IP_PER_MIN=10000000 CAIRN_RATE_USER_PER_MIN=10000000 \
  CAIRN_BOOTSTRAP_TOKEN=$TOKEN "$CAIRN_BIN" serve --listen "$HOST:$CAIRN_PORT" --data "$DATA_DIR" \
    >>"$WORK/cairn.log" 2>&1 &
  CAIRN_PID=$!
  CAIRN_READY_MS=$(wait_ready "$CAIRN_PID" "$WORK/cairn.log" "$t0")
  log "cairn ready in $CAIRN_READY_MS ms (pid $CAIRN_PID)"
  sleep 1
  CAIRN_IDLE_RSS=$(rss_kb "$CAIRN_PID" VmRSS)

  code=$(curl -s -o "$WORK/healthz.json" -w '%{http_code}' "http://$HOST:$CAIRN_PORT/healthz") || true
  [[ $code == 200 ]] || die "GET /healthz answered $code"

  code=$(curl -s -o "$WORK/note.json" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
    --data '{"title":"t","body":"b"}' "http://$HOST:$CAIRN_PORT/api/v1/notes") || true
  [[ $code == 201 || $code == 200 ]] || { cat "$WORK/note.json" >&2 || true; die "POST /api/v1/notes answered $code"; }
  if command -v node >/dev/null; then
    NOTE_ID=$(node -e '
      const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const id = j.id ?? j.data?.id ?? j.note?.id;
      if (id === undefined || id === null) process.exit(1);
      process.stdout.write(String(id));' "$WORK/note.json") || NOTE_ID=
  else
    NOTE_ID=$(tr -d '\n' <"$WORK/note.json" |
      sed -n 's/^[^{]*{.*"id"[[:space:]]*:[[:space:]]*"\{0,1\}\([^",}[:space:]]*\).*/\1/p')
  fi
  [[ -n $NOTE_ID ]] || { cat "$WORK/note.json" >&2; die "no id in the POST answer"; }
  NOTE_PATH=/api/v1/notes/$NOTE_ID
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "http://$HOST:$CAIRN_PORT$NOTE_PATH") || true
  [[ $code == 200 ]] || die "GET $NOTE_PATH answered $code"
  log "note for GET runs: $NOTE_PATH"
fi

# ---------------------------------------------------------------- measure

declare -A RPS_OF P99_OF CPU_OF
ROWS=()
POST_PEAK_RSS=()
SCENARIOS=(hello)
((HAVE_CAIRN)) && SCENARIOS+=(healthz get post)

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
  for s in "${SCENARIOS[@]}"; do
    peak=
    case $s in
      hello) run_wrk hello "http://$HOST:$HELLO_PORT/" ;;
      healthz) run_wrk healthz "http://$HOST:$CAIRN_PORT/healthz" ;;
      get) run_wrk get "http://$HOST:$CAIRN_PORT$NOTE_PATH" "$BENCH_DIR/get_note.lua" ;;
      post)
        samples="$WORK/rss-post-r$ROUND.txt"
        (
          while [[ -r /proc/$CAIRN_PID/status ]]; do
            awk '$1 == "VmRSS:" { print $2 }' "/proc/$CAIRN_PID/status" 2>/dev/null || break
            sleep 0.2
          done
        ) >"$samples" &
        SAMPLER_PID=$!
        run_wrk post "http://$HOST:$CAIRN_PORT/api/v1/notes" "$BENCH_DIR/post_note.lua"
        stop_pid "$SAMPLER_PID"
        SAMPLER_PID=
        peak=$(sort -n "$samples" | tail -n 1)
        POST_PEAK_RSS+=("$peak")
        grep -h '^post_note:' "$WORK/wrk-post-r$ROUND.txt" >&2 || true
        ;;
    esac
    RPS_OF[$s]+="$RPS "
    P99_OF[$s]+="$P99 "
    CPU_OF[$s]+="$CPU_US "
    if [[ -n $peak ]]; then peak=$(kb_to_mib "$peak"); else peak="–"; fi
    ROWS+=("| $ROUND | $s | $RPS | $CPU_US | $P99 | $NON2XX | $SOCKERR | $peak |")
  done
done

CAIRN_HWM=
((HAVE_CAIRN)) && CAIRN_HWM=$(rss_kb "$CAIRN_PID" VmHWM)

# ---------------------------------------------------------------- report

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
[[ -n $cpu_model ]] || cpu_model=$(LC_ALL=C lscpu 2>/dev/null | awk -F': *' '/^Model name/ { print $2; exit }' || true)
git_rev=$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo unknown)
build_type=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
hello_threads=$(awk '/threads/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) { print $i; exit } }' \
  "$WORK/bench-hello.log" 2>/dev/null || true)

declare -A MED_RPS MED_P99 MED_CPU
for s in "${SCENARIOS[@]}"; do
  # shellcheck disable=SC2086 # word splitting of the collected values is intended
  MED_RPS[$s]=$(median %.0f ${RPS_OF[$s]})
  MED_CPU[$s]=$(median %.2f ${CPU_OF[$s]})
  # shellcheck disable=SC2086
  MED_P99[$s]=$(median %.2f ${P99_OF[$s]})
done

cat <<EOF
### Benchmark $(date -u +%Y-%m-%d) — \`$git_rev\`

- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
- Git: \`$git_rev\`, build type: ${build_type:-unknown}
- CPU: ${cpu_model:-unknown}, nproc: $(nproc)
- Kernel: $(uname -srm)
- Load: wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }') \`-t1 -c$CONNECTIONS -d${DURATION}s --latency\`, $ROUNDS rounds, scenarios interleaved; all on $HOST
- bench-hello threads: ${hello_threads:-default}; cairn: \`serve --listen $HOST:$CAIRN_PORT\` on a fresh data dir
EOF
if ((HAVE_CAIRN)); then
  cat <<EOF

| Cairn start-up / memory | |
|---|---|
| spawn → \`listening on\` | $CAIRN_READY_MS ms |
| idle RSS (1 s after ready) | $(kb_to_mib "$CAIRN_IDLE_RSS") MiB |
| peak RSS during POST runs (VmRSS, 200 ms samples, max) | $(kb_to_mib "$(printf '%s\n' "${POST_PEAK_RSS[@]:-}" | sort -n | tail -n 1)") MiB |
| VmHWM at the end | $(kb_to_mib "$CAIRN_HWM") MiB |
EOF
fi
cat <<EOF

Per round:

| round | scenario | req/s | server CPU µs/req | p99 ms | non-2xx | sock err | peak RSS MiB |
|---:|---|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${ROWS[@]}")

Medians over $ROUNDS rounds:

| scenario | req/s | p99 ms | % of hello req/s | server CPU µs/req | hello's CPU/req ÷ this one's |
|---|---:|---:|---:|---:|---:|
EOF
for s in "${SCENARIOS[@]}"; do
  case $s in
    hello) what="bench-hello \`GET /\`" ;;
    healthz) what="cairn \`GET /healthz\`" ;;
    get) what="cairn \`GET /api/v1/notes/{id}\`" ;;
    post) what="cairn \`POST /api/v1/notes\`" ;;
  esac
  echo "| $what | ${MED_RPS[$s]} | ${MED_P99[$s]} | $(pct "${MED_RPS[$s]}" "${MED_RPS[hello]}") | ${MED_CPU[$s]} | $(pct "${MED_CPU[hello]}" "${MED_CPU[$s]}") |"
done
if ((HAVE_CAIRN)); then
  echo
  echo "Ratios (median req/s): healthz/hello = $(pct "${MED_RPS[healthz]}" "${MED_RPS[hello]}"), get/hello = $(pct "${MED_RPS[get]}" "${MED_RPS[hello]}")."
  echo "Median of the per-round ratios (each round's runs are back to back): healthz/hello = $(paired_ratio healthz), get/hello = $(paired_ratio get)."
  echo "Server CPU per request, hello's ÷ cairn's (what req/s would be if each server had the same CPU to itself): healthz $(pct "${MED_CPU[hello]}" "${MED_CPU[healthz]}"), get $(pct "${MED_CPU[hello]}" "${MED_CPU[get]}")."
else
  echo
  echo "_cairn was not built (\`$CAIRN_BIN\` missing): only bench-hello was measured._"
fi
