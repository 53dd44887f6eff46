#!/usr/bin/env bash
# Customer-insights benchmark: batch and single ingest, the analysis (VADER) throughput,
# and the read side (filtered lists, sentiment trends, search) on a loaded dataset, with
# the bare h2o server (bench-hello) as the same-run baseline. Prints a report on stdout;
# progress goes to stderr.
#
#   cmake --build build --target cairn bench-hello
#   bash bench/insights.sh | tee /tmp/insights.md    # defaults (1 M rows): 7.5-9 minutes here
#   N=200000 bash bench/insights.sh                  # a smaller dataset, ~5 minutes
#
# Phases (each Cairn phase on a fresh data dir, bootstrap token bench-token, per-client
# rate limits lifted, everything on 127.0.0.1):
#   1. hello          wrk -t1 -c64 -d$DURATION --latency against bench-hello (also at the end)
#   2. batch ingest   bench/insights_load.c (compiled here with cc): batches of $BATCH
#                     fresh, varied items over $INGEST_CONNS keep-alive connections, for
#                     $INGEST_S seconds (at most $INGEST_MAX items): CAIRN_JOBS_WORKERS=0 (no
#                     analysis) with live timestamps (last $TS_MINUTES minutes), the same with
#                     backfill timestamps (last 120 days), and the default workers with live
#                     timestamps; after the last, the time until every interaction is analysed
#                     (cairn_jobs queue empty and the rollups' analysed = interactions)
#   3. single ingest  wrk -t1 -c$SINGLE_CONNS -d$SINGLE_S --latency -s bench/ingest_one.lua
#                     (5 000 pre-made bodies, live timestamps), default workers, then
#                     CAIRN_JOBS_WORKERS=0
#   4. dataset        $N interactions over the last 120 days loaded with the batch
#                     generator with CAIRN_JOBS_WORKERS=0 (load time = pure ingest); the
#                     server is then restarted with the default workers and the analysis of
#                     all N is timed; then the pattern jobs it scheduled are waited for (so
#                     nothing invalidates the cache during the reads), and $SEG_CUSTOMERS
#                     customers get a segment (PUT /api/v1/customers/{id})
#   5. reads          wrk -t1 -c$QUERY_CONNS -d$QUERY_S -s bench/insights_query.lua for
#                     list_email, list_customer, list_segment, trends (90 days, by day,
#                     Europe/Paris) and search; VARY=1 (a different `to` per request, or for
#                     search a different q/limit: every request misses the cache) then VARY=0
#                     (fixed parameters, each distinct request sent once with curl first:
#                     cache hits). Hit/miss counts from the server's /metrics are reported
#                     per run.
#
# Knobs (environment): BUILD=build N=1000000 BATCH=1000 INGEST_CONNS=4 INGEST_S=20
#   INGEST_MAX=2000000 SINGLE_CONNS=64 SINGLE_S=15 QUERY_CONNS=4 QUERY_S=10 DURATION=10
#   TS_MINUTES=10 LOAD_MAX_S=900 DRAIN_MAX_S=900 PATTERNS_MAX_S=150 SEG_CUSTOMERS=100 CUSTOMERS=1000
#   HELLO_PORT=8096 CAIRN_PORT=8097 KEEP_DATA=0 (1: leave the dataset's data dir in place)
#   PHASES="ingest single dataset reads" (hello always runs; "reads" needs "dataset")
#   REUSE_DATA=<dir>: the dataset phase skips the load and uses that data dir (e.g. one
#   kept with KEEP_DATA=1; it is never deleted), waiting for its analysis to finish first
# Every load is bounded in count and time; every wait is bounded.
#
# CPU columns: the machine has 2 cores and other work on it; "server cpu" is the Cairn
# process's user+system time over the phase (100 % = one core), "machine busy" is all
# CPUs from /proc/stat (200 % = both cores), so "other" work = busy - server - generator.
# "µs CPU/item" = server CPU time / items: the figure least affected by the noise.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${N:-1000000}
BATCH=${BATCH:-1000}
INGEST_CONNS=${INGEST_CONNS:-4}
INGEST_S=${INGEST_S:-20}
INGEST_MAX=${INGEST_MAX:-2000000}
SINGLE_CONNS=${SINGLE_CONNS:-64}
SINGLE_S=${SINGLE_S:-15}
QUERY_CONNS=${QUERY_CONNS:-4}
QUERY_S=${QUERY_S:-10}
DURATION=${DURATION:-10}
LOAD_MAX_S=${LOAD_MAX_S:-900}
DRAIN_MAX_S=${DRAIN_MAX_S:-900}
PATTERNS_MAX_S=${PATTERNS_MAX_S:-150}
SEG_CUSTOMERS=${SEG_CUSTOMERS:-100}
CUSTOMERS=${CUSTOMERS:-1000}
HELLO_PORT=${HELLO_PORT:-8096}
CAIRN_PORT=${CAIRN_PORT:-8097}
KEEP_DATA=${KEEP_DATA:-0}
REUSE_DATA=${REUSE_DATA:-}
TS_MINUTES=${TS_MINUTES:-10}
PHASES=${PHASES:-ingest single dataset reads}
HOST=127.0.0.1
TOKEN=bench-token
U=http://$HOST:$CAIRN_PORT

