#!/usr/bin/env bash
# Realtime fan-out across the nodes of a cluster, beside one node: publish on node 1,
# SUBS subscribers of one channel spread evenly over the nodes (each connected to its
# node's own URL, not through HAProxy, so the spread is exact), and count every delivery.
# Prints a Markdown block for bench/RESULTS.md on stdout; progress on stderr.
#
#   make build && bash bench/fanout_cluster.sh > /tmp/fanout.md
#
# Two setups, both started once with scripts/cluster (each its own PostgreSQL 15 on
# loopback) and kept up for the whole run:
#   one     `scripts/cluster up --nodes 1 --no-nats`: one node on PostgreSQL, no bus
#   three   `scripts/cluster up` (three nodes, NATS): subscribers on nodes 1, 2, 3 in turn
# Then ROUNDS rounds, the two setups interleaved (their order swapped every round): wsload
# connects SUBS subscribers, publishes `POST /api/v1/notes` on node 1 at RATE/s for WARMUP
# s (unmeasured) and SECS s (measured), and waits up to DRAIN s for the last deliveries.
# Reported, medians of the rounds: publish -> delivery p50/p99, deliveries/s, and per
# node of the cluster its own p50/p99. Every subscriber must receive every acknowledged
# publish, warm-up included: a lost event, a failed publish, a seq gap or reorder, or a
# subscriber that did not connect or dropped is printed loudly, and the script exits 1.
#
# Knobs (environment): BUILD=build SUBS=1000 RATE=50 SECS=15 WARMUP=3 DRAIN=5 ROUNDS=3
# THREADS=2 (wsload subscriber threads) PUBLISHERS=4 PIPELINE=32 (as bench/realtime.sh).
# CPU is read from /proc: "cairn" = the nodes, "pg+nats" = the PostgreSQL server processes
# and the NATS server, "other" = the rest of the machine (the noise of a shared box).
# Everything binds and connects to 127.0.0.1 only; each load run is bounded by `timeout`.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SUBS=${SUBS:-1000}
RATE=${RATE:-50}
SECS=${SECS:-15}
WARMUP=${WARMUP:-3}
DRAIN=${DRAIN:-5}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
PUBLISHERS=${PUBLISHERS:-4}
PIPELINE=${PIPELINE:-32}
TOKEN=bench-token
SETUPS="one three"

CLUSTER="$REPO_DIR/scripts/cluster"
WSLOAD="$BUILD/wsload"

log() { printf '[fanout] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[[ -x $WSLOAD ]] || die "$WSLOAD not found (cmake --build $BUILD --target wsload)"
[[ -x $BUILD/cairn ]] || die "$BUILD/cairn not found (make build)"
for n in ROUNDS SUBS SECS WARMUP DRAIN THREADS PUBLISHERS PIPELINE; do
  [[ ${!n} =~ ^[0-9]+$ ]] || die "$n must be a whole number"
done
((SUBS >= 3 && ROUNDS >= 1 && SECS >= 1)) || die "SUBS >= 3, ROUNDS >= 1, SECS >= 1"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -n) > SUBS + 100)) || die "ulimit -n is $(ulimit -n): too low for $SUBS connections"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fanout.XXXXXX")
chmod 711 "$WORK" # the postgres user passes through to DIR/pg when this runs as root

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local rc=$? s
  for s in $SETUPS; do
    [[ -f $WORK/$s/nodes ]] || continue
    "$CLUSTER" down "$WORK/$s" >/dev/null 2>&1 || log "scripts/cluster down $WORK/$s failed"
    if ((rc != 0)); then
      tail -n 15 "$WORK/$s"/node*/cairn.log 2>/dev/null | sed "s/^/    $s: /" >&2 || true
    fi
    [[ -f $WORK/$s/pg_dir ]] && rm -rf "$(cat "$WORK/$s/pg_dir")"
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The nodes inherit this environment (scripts/cluster passes CAIRN_* on). One client
# address and one credential make all the load: lift the per-client rate limits and the
# realtime connection caps above it; no access log.
caps=$((SUBS + 100))
export CAIRN_BOOTSTRAP_TOKEN=$TOKEN CAIRN_RATE_IP_PER_MIN=10000000 \
  CAIRN_RATE_USER_PER_MIN=10000000 CAIRN_ACCESS_LOG=false \
  CAIRN_REALTIME_MAX_PER_PRINCIPAL=$caps CAIRN_REALTIME_MAX_PER_TENANT=$caps \
  CAIRN_REALTIME_MAX_CONNECTIONS=$caps CAIRN_BIN="$BUILD/cairn"

