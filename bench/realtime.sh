#!/usr/bin/env bash
# Realtime benchmark: Cairn's WebSocket hub (GET /api/v1/realtime) against Socket.IO 4.8 on
# node (bench/socketio/server.mjs), both loaded by the same C client (bench/wsload.c, target
# `wsload`). Prints a Markdown block for bench/RESULTS.md on stdout; progress on stderr.
#
#   cmake --build build && bash bench/realtime.sh > /tmp/realtime.md
#
# Scenarios, each on a freshly started server, for each target:
#   hold      HOLD_CONNS idle subscribed connections for HOLD_SECS; server VmRSS before and
#             after -> bytes per idle connection
#   fanout    FANOUT_SUBS subscribers of one channel, FANOUT_RATE publishes/s for
#             FANOUT_SECS (after WARMUP s): publish -> delivery p50/p99; ROUNDS rounds,
#             interleaved between the targets
#   saturate  SAT_SUBS subscribers, SAT_RATES publishes/s in steps of SAT_STEP s, until the
#             deliveries fall behind (< 90 % of offered) or p99 > 500 ms: the fan-out ceiling
# Knobs (environment): BUILD=build TARGETS="cairn socketio" HOLD_CONNS=10000 HOLD_SECS=35
# (longer than both servers' heartbeat intervals) FANOUT_SUBS=1000 FANOUT_RATE=100
# FANOUT_SECS=20 WARMUP=3 ROUNDS=3 (quiet rounds wanted) MAX_ROUNDS=5 QUIET_CPU=20 (see the
# fan-out section) SAT_SUBS=1000
# SAT_RATES=25,50,75,100,150,200,250,300,400,500,600,800 SAT_STEP=5 THREADS=2 (subscriber
# threads of wsload: two read a fan-out burst sooner, for the latency runs) SAT_THREADS=1
# (one costs less CPU per delivery, leaving more to the server) PUBLISHERS=4 (keep-alive
# connections of the publisher: Cairn answers one pipelined POST per connection per loop
# turn, and a turn that fans out is long) PIPELINE=32. Everything binds and connects to
# 127.0.0.1 only; every load run is bounded by its own durations and by `timeout`.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TARGETS=${TARGETS:-cairn socketio}
HOLD_CONNS=${HOLD_CONNS:-10000}
HOLD_SECS=${HOLD_SECS:-35}
FANOUT_SUBS=${FANOUT_SUBS:-1000}
FANOUT_RATE=${FANOUT_RATE:-100}
FANOUT_SECS=${FANOUT_SECS:-20}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-3}
MAX_ROUNDS=${MAX_ROUNDS:-5}
QUIET_CPU=${QUIET_CPU:-20}
SAT_SUBS=${SAT_SUBS:-1000}
SAT_RATES=${SAT_RATES:-25,50,75,100,150,200,250,300,400,500,600,800}
SAT_STEP=${SAT_STEP:-5}
THREADS=${THREADS:-2}
SAT_THREADS=${SAT_THREADS:-1}
PUBLISHERS=${PUBLISHERS:-4}
PIPELINE=${PIPELINE:-32}
HOST=127.0.0.1
TOKEN=bench-token

CAIRN_BIN="$BUILD/cairn"
WSLOAD="$BUILD/wsload"
SIO_SERVER="$BENCH_DIR/socketio/server.mjs"

log() { printf '[realtime] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ -x $WSLOAD ]] || die "$WSLOAD not found (cmake --build $BUILD --target wsload)"
for t in $TARGETS; do
  case $t in
    cairn) [[ -x $CAIRN_BIN ]] || die "$CAIRN_BIN not found" ;;
    socketio)
      command -v node >/dev/null || die "node not found"
      [[ -d $REPO_DIR/node_modules/socket.io ]] || die "socket.io missing: run scripts/deps"
      ;;
    *) die "unknown target $t" ;;
  esac
done

# both the servers and wsload need one descriptor per connection
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -n) > HOLD_CONNS + 100)) || die "ulimit -n is $(ulimit -n): too low for $HOLD_CONNS connections"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-realtime.XXXXXX")
SERVER_PID=
SERVER_PORT=