log() { printf '[insights] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v wrk >/dev/null || die "wrk not found"
command -v curl >/dev/null || die "curl not found"
command -v cc >/dev/null || die "cc not found"
[[ -x $BUILD/cairn ]] || die "$BUILD/cairn not found (cmake --build $BUILD --target cairn)"
[[ -x $BUILD/bench-hello ]] || die "$BUILD/bench-hello not found (cmake --build $BUILD --target bench-hello)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-insights.XXXXXX")
DATA=
SERVER_PID=
HELLO_PID=

cleanup() {
  local rc=$?
  stop_pid "$SERVER_PID"
  stop_pid "$HELLO_PID"
  ((rc == 0)) || show_logs "$WORK" 15
  if [[ -n $DATA && $KEEP_DATA != 1 && $DATA != "$REUSE_DATA" ]]; then rm -rf "$DATA"; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
iso() { date -u -d "@$(($1 / 1000))" +%Y-%m-%dT%H:%M:%S.000Z; }

# ---------------------------------------------------------------- CPU accounting

# "<pid ticks> <busy ticks> <total ticks>" (clock ticks, all CPUs)
cpu_snap() {
  local pid=${1:-} p=0
  [[ -n $pid && -r /proc/$pid/stat ]] && p=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
  awk -v p="$p" '$1 == "cpu" { idle = $5 + $6; t = 0; for (i = 2; i <= 9; i++) t += $i; print p, t - idle, t; exit }' /proc/stat
}
# cpu_report "<snap before>" "<snap after>" SECONDS -> "server X %, machine busy Y %"
cpu_report() {
  local hz
  hz=$(getconf CLK_TCK)
  awk -v a="$1" -v b="$2" -v s="$3" -v hz="$hz" -v n="$(nproc)" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    srv = (y[1] - x[1]) / hz; busy = (y[2] - x[2]) / (y[3] - x[3]) * 100 * n
    printf "server cpu %.0f %% of a core (%.1f s), machine busy %.0f %% of %d00 %%", srv / s * 100, srv, busy, n }'
}
srv_cpu_s() { awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.2f", (y[1] - x[1]) / hz }'; }

# ---------------------------------------------------------------- servers

wait_listening() { # LOGFILE PID
  for _ in $(seq 200); do
    grep -q "listening on http://" "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || die "$(basename "$1") exited during start-up"
    sleep 0.05 || true
  done
  die "$(basename "$1"): not listening after 10 s"
}

# start_cairn NAME WORKERS(""=default) [fresh|reuse]
start_cairn() {
  local name=$1 workers=$2 mode=${3:-fresh}
  if [[ $mode == fresh ]]; then
    if [[ -n $DATA && $DATA != "$REUSE_DATA" ]]; then rm -rf "$DATA"; fi
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/cairn-insights-data.XXXXXX")
  fi
  curl -s -o /dev/null --max-time 1 "$U/" 2>/dev/null && die "something already answers on $U"
  local env=("CAIRN_BOOTSTRAP_TOKEN=$TOKEN" CAIRN_RATE_IP_PER_MIN=10000000 CAIRN_RATE_USER_PER_MIN=10000000)
  [[ -n $workers ]] && env+=("CAIRN_JOBS_WORKERS=$workers")
  : >"$WORK/$name.log"
  env "${env[@]}" "$BUILD/cairn" serve --listen "$HOST:$CAIRN_PORT" --data "$DATA" >>"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  wait_listening "$WORK/$name.log" "$SERVER_PID"
  log "cairn ($name, jobs.workers=${workers:-default}) pid $SERVER_PID, data $DATA"
}
stop_cairn() { stop_pid "$SERVER_PID"; SERVER_PID=; }

metric() { # NAME-REGEX -> value from /metrics (sum of matching lines)
  { curl -s --max-time 10 "$U/metrics" || true; } | awk -v re="$1" '$1 ~ re { s += $2 } END { printf "%d", s }'
}
jobs_pending() { # insights.analyse or insights.patterns queued + running ("?" when unreadable)
  { curl -s --max-time 10 "$U/metrics" || true; } |
    awk -v n="$1" 'index($1, "cairn_jobs{name=\"" n "\",state=\"queued\"}") == 1 || index($1, "cairn_jobs{name=\"" n "\",state=\"running\"}") == 1 { s += $2; n++ } END { if (n) printf "%d", s; else printf "?" }'
}
# "<interactions> <analysed>" from the rollups (trends by month over the last 130 days)
analysed_counts() {
  local to from
  to=$(iso $(($(now_ms) + 600000)))
  from=$(iso $(($(now_ms) - 130 * 86400000)))
  { curl -s --max-time 30 -H "Authorization: Bearer $TOKEN" \
    "$U/api/v1/insights/sentiment-trends?from=$from&to=$to&group_by=month" || true; } |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let a=0,b=0;try{for(const x of JSON.parse(s).buckets){a+=x.interactions;b+=x.analysed}}catch(e){a=0;b=-1}console.log(a+" "+b)})' ||
    echo "0 -1"
}