declare -A URL PID # URL[setup.N], PID[setup.N]

# start SETUP ARGS...: scripts/cluster up WORK/SETUP ARGS; reads the nodes' URLs and pids
start() {
  local s=$1
  shift
  log "$s: scripts/cluster up $* (load $(cut -d' ' -f1-3 /proc/loadavg))"
  "$CLUSTER" up "$WORK/$s" "$@" >"$WORK/$s.up" 2>"$WORK/$s.up.err" ||
    die "scripts/cluster up $s failed: $(tail -n 5 "$WORK/$s.up.err")"
  local n url pid
  while read -r _ n url _ pid; do
    URL[$s.$n]=$url
    PID[$s.$n]=$pid
  done < <(grep '^node [0-9]* http://127.0.0.1:[0-9]* pid [0-9]*$' "$WORK/$s.up")
  [[ -n ${URL[$s.1]:-} ]] || die "$s: no node line in $WORK/$s.up"
}

# aux_pids SETUP: the PostgreSQL server (postmaster and its children: the nodes' backends
# are connected by now) and the NATS server of SETUP, one per line
aux_pids() {
  local d=$WORK/$1 pgd pm
  pgd=$(cat "$d/pg_dir" 2>/dev/null || echo "$d/pg")
  pm=$(head -n 1 "$pgd/data/postmaster.pid" 2>/dev/null || head -n 1 "$pgd/postmaster.pid" 2>/dev/null || true)
  if [[ -n $pm ]]; then
    echo "$pm"
    ps -o pid= --ppid "$pm" | tr -d ' '
  fi
  cat "$d/nats.pid" 2>/dev/null || true
}

nodes_of() { cat "$WORK/$1/nodes"; }

# run SETUP ROUND: one fan-out run; wsload's output in WORK/SETUP-rROUND.out
run() {
  local s=$1 r=$2 n args=()
  for ((n = 1; n <= $(nodes_of "$s"); n++)); do
    args+=(--url "ws${URL[$s.$n]#http}/api/v1/realtime" --server-pid "${PID[$s.$n]}")
  done
  local p
  for p in $(aux_pids "$s"); do args+=(--aux-pid "$p"); done
  log "$s round $r: load $(cut -d' ' -f1-3 /proc/loadavg)"
  timeout --signal=INT --kill-after=10 $((WARMUP + SECS + DRAIN + 120)) "$WSLOAD" \
    --mode fanout --token "$TOKEN" --conns "$SUBS" --threads "$THREADS" \
    --publish-url "${URL[$s.1]}/api/v1/notes" --publish-rate "$RATE" --duration "$SECS" \
    --warmup "$WARMUP" --drain "$DRAIN" --publishers "$PUBLISHERS" --pipeline "$PIPELINE" \
    "${args[@]}" >"$WORK/$s-r$r.out" 2>"$WORK/$s-r$r.err" || true
  grep -v '^RESULT' "$WORK/$s-r$r.out" | sed 's/^/    /' >&2 || true
  grep -i 'error\|lost\|timeout' "$WORK/$s-r$r.err" | head -n 5 | sed 's/^/    /' >&2 || true
}

# field FILE MODE KEY [TARGET]: KEY on the first "RESULT mode=MODE" line (of target=TARGET)
field() {
  awk -v m="mode=$2" -v k="$3" -v t="${4:-}" '$1 == "RESULT" && $2 == m {
      if (t != "" && $0 !~ (" target=" t " ")) next
      for (i = 3; i <= NF; i++) { split($i, a, "="); if (a[1] == k) { print a[2]; found = 1; exit } } }
    END { if (!found) print "n/a" }' "$1" 2>/dev/null || echo n/a
}

# warm_field FILE COLUMN: a column of the warm-up row of wsload's step table
warm_field() { awk -v c="$2" '$1 == "warm" { print $c; exit }' "$1" 2>/dev/null; }

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v !~ /^-?[0-9.]+$/) print "n/a"; else printf f, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0) print "n/a"; else printf "%.2f×", a / b }'; }

declare -A R       # R[setup.key]: space-separated values of the rounds
declare -a FAILS=() # one line per failed check