stop_server() {
  stop_pid "$SERVER_PID"
  SERVER_PID=
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local rc=$?
  stop_server
  ((rc == 0)) || show_logs "$WORK" 15
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server TARGET NAME: a fresh server; sets SERVER_PID and SERVER_PORT
start_server() {
  local target=$1 logf="$WORK/$2.log"
  : >"$logf"
  if [[ $target == cairn ]]; then
    local data="$WORK/data-$2"
    mkdir -p "$data"
    # one client IP and one credential make all the load: lift the per-client limits and
    # the realtime connection caps (per principal, per tenant, process) above the load;
    # no access log (the node server writes none either)
    local caps=$HOLD_CONNS
    ((FANOUT_SUBS > caps)) && caps=$FANOUT_SUBS
    ((SAT_SUBS > caps)) && caps=$SAT_SUBS
    caps=$((caps + 100))
    CAIRN_RATE_IP_PER_MIN=10000000 CAIRN_RATE_USER_PER_MIN=10000000 CAIRN_ACCESS_LOG=false \
      CAIRN_REALTIME_MAX_PER_PRINCIPAL=$caps CAIRN_REALTIME_MAX_PER_TENANT=$caps \
      CAIRN_REALTIME_MAX_CONNECTIONS=$caps \
      CAIRN_BOOTSTRAP_TOKEN=$TOKEN "$CAIRN_BIN" serve --listen "$HOST:0" --data "$data" \
      >>"$logf" 2>&1 &
  else
    PORT=0 TOKEN=$TOKEN node "$SIO_SERVER" >>"$logf" 2>&1 &
  fi
  SERVER_PID=$!
  SERVER_PORT=
  for _ in $(seq 200); do
    SERVER_PORT=$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' "$logf" | head -n 1)
    [[ -n $SERVER_PORT ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "$2 exited during start-up"
    sleep 0.05
  done
  [[ -n $SERVER_PORT ]] || die "$2 not ready after 10 s"
  sleep 0.5
}

ws_url() {
  if [[ $1 == cairn ]]; then
    echo "ws://$HOST:$SERVER_PORT/api/v1/realtime"
  else
    echo "ws://$HOST:$SERVER_PORT/socket.io/?EIO=4&transport=websocket"
  fi
}

# wsload TARGET NAME LIMIT_S ARGS...: output kept in $WORK/NAME.out (exit status ignored:
# losses make wsload exit 1, and the numbers say so)
run_wsload() {
  local target=$1 name=$2 limit=$3
  shift 3
  log "$name: load $(cut -d' ' -f1-3 /proc/loadavg)"
  timeout --signal=INT --kill-after=10 "$limit" "$WSLOAD" --proto "$target" \
    --url "$(ws_url "$target")" --token "$TOKEN" --server-pid "$SERVER_PID" --threads "$THREADS" \
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || true
  grep -h -e '"level":"warn"' -e '"level":"error"' -e 'does not keep up' "$WORK/$name.log" \
    2>/dev/null | head -n 5 |
    sed "s/^/    $name server log: /" >&2 || true
  grep -v '^RESULT' "$WORK/$name.out" | sed 's/^/    /' >&2 || true
  grep -i 'error\|lost\|saturated' "$WORK/$name.err" | head -n 5 | sed 's/^/    /' >&2 || true
}

# field FILE MODE KEY: the value of KEY on the first "RESULT mode=MODE" line ("n/a" if none)
field() {
  awk -v m="mode=$2" -v k="$3" '$1 == "RESULT" && $2 == m {
      for (i = 3; i <= NF; i++) { split($i, a, "="); if (a[1] == k) { print a[2]; found = 1; exit } } }
    END { if (!found) print "n/a" }' "$1" 2>/dev/null || echo n/a
}

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v !~ /^-?[0-9.]+$/) print "n/a"; else printf f, v }'; }
# ratio A B FORMAT: A / B
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0) print "n/a"; else printf "%.1f×", a / b }'; }

declare -A R # R[target.key]

# ---------------------------------------------------------------- sanity

if [[ " $TARGETS " == *" socketio "* ]]; then
  start_server socketio sio-sanity
  node "$BENCH_DIR/socketio/sanity.mjs" "http://$HOST:$SERVER_PORT" "$TOKEN" >&2 ||
    die "the Socket.IO server failed the socket.io-client sanity check"
  stop_server