# wait_analysed MAX_S -> prints "<seconds> <interactions> <analysed>" (or "timeout ...")
wait_analysed() {
  local max=$1 t0 now pend counts
  t0=$(now_ms)
  while :; do
    pend=$(jobs_pending insights.analyse)
    counts=$(analysed_counts)
    now=$(now_ms)
    if [[ $pend == 0 ]] && awk -v c="$counts" 'BEGIN { split(c, x, " "); exit !(x[1] == x[2]) }'; then
      awk -v d=$((now - t0)) -v c="$counts" 'BEGIN { printf "%.1f %s\n", d / 1000, c }'
      return 0
    fi
    if ((now - t0 > max * 1000)); then
      echo "timeout $counts"
      return 0
    fi
    log "  analysis: $counts (interactions analysed), $pend jobs pending"
    sleep 5 || true
  done
}

# ---------------------------------------------------------------- tools

log "compiling bench/insights_load.c"
cc -O2 -pthread -o "$WORK/insights_load" "$BENCH_DIR/insights_load.c"
LOAD=$WORK/insights_load
"$LOAD" ids --customers "$CUSTOMERS" >"$WORK/customers.txt"
"$LOAD" bodies 5000 --customers "$CUSTOMERS" --minutes "$TS_MINUTES" >"$WORK/bodies.ndjson"

out() { printf '%s\n' "$*"; } # printed as it comes: a failure keeps what was measured
phase() { [[ " $PHASES " == *" $1 "* ]]; }