# collect SETUP ROUND: the numbers of a run, and its checks
collect() {
  local s=$1 r=$2 f="$WORK/$1-r$2.out" k v
  for k in received p50_ms p99_ms max_ms lost dups errors acked srv_cpu aux_cpu gen_cpu \
    other_cpu post_p99_ms first_p99_ms last_p99_ms subs; do
    R[$s.$k]+="$(field "$f" fanout "$k") "
  done
  for k in gaps reorders disconnects resyncs; do
    R[$s.$k]+="$(field "$f" fanout-checks "$k") "
  done
  local n
  for ((n = 1; n <= $(nodes_of "$s"); n++)); do
    for k in p50_ms p99_ms lost subs; do
      R[$s.n$n.$k]+="$(field "$f" target "$k" "$n") "
    done
  done
  # columns of the step table: 9 acked, 10 errs, 11 lost, 12 dups
  local wlost werr subs
  wlost=$(warm_field "$f" 11)
  werr=$(warm_field "$f" 10)
  # the warm-up's losses and failed publishes count too
  R[$s.lost_all]+="$(awk -v a="$(field "$f" fanout lost)" -v b="${wlost:-x}" \
    'BEGIN { print (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) ? a + b : "n/a" }') "
  R[$s.errors_all]+="$(awk -v a="$(field "$f" fanout errors)" -v b="${werr:-x}" \
    'BEGIN { print (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) ? a + b : "n/a" }') "
  subs=$(field "$f" fanout subs)
  local -a bad=()
  [[ $subs == "$SUBS" ]] || bad+=("subscribers $subs of $SUBS")
  for k in lost errors gaps reorders disconnects; do
    v=$(field "$f" fanout "$k")
    [[ $v == n/a ]] && v=$(field "$f" fanout-checks "$k")
    [[ $v == 0 ]] || bad+=("$k $v")
  done
  [[ ${wlost:-n/a} == 0 ]] || bad+=("lost in the warm-up ${wlost:-n/a}")
  [[ ${werr:-n/a} == 0 ]] || bad+=("failed publishes in the warm-up ${werr:-n/a}")
  if ((${#bad[@]})); then
    FAILS+=("$s round $r: ${bad[*]}")
    log "!!!!!!!! $s round $r: EVENTS LOST OR RUN BROKEN: ${bad[*]} !!!!!!!!"
  fi
}

# ---------------------------------------------------------------- the run

T_START=$(date +%s)
git_rev=$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo unknown)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

start one --nodes 1 --no-nats
start three
declare -a ROUND_LOAD=()
for ((round = 1; round <= ROUNDS; round++)); do
  order=$SETUPS
  ((round % 2)) || order="three one"
  ROUND_LOAD+=("$(cut -d' ' -f1 /proc/loadavg)")
  for s in $order; do
    run "$s" "$round"
    collect "$s" "$round"
  done
done
T_END=$(date +%s)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
for s in $SETUPS; do
  R[$s.logwarn]=$(cat "$WORK/$s"/node*/cairn.log 2>/dev/null |
    grep -c -e '"level":"warn"' -e '"level":"error"' -e 'does not keep up' || true)
done

# ---------------------------------------------------------------- report

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
build_type=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
pg_version=$("${PGBIN:-/usr/lib/postgresql/15/bin}/postgres" --version 2>/dev/null || echo "postgres ?")
nats_version=$(nats-server --version 2>/dev/null || echo "?")

# v SETUP KEY: the median of the rounds
v() {
  # shellcheck disable=SC2086 # the rounds' values are space-separated on purpose
  median %s ${R[$1.$2]:-n/a}
}
c() { fmt "$(v "$1" "$2")" "$3"; }
# each SETUP KEY: the rounds' values, " / "-separated
each() {
  local x=${R[$1.$2]:-}
  x=${x% }
  echo "${x// / / }"
}
# sum of the rounds' values
total() {
  # shellcheck disable=SC2086 # the rounds' values are space-separated on purpose
  printf '%s\n' ${R[$1.$2]:-} | awk '/^[0-9]+$/ { s += $1; ok = 1 } !/^[0-9]+$/ { bad = 1 }
    END { print (ok && !bad) ? s : "n/a" }'
}

cat <<EOF
### Realtime fan-out across three nodes $(date -u +%Y-%m-%d) — \`$git_rev\`

- Command: \`SUBS=$SUBS RATE=$RATE SECS=$SECS WARMUP=$WARMUP DRAIN=$DRAIN ROUNDS=$ROUNDS THREADS=$THREADS PUBLISHERS=$PUBLISHERS PIPELINE=$PIPELINE bash bench/fanout_cluster.sh\`
- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); run took $((T_END - T_START)) s; git \`$git_rev\`, build type ${build_type:-unknown}
- Machine: ${cpu_model:-unknown}, nproc $(nproc) — shared by every node, PostgreSQL, NATS and the load generator; $(uname -srm)
- Load average at start ${LOAD_START}, at end ${LOAD_END}; 1-min load at each round's start: ${ROUND_LOAD[*]}
- ${pg_version}; ${nats_version}; each setup its own PostgreSQL (\`scripts/cluster\`, fsync on)
- One node: \`scripts/cluster up DIR --nodes 1 --no-nats\`. Three nodes: \`scripts/cluster up DIR\`
  (NATS bus). Subscribers connect to each node's own URL (connection i to node i mod 3);
  every publish is \`POST /api/v1/notes\` on node 1 ($PUBLISHERS keep-alive connections, pipeline $PIPELINE)
- Load: \`wsload --mode fanout\`, $SUBS subscribers of \`notes\`, $RATE publishes/s, ${WARMUP} s warm-up then ${SECS} s measured, $THREADS subscriber threads; $ROUNDS rounds interleaved (order swapped each round)

| | one node | three nodes | three / one |
|---|---:|---:|---:|
| deliveries/s (offered $((SUBS * RATE))/s) | $(c one received %.0f) | $(c three received %.0f) | $(ratio "$(v three received)" "$(v one received)") |
| publish → delivery p50 | $(c one p50_ms "%.2f ms") | $(c three p50_ms "%.2f ms") | $(ratio "$(v three p50_ms)" "$(v one p50_ms)") |
| — p99 | $(c one p99_ms "%.2f ms") | $(c three p99_ms "%.2f ms") | $(ratio "$(v three p99_ms)" "$(v one p99_ms)") |
| — max | $(c one max_ms "%.2f ms") | $(c three max_ms "%.2f ms") | |
| — p99 of each round | $(each one p99_ms) | $(each three p99_ms) | |
| first delivery of a publish, p99 | $(c one first_p99_ms "%.2f ms") | $(c three first_p99_ms "%.2f ms") | |
| last delivery of a publish, p99 | $(c one last_p99_ms "%.2f ms") | $(c three last_p99_ms "%.2f ms") | |
| POST answer p99 | $(c one post_p99_ms "%.2f ms") | $(c three post_p99_ms "%.2f ms") | |
| node 1 (publisher's node): p50 / p99 | – | $(c three n1.p50_ms "%.2f") / $(c three n1.p99_ms "%.2f ms") | |
| node 2: p50 / p99 | – | $(c three n2.p50_ms "%.2f") / $(c three n2.p99_ms "%.2f ms") | |
| node 3: p50 / p99 | – | $(c three n3.p50_ms "%.2f") / $(c three n3.p99_ms "%.2f ms") | |
| subscribers per node | $(v one subs) | $(v three n1.subs) / $(v three n2.subs) / $(v three n3.subs) | |
| acknowledged publishes, all rounds (measured part) | $(total one acked) | $(total three acked) | |
| **lost** deliveries / failed publishes, all rounds | $(total one lost_all) / $(total one errors_all) | $(total three lost_all) / $(total three errors_all) | |
| duplicates / seq gaps / reorders / disconnects / resync_required | $(total one dups) / $(total one gaps) / $(total one reorders) / $(total one disconnects) / $(total one resyncs) | $(total three dups) / $(total three gaps) / $(total three reorders) / $(total three disconnects) / $(total three resyncs) | |
| CPU, % of one core: cairn / pg+nats / wsload / other | $(c one srv_cpu %.0f) / $(c one aux_cpu %.0f) / $(c one gen_cpu %.0f) / $(c one other_cpu %.0f) | $(c three srv_cpu %.0f) / $(c three aux_cpu %.0f) / $(c three gen_cpu %.0f) / $(c three other_cpu %.0f) | |
| — other of each round | $(each one other_cpu) | $(each three other_cpu) | |
| node log lines at warn/error or "does not keep up" | ${R[one.logwarn]} | ${R[three.logwarn]} | |

Values are medians of the rounds; "lost" counts, over all rounds and the warm-up too, each
acknowledged publish a subscriber never received (wsload counts every delivery of every
publish).

EOF
if ((${#FAILS[@]})); then
  echo "**FAILED: events lost or a run broken:**"
  echo
  printf -- '- %s\n' "${FAILS[@]}"
  echo
fi
echo "Per-run output of the load generator:"
echo
for ((round = 1; round <= ROUNDS; round++)); do
  for s in $SETUPS; do
    f="$WORK/$s-r$round.out"
    [[ -s $f ]] || continue
    echo "\`$s round $round\`:"
    echo
    echo '```'
    grep -v '^RESULT' "$f" | grep -v '^wsload ' || true
    echo '```'
    echo
  done
done
if ((${#FAILS[@]})); then
  log "!!!!!!!! FAILED: ${#FAILS[@]} run(s) lost events or broke: ${FAILS[*]} !!!!!!!!"
  exit 1
fi
exit 0