fi

T_START=$(date +%s)
# the tree the binaries were built from is the one at the start (others may commit meanwhile)
git_rev=$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo unknown)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- hold

for t in $TARGETS; do
  start_server "$t" "$t-hold"
  run_wsload "$t" "$t-hold" $((HOLD_SECS + 150)) --mode hold --conns "$HOLD_CONNS" \
    --duration "$HOLD_SECS" --connect-timeout 120
  f="$WORK/$t-hold.out"
  R[$t.held]=$(field "$f" hold held)
  R[$t.failed]=$(field "$f" hold failed)
  R[$t.connect_s]=$(field "$f" hold connect_s)
  R[$t.conn_p99]=$(field "$f" hold conn_p99_ms)
  R[$t.hold_disc]=$(field "$f" hold disconnects)
  R[$t.pings]=$(field "$f" hold pings)
  R[$t.rss0]=$(field "$f" hold rss_before_kb)
  R[$t.rss1]=$(field "$f" hold rss_after_kb)
  R[$t.bpc]=$(field "$f" hold bytes_per_conn)
  if [[ ${R[$t.held]} == n/a || ${R[$t.held]} == 0 ]]; then
    log "$t: no connection held:"
    grep -h 'first error' "$f" >&2 || tail -n 5 "$WORK/$t-hold.err" >&2 || true
    R[$t.broken]=1
  fi
  stop_server
done

# ---------------------------------------------------------------- fan-out

# A round during which other processes used more than QUIET_CPU % of one core (the machine
# is shared) is shown, marked *, but left out of the medians, and another round is run, up
# to MAX_ROUNDS per target. If no round was quiet, the medians use all of them.
declare -A QUIET
for ((round = 1; round <= MAX_ROUNDS; round++)); do
  more=0
  for t in $TARGETS; do
    [[ -z ${R[$t.broken]:-} ]] || continue
    ((${QUIET[$t]:-0} < ROUNDS)) || continue
    more=1
    start_server "$t" "$t-fanout-r$round"
    run_wsload "$t" "$t-fanout-r$round" $((WARMUP + FANOUT_SECS + 120)) --mode fanout \
      --conns "$FANOUT_SUBS" --publish-rate "$FANOUT_RATE" --duration "$FANOUT_SECS" \
      --warmup "$WARMUP" --publishers "$PUBLISHERS" --pipeline "$PIPELINE" \
      --publish-url "http://$HOST:$SERVER_PORT/api/v1/notes"
    stop_server
    f="$WORK/$t-fanout-r$round.out"
    other=$(field "$f" fanout other_cpu)
    noisy=$(awk -v o="$other" -v q="$QUIET_CPU" 'BEGIN { print (o ~ /^[0-9.]+$/ && o > q) ? 1 : 0 }')
    mark=
    if ((noisy)); then mark='*'; fi
    R[$t.rounds]+="$(field "$f" fanout p99_ms) ($other)$mark;"
    if ((noisy)); then
      log "$t-fanout-r$round: other processes used $other % of a core: noisy, not counted"
      pfx=noisy
    else
      QUIET[$t]=$((${QUIET[$t]:-0} + 1))
      pfx=fan
    fi
    for k in received p50_ms p99_ms max_ms lost errors srv_cpu gen_cpu other_cpu post_p99_ms \
      first_p99_ms; do
      R[$t.$pfx.$k]+="$(field "$f" fanout "$k") "
    done
    for k in gaps reorders disconnects; do
      R[$t.$pfx.$k]+="$(field "$f" fanout-checks "$k") "
    done
  done
  ((more)) || break
done
for t in $TARGETS; do
  if [[ -z ${R[$t.broken]:-} && -z ${R[$t.fan.p99_ms]:-} ]]; then
    R[$t.all_noisy]=1
    for k in received p50_ms p99_ms max_ms lost errors srv_cpu gen_cpu other_cpu post_p99_ms \
      first_p99_ms gaps reorders disconnects; do
      R[$t.fan.$k]=${R[$t.noisy.$k]:-}
    done
  fi
done

# ---------------------------------------------------------------- saturation