# run_wrk NAME [wrk args...] -> raw output in $WORK/wrk-NAME.txt; sets the W_* values
run_wrk() {
  local name=$1
  shift
  CAIRN_BOOTSTRAP_TOKEN=$TOKEN wrk "$@" >"$WORK/wrk-$name.txt" 2>&1 || { cat "$WORK/wrk-$name.txt" >&2; die "wrk failed: $name"; }
  local s
  s=$(grep '^wrk_summary:' "$WORK/wrk-$name.txt" || true)
  W_RPS=$(awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' "$WORK/wrk-$name.txt")
  W_P50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$s")
  W_P95=$(sed -n 's/.*p95_ms=\([0-9.]*\).*/\1/p' <<<"$s")
  W_P99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$s")
  W_NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$WORK/wrk-$name.txt")
  W_NON2XX=${W_NON2XX:-0}
  W_SOCKERR=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$WORK/wrk-$name.txt")
  W_SOCKERR=${W_SOCKERR:-0}
  W_REQS=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$s")
  if [[ -z $W_P50 ]]; then # plain wrk --latency (no Lua done())
    W_P50=$(awk '$1 == "50%" { print $2 }' "$WORK/wrk-$name.txt")
    W_P99=$(awk '$1 == "99%" { print $2 }' "$WORK/wrk-$name.txt")
    W_P95=n/a
  fi
  ((W_NON2XX == 0 && W_SOCKERR == 0)) || log "warning: $name: $W_NON2XX non-2xx, $W_SOCKERR socket errors"
}

hello_run() { # LABEL
  : >"$WORK/hello.log"
  "$BUILD/bench-hello" --listen "$HOST:$HELLO_PORT" >>"$WORK/hello.log" 2>&1 &
  HELLO_PID=$!
  wait_listening "$WORK/hello.log" "$HELLO_PID"
  local a b
  a=$(cpu_snap "$HELLO_PID")
  run_wrk "hello-$1" -t1 -c64 "-d${DURATION}s" --latency "http://$HOST:$HELLO_PORT/"
  b=$(cpu_snap "$HELLO_PID")
  stop_pid "$HELLO_PID"
  HELLO_PID=
  out "| bench-hello \`GET /\` ($1) | $W_RPS req/s | p50 $W_P50, p99 $W_P99 | $(cpu_report "$a" "$b" "$DURATION") |"
}

# ---------------------------------------------------------------- 1. baseline

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
git_rev=$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo unknown)
build_type=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
HEADER=(
  "### Insights benchmark $(date -u '+%Y-%m-%d %H:%M UTC') — \`$git_rev\`"
  ""
  "- Machine: $(nproc) CPUs (nproc), ${cpu_model:-unknown}; $(uname -sr); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  "- Build: \`$(basename "$BUILD")\` ($build_type); wrk $( (wrk -v 2>&1 || true) | awk 'NR == 1 { print $2 }'); all on 127.0.0.1; cairn with its default threads (one loop per CPU) and jobs.workers=2 unless stated"
  "- Knobs: PHASES=\"$PHASES\"${REUSE_DATA:+ REUSE_DATA=$REUSE_DATA} N=$N BATCH=$BATCH INGEST_CONNS=$INGEST_CONNS INGEST_S=$INGEST_S SINGLE_CONNS=$SINGLE_CONNS SINGLE_S=$SINGLE_S QUERY_CONNS=$QUERY_CONNS QUERY_S=$QUERY_S CUSTOMERS=$CUSTOMERS"
)

printf '%s\n' "${HEADER[@]}" ""
log "1. bench-hello baseline"
out "#### Baseline"
out ""
out "| server | throughput | latency (ms) | CPU |"
out "|---|---:|---|---|"
hello_run start

# ---------------------------------------------------------------- 2. batch ingest

batch_ingest() { # LABEL WORKERS COUNT SECONDS [generator args] -> sets B_* ; raw output in $WORK/batch-LABEL.txt
  local label=$1 workers=$2 count=$3 secs=$4 a b t0 t1
  shift 4
  a=$(cpu_snap "$SERVER_PID")
  t0=$(now_ms)
  /usr/bin/time -f 'generator_cpu_s: %U %S' -o "$WORK/gen-$label.time" \
    "$LOAD" batch --port "$CAIRN_PORT" --token "$TOKEN" --connections "$INGEST_CONNS" \
    --batch "$BATCH" --count "$count" --seconds "$secs" --customers "$CUSTOMERS" --progress "$@" \
    >"$WORK/batch-$label.txt" 2>"$WORK/batch-$label.progress" || log "warning: generator exit $? ($label)"
  t1=$(now_ms)
  b=$(cpu_snap "$SERVER_PID")
  B_ACKED=$(awk '$1 == "acknowledged:" { print $2 }' "$WORK/batch-$label.txt")
  B_RATE=$(awk '$1 == "interactions_per_s:" { print $2 }' "$WORK/batch-$label.txt")
  B_ELAPSED=$(awk '$1 == "elapsed_s:" { print $2 }' "$WORK/batch-$label.txt")
  B_LAT=$(awk '$1 == "batch_latency_ms:" { $1 = ""; print substr($0, 2) }' "$WORK/batch-$label.txt")
  B_ERR=$(awk '$1 == "batches:" { sub(/^batches: [0-9]+ /, ""); print }' "$WORK/batch-$label.txt")
  B_CPU=$(cpu_report "$a" "$b" "$(awk -v d=$((t1 - t0)) 'BEGIN { print d / 1000 }')")
  B_US=$(awk -v s="$(srv_cpu_s "$a" "$b")" -v n="${B_ACKED:-0}" 'BEGIN { if (n > 0) printf "%.0f", s * 1e6 / n; else print "n/a" }')
  B_GEN=$(awk '{ printf "%.1f s", $2 + $3 }' "$WORK/gen-$label.time" 2>/dev/null || echo n/a)
  log "  $label: $B_ACKED acknowledged in $B_ELAPSED s = $B_RATE/s; $B_CPU; $B_US µs server CPU per interaction"
}

if phase ingest; then
log "2a. batch ingest, CAIRN_JOBS_WORKERS=0"
out ""
out "#### Batch ingest (POST /api/v1/interactions/batch, $BATCH items a batch, $INGEST_CONNS connections, ${INGEST_S} s or $INGEST_MAX items, fresh database)"
out ""
out "\"live\": timestamps over the last $TS_MINUTES minutes (what a live feed sends: the time-ordered indexes grow at their end); \"backfill\": uniform over the last 120 days (random positions in every index, like the dataset load below)."
out ""
out "| jobs.workers | timestamps | interactions acknowledged | elapsed s | **interactions/s** | batch latency (ms) | errors | CPU | server µs CPU / interaction | generator CPU |"
out "|---|---|---:|---:|---:|---|---|---|---:|---:|"
start_cairn ingest0 0
batch_ingest w0 0 "$INGEST_MAX" "$INGEST_S" --minutes "$TS_MINUTES"
out "| 0 (no analysis) | live | $B_ACKED | $B_ELAPSED | **$B_RATE** | $B_LAT | $B_ERR | $B_CPU | $B_US | $B_GEN |"
stop_cairn
log "2a'. batch ingest, CAIRN_JOBS_WORKERS=0, 120-day timestamps"
start_cairn ingest0b 0
batch_ingest w0b 0 "$INGEST_MAX" "$INGEST_S" --days 120
out "| 0 (no analysis) | backfill | $B_ACKED | $B_ELAPSED | **$B_RATE** | $B_LAT | $B_ERR | $B_CPU | $B_US | $B_GEN |"
stop_cairn

log "2b. batch ingest, default jobs.workers"
start_cairn ingest2 ""
T_ING0=$(now_ms)
batch_ingest w2 2 "$INGEST_MAX" "$INGEST_S" --minutes "$TS_MINUTES"
T_ING1=$(now_ms)
out "| 2 (default) | live | $B_ACKED | $B_ELAPSED | **$B_RATE** | $B_LAT | $B_ERR | $B_CPU | $B_US | $B_GEN |"
a=$(cpu_snap "$SERVER_PID")
counts_at_end=$(analysed_counts)
read -r drain_s d_total d_analysed < <(wait_analysed "$DRAIN_MAX_S") || drain_s=timeout
b=$(cpu_snap "$SERVER_PID")
out ""
if [[ $drain_s == timeout ]]; then
  out "Analysis after the default-workers run: **not finished within ${DRAIN_MAX_S} s** ($d_analysed of $d_total analysed)."
else
  total_s=$(awk -v a="$T_ING0" -v b="$T_ING1" -v d="$drain_s" 'BEGIN { printf "%.1f", (b - a) / 1000 + d }')
  out "Analysis with the default workers: ${counts_at_end#* } of ${counts_at_end% *} interactions were analysed when the ingest ended; all $d_total were analysed ${drain_s} s later, **${total_s} s after the ingest started** → $(awk -v n="$d_total" -v t="$total_s" 'BEGIN { printf "%.0f", n / t }') interactions analysed/s over the whole run, $(awk -v n="$d_total" -v m="${counts_at_end#* }" -v d="$drain_s" 'BEGIN { if (d > 0) printf "%.0f", (n - m) / d; else print "n/a" }')/s after the ingest ended ($(cpu_report "$a" "$b" "$drain_s") during the drain)."
fi
stop_cairn

fi

# ---------------------------------------------------------------- 3. single ingest

if phase single; then
out ""
out "#### Single ingest (POST /api/v1/interactions, wrk -t1 -c$SINGLE_CONNS -d${SINGLE_S}s --latency -s bench/ingest_one.lua, fresh database)"
out ""
out "| jobs.workers | req/s | p50 ms | p95 ms | **p99 ms** | non-2xx | sock err | CPU | server µs CPU / request |"
out "|---|---:|---:|---:|---:|---:|---:|---|---:|"
for w in "" 0; do
  log "3. single ingest, jobs.workers=${w:-default}"
  start_cairn "single${w:-d}" "$w"
  a=$(cpu_snap "$SERVER_PID")
  INGEST_BODIES=$WORK/bodies.ndjson run_wrk "single${w:-d}" -t1 "-c$SINGLE_CONNS" "-d${SINGLE_S}s" --latency \
    -s "$BENCH_DIR/ingest_one.lua" "$U"
  b=$(cpu_snap "$SERVER_PID")
  us=$(awk -v s="$(srv_cpu_s "$a" "$b")" -v n="${W_REQS:-0}" 'BEGIN { if (n > 0) printf "%.0f", s * 1e6 / n; else print "n/a" }')
  out "| ${w:-2 (default)} | $W_RPS | $W_P50 | $W_P95 | **$W_P99** | $W_NON2XX | $W_SOCKERR | $(cpu_report "$a" "$b" "$SINGLE_S") | $us |"
  stop_cairn
done

fi

# ---------------------------------------------------------------- 4. dataset

if ! phase dataset; then
  log "no dataset phase: done"
fi
if phase dataset && [[ -z $REUSE_DATA ]]; then
log "4. loading $N interactions (CAIRN_JOBS_WORKERS=0), at most ${LOAD_MAX_S} s"
start_cairn dataset 0
batch_ingest load 0 "$N" "$LOAD_MAX_S" --days 120
out ""
out "#### Dataset"
out ""
out "- Loaded **$B_ACKED interactions in $B_ELAPSED s** ($B_RATE/s; batch latency $B_LAT; $B_ERR; $B_CPU; $B_US µs server CPU per interaction) with CAIRN_JOBS_WORKERS=0, timestamps uniform over the last 120 days, $CUSTOMERS customers."
awk '{ print $2, $3 }' "$WORK/batch-load.progress" | awk 'NR % 30 == 0 { printf "%s s: %s\n", $1, $2 }' >"$WORK/load-curve.txt"
[[ -s $WORK/load-curve.txt ]] && out "- Acknowledged so far, every 30 s: $(paste -sd ';' "$WORK/load-curve.txt" | sed 's/;/; /g')"
stop_cairn
elif phase dataset; then
  [[ -f $REUSE_DATA/cairn.db ]] || die "REUSE_DATA=$REUSE_DATA holds no cairn.db"
  DATA=$REUSE_DATA
  out ""
  out "#### Dataset"
  out ""
  out "- Reusing the dataset in $REUSE_DATA ($(python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True); print(c.execute("select count(*) from interactions").fetchone()[0])' "$REUSE_DATA/cairn.db" 2>/dev/null || echo '?') interactions; load not repeated)."
fi
if phase dataset; then
log "   restarting with the default workers to analyse them"
start_cairn analyse "" reuse
a=$(cpu_snap "$SERVER_PID")
before=$(analysed_counts)
a0=${before#* }
read -r drain_s d_total d_analysed < <(wait_analysed "$DRAIN_MAX_S") || drain_s=timeout
b=$(cpu_snap "$SERVER_PID")
if [[ $drain_s == timeout ]]; then
  out "- Analysis (jobs.workers=2, nothing else running): **not finished within ${DRAIN_MAX_S} s**: $a0 → $d_analysed of $d_total analysed = $(awk -v n=$((d_analysed - a0)) -v t="$DRAIN_MAX_S" 'BEGIN { printf "%.0f", n / t }') interactions/s."
else
  out "- Analysis (jobs.workers=2, nothing else running): $((d_total - a0)) interactions (of $d_total; $a0 were analysed before) **analysed in ${drain_s} s = $(awk -v n=$((d_total - a0)) -v t="$drain_s" 'BEGIN { printf "%.0f", n / t }') interactions/s** ($(cpu_report "$a" "$b" "$drain_s"); $(awk -v s="$(srv_cpu_s "$a" "$b")" -v n=$((d_total - a0)) 'BEGIN { if (n > 0) printf "%.0f", s * 1e6 / n; else print "n/a" }') µs server CPU per interaction)."
fi
log "   waiting for the scheduled pattern jobs (at most ${PATTERNS_MAX_S} s)"
t0=$(now_ms)
while [[ $(jobs_pending insights.patterns) != 0 ]] && (($(now_ms) - t0 < PATTERNS_MAX_S * 1000)); do sleep 3 || true; done
out "- Pattern jobs left after waiting $(((($(now_ms) - t0) + 500) / 1000)) s: $(jobs_pending insights.patterns); dead jobs: $(metric 'cairn_jobs[{].*state="dead"')."
metrics_t0=$(now_ms)
curl -s --max-time 120 -o "$WORK/metrics.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
  "$U/api/v1/insights/metrics?from=$(iso $((metrics_t0 - 130 * 86400000)))&to=$(iso "$metrics_t0")" >"$WORK/metrics.code" || true
metrics_ms=$(($(now_ms) - metrics_t0))
out "- \`GET /api/v1/insights/metrics\` over the whole 130 days (one uncached call): HTTP $(cat "$WORK/metrics.code"), ${metrics_ms} ms: \`$(head -c 400 "$WORK/metrics.json")\`"

# segments: SEG_CUSTOMERS customers "enterprise", as many "smb"
seg_ok=0
i=0
while read -r cid; do
  seg=
  ((i % 10 == 3 && i / 10 < SEG_CUSTOMERS)) && seg=enterprise
  ((i % 10 == 7 && i / 10 < SEG_CUSTOMERS)) && seg=smb
  if [[ -n $seg ]]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $TOKEN" \
      -H 'Content-Type: application/json' --data "{\"segment\":\"$seg\"}" "$U/api/v1/customers/$cid")
    [[ $code == 200 || $code == 201 ]] && seg_ok=$((seg_ok + 1))
  fi
  i=$((i + 1))
done <"$WORK/customers.txt"
out "- Segments: $seg_ok customers set by PUT /api/v1/customers/{id} (every 10th customer \`enterprise\`, another 10th \`smb\`)."
DB_BYTES=$(du -cb "$DATA"/cairn.db* 2>/dev/null | awk 'END { print $1 }')
out "- Database: $(awk -v b="$DB_BYTES" 'BEGIN { printf "%.0f MiB", b / 1048576 }') (cairn.db + WAL); server VmRSS $(awk '$1 == "VmRSS:" { printf "%.0f MiB", $2 / 1024 }' "/proc/$SERVER_PID/status")."

fi

# ---------------------------------------------------------------- 5. reads

if phase dataset && phase reads; then
NOW=$(now_ms)
out ""
out "#### Reads on the dataset (wrk -t1 -c$QUERY_CONNS -d${QUERY_S}s -s bench/insights_query.lua)"
out ""
out "| query | cache | req/s | p50 ms | **p95 ms** | p99 ms | server hits / misses | non-2xx | CPU |"
out "|---|---|---:|---:|---:|---:|---|---:|---|"
query_run() { # KIND VARY
  local kind=$1 vary=$2 h0 m0 h1 m1 a b
  log "5. $kind VARY=$vary"
  if [[ $vary == 0 ]]; then # warm the cache: every distinct request of the run once
    QUERY=$kind VARY=0 NOW_MS=$NOW CUSTOMERS_FILE=$WORK/customers.txt SEGMENTS=enterprise DUMP_PATHS=16 \
      wrk -t1 -c1 -d1s -s "$BENCH_DIR/insights_query.lua" "$U" 2>/dev/null | sort -u >"$WORK/warm-$kind.txt" || true
    while read -r p; do
      curl -s -o /dev/null --max-time 30 -H "Authorization: Bearer $TOKEN" "$U$p" || true
    done <"$WORK/warm-$kind.txt"
  fi
  h0=$(metric '^cairn_cache_hits_total$')
  m0=$(metric '^cairn_cache_misses_total$')
  a=$(cpu_snap "$SERVER_PID")
  QUERY=$kind VARY=$vary NOW_MS=$NOW CUSTOMERS_FILE=$WORK/customers.txt SEGMENTS=enterprise \
    run_wrk "q-$kind-$vary" -t1 "-c$QUERY_CONNS" "-d${QUERY_S}s" --latency -s "$BENCH_DIR/insights_query.lua" "$U"
  b=$(cpu_snap "$SERVER_PID")
  h1=$(metric '^cairn_cache_hits_total$')
  m1=$(metric '^cairn_cache_misses_total$')
  local what
  case $kind in
    list_email) what="\`/insights?channels=email&sentiment_min=0.05&from=-30d&limit=50\`" ;;
    list_customer) what="\`/insights?customer_id=…&limit=50\`" ;;
    list_segment) what="\`/insights?segments=enterprise&from=-30d&limit=50\`" ;;
    trends) what="\`/insights/sentiment-trends\` 90 days by day, Europe/Paris" ;;
    search) what="\`/interactions/search?q=…\`" ;;
  esac
  out "| $what | $([[ $vary == 1 ]] && echo uncached || echo cached) | $W_RPS | $W_P50 | **$W_P95** | $W_P99 | $((h1 - h0)) / $((m1 - m0)) | $W_NON2XX | $(cpu_report "$a" "$b" "$QUERY_S") |"
}
for kind in list_email list_customer list_segment trends search; do
  query_run "$kind" 1
done
for kind in list_email list_customer list_segment trends search; do
  query_run "$kind" 0
done

# a sample answer of each, to show what was measured
for kind in list_email list_segment trends search; do
  case $kind in
    list_email) p="/api/v1/insights?channels=email&sentiment_min=0.05&from=$(iso $((NOW - 30 * 86400000)))&limit=50" ;;
    list_segment) p="/api/v1/insights?segments=enterprise&from=$(iso $((NOW - 30 * 86400000)))&limit=50" ;;
    trends) p="/api/v1/insights/sentiment-trends?from=$(iso $((NOW - 90 * 86400000)))&to=$(iso "$NOW")&group_by=day&timezone=Europe%2FParis" ;;
    search) p="/api/v1/interactions/search?q=password%20reset" ;;
  esac
  curl -s -H "Authorization: Bearer $TOKEN" "$U$p" >"$WORK/sample-$kind.json"
done
out ""
out "Answer sizes (one sample each): $(for k in list_email list_segment trends search; do printf '%s %s B; ' "$k" "$(wc -c <"$WORK/sample-$k.json")"; done)"
if command -v python3 >/dev/null; then
  # how many rows each search query matches (the work bm25 ranking must do)
  tenant=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True); print(c.execute("select tenant_id from interactions limit 1").fetchone()[0])' "$DATA/cairn.db" 2>/dev/null || true)
  if [[ -n $tenant ]]; then
    matches=$(python3 - "$DATA/cairn.db" "$tenant" <<'EOF' 2>/dev/null || true
import sqlite3, sys, re
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
qs = ["password reset", "refund", "charged twice", "tracking number", "stopped working",
      "arrived damaged", "cancel subscription", "coffee machine", "discount code",
      "rude unhelpful", "warranty laptop", "battery drains", "checkout crashed",
      "never arrived", "return label", "washing machine"]
out = []
for q in qs:
    words = " AND ".join('"%s"' % w for w in re.findall(r"[A-Za-z0-9]+", q))
    n = c.execute("select count(*) from interactions_fts"
                  " where interactions_fts match ? and tenant_id = ?",
                  (words, sys.argv[2])).fetchone()[0]
    out.append("%s %d" % (q, n))
print("; ".join(out))
EOF
)
    out ""
    out "Rows matched by each search query: $matches."
  fi
fi
stop_cairn

fi
stop_cairn

# ---------------------------------------------------------------- end

log "6. bench-hello again"
out ""
out "#### Baseline again"
out ""
out "| server | throughput | latency (ms) | CPU |"
out "|---|---:|---|---|"
hello_run end

echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