for t in $TARGETS; do
  [[ -z ${R[$t.broken]:-} ]] || continue
  start_server "$t" "$t-saturate"
  n_steps=$(tr ',' '\n' <<<"$SAT_RATES" | grep -c .)
  THREADS=$SAT_THREADS run_wsload "$t" "$t-saturate" $((WARMUP + n_steps * SAT_STEP + 150)) --mode saturate \
    --conns "$SAT_SUBS" --rates "$SAT_RATES" --step-duration "$SAT_STEP" --warmup "$WARMUP" \
    --publishers "$PUBLISHERS" --pipeline "$PIPELINE" \
    --publish-url "http://$HOST:$SERVER_PORT/api/v1/notes"
  f="$WORK/$t-saturate.out"
  R[$t.ceil]=$(field "$f" ceiling received)
  R[$t.ceil_rate]=$(field "$f" ceiling rate)
  R[$t.ceil_p99]=$(field "$f" ceiling p99_ms)
  step=$(field "$f" ceiling step)
  R[$t.ceil_gen]=$(awk -v s="step=$step" '$1 == "RESULT" && $2 == "mode=saturate" && $4 == s {
      for (i = 5; i <= NF; i++) { split($i, a, "="); if (a[1] == "gen_cpu") print a[2] } }' "$f")
  R[$t.ceil_srv]=$(awk -v s="step=$step" '$1 == "RESULT" && $2 == "mode=saturate" && $4 == s {
      for (i = 5; i <= NF; i++) { split($i, a, "="); if (a[1] == "srv_cpu") print a[2] } }' "$f")
  R[$t.ceil_other]=$(awk -v s="step=$step" '$1 == "RESULT" && $2 == "mode=saturate" && $4 == s {
      for (i = 5; i <= NF; i++) { split($i, a, "="); if (a[1] == "other_cpu") print a[2] } }' "$f")
  stop_server
done

T_END=$(date +%s)
for t in $TARGETS; do
  R[$t.logwarn]=$(cat "$WORK/$t"-*.log 2>/dev/null | grep -c -e '"level":"warn"' -e '"level":"error"' -e 'does not keep up' || true)
done

# ---------------------------------------------------------------- report

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
build_type=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
sio_version=$(node -p 'require(process.argv[1] + "/node_modules/socket.io/package.json").version' \
  "$REPO_DIR" 2>/dev/null || echo "?")

# v TARGET KEY: one value, or the median of the rounds
v() {
  local s=${R[$1.$2]:-n/a}
  # shellcheck disable=SC2086 # the rounds' values are space-separated on purpose
  if [[ $s == *" "* ]]; then median %s $s; else echo "$s"; fi
}
cell() { if [[ " $TARGETS " == *" $1 "* && -z ${R[$1.broken]:-} ]]; then fmt "$(v "$1" "$2")" "$3"; else echo "–"; fi; }
# rounds TARGET: "p99 (other CPU)" of each fan-out round, * for a noisy one
rounds() {
  local r=${R[$1.rounds]:-–}
  r=${r%;}
  echo "${r//;/ / }"
}
kb() { awk -v b="$1" 'BEGIN { if (b !~ /^-?[0-9.]+$/) print "n/a"; else printf "%.1f KB", b / 1000 }'; }

C=cairn S=socketio
cat <<EOF
### Realtime benchmark $(date -u +%Y-%m-%d) — \`$git_rev\`

- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); run took $((T_END - T_START)) s
- Git: \`$git_rev\`, build type: ${build_type:-unknown}
- CPU: ${cpu_model:-unknown}, nproc: $(nproc) — shared by the server and the load generator
- Kernel: $(uname -srm); load average at start ${LOAD_START}, at end $(cut -d' ' -f1-3 /proc/loadavg)
- Cairn: \`cairn serve --listen 127.0.0.1:0\` (default loop threads), fresh server per scenario;
  Socket.IO $sio_version on node $(node --version 2>/dev/null || echo "?") (\`bench/socketio/server.mjs\`, websocket transport)
- Client: \`wsload\` (bench/wsload.c), $THREADS subscriber thread(s) ($SAT_THREADS for the ceiling) + the publisher thread;
  publishes are \`POST /api/v1/notes\` over $PUBLISHERS keep-alive connection(s), pipeline $PIPELINE, on both servers

| | Cairn | Socket.IO | Socket.IO / Cairn |
|---|---:|---:|---:|
| idle connections held (asked $HOLD_CONNS) | $(cell $C held %d) | $(cell $S held %d) | |
| time to open + subscribe them | $(cell $C connect_s "%.1f s") | $(cell $S connect_s "%.1f s") | $(ratio "$(v $S connect_s)" "$(v $C connect_s)") |
| server RSS per idle connection | $(kb "$(v $C bpc)") | $(kb "$(v $S bpc)") | $(ratio "$(v $S bpc)" "$(v $C bpc)") |
| server RSS before → after (KiB) | $(v $C rss0) → $(v $C rss1) | $(v $S rss0) → $(v $S rss1) | |
| — disconnects while idle / server pings answered | $(v $C hold_disc) / $(v $C pings) | $(v $S hold_disc) / $(v $S pings) | |
| fan-out $FANOUT_SUBS subs × $FANOUT_RATE/s: deliveries/s | $(cell $C fan.received %.0f) | $(cell $S fan.received %.0f) | |
| — p50 publish → delivery | $(cell $C fan.p50_ms "%.2f ms") | $(cell $S fan.p50_ms "%.2f ms") | $(ratio "$(v $S fan.p50_ms)" "$(v $C fan.p50_ms)") |
| — p99 | $(cell $C fan.p99_ms "%.2f ms") | $(cell $S fan.p99_ms "%.2f ms") | $(ratio "$(v $S fan.p99_ms)" "$(v $C fan.p99_ms)") |
| — max | $(cell $C fan.max_ms "%.2f ms") | $(cell $S fan.max_ms "%.2f ms") | |
| — p99 of the POST answer | $(cell $C fan.post_p99_ms "%.2f ms") | $(cell $S fan.post_p99_ms "%.2f ms") | |
| — lost / gaps / reorders / disconnects | $(v $C fan.lost) / $(v $C fan.gaps) / $(v $C fan.reorders) / $(v $C fan.disconnects) | $(v $S fan.lost) / $(v $S fan.gaps) / $(v $S fan.reorders) / $(v $S fan.disconnects) | |
| — p99 of each round (other processes' CPU, % of one core) | $(rounds $C) | $(rounds $S) | |
| — server / generator / other CPU (% of one core) | $(cell $C fan.srv_cpu %.0f) / $(cell $C fan.gen_cpu %.0f) / $(cell $C fan.other_cpu %.0f) | $(cell $S fan.srv_cpu %.0f) / $(cell $S fan.gen_cpu %.0f) / $(cell $S fan.other_cpu %.0f) | |
| fan-out ceiling: most deliveries/s in a step without loss | $(cell $C ceil %.0f) | $(cell $S ceil %.0f) | $(ratio "$(v $C ceil)" "$(v $S ceil)") (Cairn / Socket.IO) |
| — at publishes/s, p99 | $(v $C ceil_rate), $(cell $C ceil_p99 "%.1f ms") | $(v $S ceil_rate), $(cell $S ceil_p99 "%.1f ms") | |
| — server / generator / other CPU at that step | $(v $C ceil_srv) / $(v $C ceil_gen) / $(v $C ceil_other) | $(v $S ceil_srv) / $(v $S ceil_gen) / $(v $S ceil_other) | |
| server log lines at warn/error or "does not keep up", all scenarios | $(v $C logwarn) | $(v $S logwarn) | |

Fan-out values are medians of the quiet rounds (other processes below $QUIET_CPU % of a core;
rounds interleaved between the servers). Per-run output of the load generator:

EOF
for f in "$WORK"/*-fanout-r*.out "$WORK"/*-saturate.out; do
  [[ -s $f ]] || continue
  echo "\`$(basename "$f" .out)\`:"
  echo
  echo '```'
  grep -v '^RESULT' "$f" | grep -v '^wsload ' || true
  echo '```'
  echo
done
for t in $TARGETS; do
  [[ -n ${R[$t.all_noisy]:-} ]] && echo "_$t: no fan-out round was quiet; its medians use the noisy rounds._" && echo
  [[ -n ${R[$t.broken]:-} ]] && echo "_$t: no connection could be held; see the hold output: $(grep -h 'first error' "$WORK/$t-hold.out" 2>/dev/null | head -n 1)_"
done
exit 0
