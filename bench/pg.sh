#!/usr/bin/env bash
# One node on PostgreSQL: GET /api/v1/notes/{id} and POST /api/v1/notes at CONNECTIONS
# connections for Cairn on SQLite, Cairn on PostgreSQL and the Fastify + pg peer
# (bench/fastify/server.mjs) on the same PostgreSQL, interleaved over ROUNDS rounds.
# Prints a Markdown block for bench/RESULTS.md on stdout; progress goes to stderr.
#
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel --target cairn
#   bash bench/pg.sh > /tmp/pg.md
#
# Every server authenticates with an API key (cairn_<prefix>_<secret>, looked up in the
# database on every request), the same key string for all of them. PostgreSQL is a throwaway
# server of scripts/pg-test (fsync and synchronous_commit off, as SQLite's WAL with
# synchronous=NORMAL does not sync a commit either; DURABLE=1 turns both on) with
# pg_stat_statements loaded, which gives the statements and transactions per request of a
# short counting run after the rounds. Everything listens on 127.0.0.1 and is stopped and
# removed at the end, also on error or Ctrl-C.
#
# Scenarios (SCENARIOS="sqlite pg fastify fastify-seq"): sqlite and pg are the same cairn
# binary; fastify is the peer as written; fastify-seq is the peer numbering its events from
# a PostgreSQL sequence (no channel row lock, not gap-free), to show what that lock costs;
# pg-tN (optional, after pg) is Cairn on PostgreSQL with N event-loop threads
# (server.threads) instead of one per core: a loop waits for every statement, so more
# loops keep more statements in flight; pg-base (optional, after pg) is BASE/cairn (another
# build, e.g. the revision before a change) on the pg one's database, for an A/B of two
# revisions in one interleaved run; pg-boot (optional, after pg) is the pg server
# authenticated with the operator's bootstrap token, compared in memory: what an API key
# cache would save (one statement per request).
#
# Knobs: BUILD=build-rel, ROUNDS=3, DURATION=10 (s per wrk run), CONNECTIONS=64, SCENARIOS,
# FASTIFY_WORKERS (node:cluster processes, default nproc), FASTIFY_POOL=8 (pg connections
# per process), DURABLE=0, COUNT_SECS=3 (the counting run, 0: none), SQLITE_PORT=8094
# PG_PORT=8095 FASTIFY_PORT=8096 FASTIFY_SEQ_PORT=8097.
# A run takes about ROUNDS × 2 × 4 × DURATION seconds plus a minute.
set -euo pipefail

log() { printf '[pg-bench] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
BUILD=${BUILD:-build-rel}
BUILD_ARG=$BUILD # as given, for the report (lib.sh makes it absolute)
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
# shellcheck disable=SC2206 # a list of words
SCENARIOS=(${SCENARIOS:-sqlite pg fastify fastify-seq})
FASTIFY_WORKERS=${FASTIFY_WORKERS:-$(nproc)}
FASTIFY_POOL=${FASTIFY_POOL:-8}
DURABLE=${DURABLE:-0}
COUNT_SECS=${COUNT_SECS:-3}
declare -A PORT=([sqlite]=${SQLITE_PORT:-8094} [pg]=${PG_PORT:-8095} [fastify]=${FASTIFY_PORT:-8096}
  [fastify-seq]=${FASTIFY_SEQ_PORT:-8097})
HOST=127.0.0.1
PW='vivid-Otter-42-lantern'
BOOT_TOKEN=bench-token
CAIRN_BIN="$BUILD/cairn"

command -v wrk >/dev/null || die "wrk not found"
command -v curl >/dev/null || die "curl not found"
command -v psql >/dev/null || die "psql not found (scripts/deps)"
command -v node >/dev/null || die "node not found"
[[ -x $CAIRN_BIN ]] || die "$CAIRN_BIN not found (cmake --build $BUILD --target cairn)"
[[ -d $REPO_DIR/node_modules/fastify && -d $REPO_DIR/node_modules/pg ]] ||
  die "fastify and pg are not installed (scripts/deps, or npm ci)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-pgbench.XXXXXX")
# its own directory: pg-test hands it to the postgres user when run as root
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-pgbench-pg.XXXXXX")
declare -A PID=()

cleanup() {
  local rc=$? s
  for s in "${!PID[@]}"; do stop_pid "${PID[$s]}"; done
  ((rc == 0)) || show_logs "$WORK" 20
  "$REPO_DIR/scripts/pg-test" stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers

port_busy() { curl -s -o /dev/null --max-time 1 "http://$HOST:$1/" 2>/dev/null; }

# wait_ready NAME: up to 10 s for "listening on http://" in its log
wait_ready() {
  for _ in $(seq 200); do
    grep -q 'listening on http://' "$WORK/$1.log" 2>/dev/null && return 0
    kill -0 "${PID[$1]}" 2>/dev/null || die "$1 exited during start-up"
    sleep 0.05
  done
  die "$1 not ready after 10 s"
}

json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(v==null)process.exit(1);console.log(v)})' "$1"; }

# paired_ratio "A1 A2 …" "B1 B2 …": the median over rounds of A_i / B_i (a round's runs
# are seconds apart, so they share most of the machine's noise)
paired_ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); m = 0
    for (i = 1; i <= n; i++) if (y[i] > 0) r[++m] = x[i] / y[i]
    if (m == 0) { print "n/a"; exit }
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
    printf "%.2f×", (m % 2) ? r[(m + 1) / 2] : (r[m / 2] + r[m / 2 + 1]) / 2 }'
}

# tree_ticks PID: CPU clock ticks (user + system) used so far by PID and its children,
# one "pid ticks" line each (fields 14 and 15 of /proc/P/stat, after the command name)
tree_ticks() {
  # cat, not awk on the files: a process that ends during the glob must not stop the scan
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '{
    pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
    if (pid == root || f[2] == root) print pid, f[12] + f[13] }'
}
# ticks_delta BEFORE AFTER: ticks used between two tree_ticks samples (a process that
# started in between counts whole; one that ended in between is lost, hence persistent pools)
ticks_delta() {
  awk 'NR == FNR { t0[$1] = $2; next } { d += $2 - ($1 in t0 ? t0[$1] : 0) } END { print d + 0 }' \
    <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}
CLK_TCK=$(getconf CLK_TCK)
# machine_ticks: "busy all" clock ticks of every CPU so far (/proc/stat: all but idle and
# iowait). Interrupt time counts as busy: without IRQ_TIME_ACCOUNTING the kernel also
# charges it to the process it interrupted, so the servers' own loopback traffic is in their
# CPU columns, not in "other"
machine_ticks() {
  awk '$1 == "cpu" { all = 0; for (i = 2; i <= 9; i++) all += $i; print all - $5 - $6, all }' /proc/stat
}
per_req_us() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "n/a" }'; }

# store_sample NAME: "seconds count" of Cairn's store statement histogram (every statement a
# handler runs, from prepare to finish: the time its loop thread waits for it), or "0 0"
store_sample() {
  [[ $1 == fastify ]] && { echo "0 0"; return; }
  { curl -s --max-time 5 "http://$HOST:${PORT[$1]}/metrics" || true; } | awk '
    $1 == "cairn_store_query_duration_seconds_sum" { s = $2 }
    $1 == "cairn_store_query_duration_seconds_count" { c = $2 }
    END { print s + 0, c + 0 }'
}

export PGCONNECT_TIMEOUT=10
psql_q() { psql "$1" -X -q -A -t -v ON_ERROR_STOP=1 -c "$2"; }

# ---------------------------------------------------------------- PostgreSQL

log "starting PostgreSQL (scripts/pg-test)"
pg_args=()
((DURABLE)) && pg_args+=(--durable)
PG_URL=$("$REPO_DIR/scripts/pg-test" start "$PGDIR" "${pg_args[@]}")
PG_BASE=${PG_URL%/postgres}
PG_PID=$(head -n 1 "$PGDIR/data/postmaster.pid")
# pg_stat_statements needs a restart to load; pg_ctl restart keeps the start options
psql_q "$PG_URL" "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
if [[ $(id -u) -eq 0 ]]; then as_pg=(runuser -u postgres --); else as_pg=(); fi
"${as_pg[@]}" "${PGBIN:-/usr/lib/postgresql/15/bin}/pg_ctl" -D "$PGDIR/data" -w -t 30 restart >/dev/null
PG_PID=$(head -n 1 "$PGDIR/data/postmaster.pid")
for db in cairn_bench bench_fastify bench_fastify_seq; do
  psql_q "$PG_URL" "CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
done
psql_q "$PG_URL" "CREATE EXTENSION pg_stat_statements"
PG_VERSION=$(psql_q "$PG_URL" "SHOW server_version")
PG_SETTINGS=$(psql_q "$PG_URL" "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')")
log "PostgreSQL $PG_VERSION pid $PG_PID at $PG_URL"

# ---------------------------------------------------------------- servers

declare -A TOKEN=() NOTE_PATH=()

# start_cairn NAME ENV...: tenant, owner, server, sign-in, an API key, one note
start_cairn() {
  local name=$1 data=$WORK/data-$1 u=http://$HOST:${PORT[$1]}
  shift
  mkdir -p "$data"
  port_busy "${PORT[$name]}" && die "something already answers on $HOST:${PORT[$name]}"
  env "$@" "$CAIRN_BIN" tenant create --slug bench --name Bench --data "$data" >/dev/null
  printf '%s\n' "$PW" | env "$@" "$CAIRN_BIN" user create --tenant bench \
    --email bench@bench.example --role owner --password-stdin --data "$data" >/dev/null
  # the load comes from one client IP and one credential: lift the per-client limits
  env "$@" CAIRN_RATE_IP_PER_MIN=10000000 CAIRN_RATE_USER_PER_MIN=10000000 \
    CAIRN_BOOTSTRAP_TOKEN=$BOOT_TOKEN "$CAIRN_BIN" serve --listen "$HOST:${PORT[$name]}" --data "$data" >"$WORK/$name.log" 2>&1 &
  PID[$name]=$!
  wait_ready "$name"
  local at
  at=$(curl -sf --max-time 10 -XPOST "$u/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"tenant\":\"bench\",\"email\":\"bench@bench.example\",\"password\":\"$PW\"}" |
    json_field access_token) || die "$name: sign-in failed"
  TOKEN[$name]=$(curl -sf --max-time 10 -XPOST "$u/api/v1/api-keys" -H "authorization: Bearer $at" \
    -H 'content-type: application/json' \
    -d '{"name":"bench","permissions":["notes.read","notes.write"]}' | json_field key) ||
    die "$name: creating the API key failed"
  log "$name: cairn pid ${PID[$name]} on ${PORT[$name]}"
}

# start_pg_second NAME N BIN: a second Cairn (binary BIN) on the PostgreSQL one's database
# with N event-loop threads (0: one per core; the same secrets key and API key; it is idle
# while the other is measured)
start_pg_second() {
  local name=$1 data=$WORK/data-$1
  mkdir -p "$data"
  cp "$WORK/data-pg/secrets.key" "$data/"
  port_busy "${PORT[$name]}" && die "something already answers on $HOST:${PORT[$name]}"
  CAIRN_DATABASE_URL="$PG_BASE/cairn_bench" CAIRN_THREADS=$2 CAIRN_RATE_IP_PER_MIN=10000000 \
    CAIRN_RATE_USER_PER_MIN=10000000 "$3" serve --listen "$HOST:${PORT[$name]}" \
    --data "$data" >"$WORK/$name.log" 2>&1 &
  PID[$name]=$!
  wait_ready "$name"
  TOKEN[$name]=${TOKEN[pg]}
  log "$name: $3 pid ${PID[$name]} on ${PORT[$name]}, server.threads=$2"
}

# start_fastify NAME DATABASE EVENT_SEQ: the peer on its own database, with the PostgreSQL
# Cairn's API key (its hash, in the peer's api_keys table)
start_fastify() {
  local name=$1 db=$PG_BASE/$2 seq=$3 key=${TOKEN[pg]}
  port_busy "${PORT[$name]}" && die "something already answers on $HOST:${PORT[$name]}"
  psql "$db" -X -q -v ON_ERROR_STOP=1 -f "$BENCH_DIR/fastify/schema.sql" >/dev/null
  local prefix=${key:6:8} secret=${key:15} hash
  hash=$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)
  psql_q "$db" "INSERT INTO api_keys (id, tenant_id, prefix, secret_hash, name, scopes,
    created_by, created_at) VALUES ('$(cat /proc/sys/kernel/random/uuid)', 'bench', '$prefix',
    '$hash', 'bench', 'notes.read,notes.write', 'bench', 0)"
  TOKEN[$name]=$key
  DATABASE_URL=$db PORT=${PORT[$name]} HOST=$HOST WORKERS=$FASTIFY_WORKERS POOL=$FASTIFY_POOL \
    EVENT_SEQ=$seq node "$BENCH_DIR/fastify/server.mjs" >"$WORK/$name.log" 2>&1 &
  PID[$name]=$!
  wait_ready "$name"
  log "$name: pid ${PID[$name]} on ${PORT[$name]}, $FASTIFY_WORKERS processes × $FASTIFY_POOL connections"
}

# check_routes NAME: POST a note (201 + Location), GET it (200, the same body)
check_routes() {
  local name=$1 u=http://$HOST:${PORT[$1]} code id
  code=$(curl -s --max-time 10 -o "$WORK/$name-post.json" -w '%{http_code}' -XPOST "$u/api/v1/notes" \
    -H "authorization: Bearer ${TOKEN[$name]}" -H 'content-type: application/json' \
    --data '{"title":"t","body":"b"}') || true
  [[ $code == 201 ]] || { cat "$WORK/$name-post.json" >&2; die "$name: POST answered $code"; }
  id=$(json_field id <"$WORK/$name-post.json") || die "$name: no id in the POST answer"
  NOTE_PATH[$name]=/api/v1/notes/$id
  code=$(curl -s --max-time 10 -o "$WORK/$name-get.json" -w '%{http_code}' \
    -H "authorization: Bearer ${TOKEN[$name]}" "$u${NOTE_PATH[$name]}") || true
  [[ $code == 200 ]] || die "$name: GET ${NOTE_PATH[$name]} answered $code"
  cmp -s "$WORK/$name-post.json" "$WORK/$name-get.json" || die "$name: GET and POST answers differ"
}

next_port=8100
for s in "${SCENARIOS[@]}"; do
  [[ -n ${PORT[$s]:-} ]] || PORT[$s]=$((next_port++))
  case $s in
    sqlite) start_cairn sqlite ;;
    pg) start_cairn pg CAIRN_DATABASE_URL="$PG_BASE/cairn_bench" ;;
    pg-boot)
      [[ -n ${TOKEN[pg]:-} ]] || die "the $s scenario needs the pg one (its server)"
      PID[$s]=${PID[pg]} PORT[$s]=${PORT[pg]} TOKEN[$s]=$BOOT_TOKEN
      ;;
    pg-t[0-9]*)
      [[ -n ${TOKEN[pg]:-} ]] || die "the $s scenario needs the pg one (its data and API key)"
      start_pg_second "$s" "${s#pg-t}" "$CAIRN_BIN"
      ;;
    pg-base)
      [[ -n ${TOKEN[pg]:-} ]] || die "the $s scenario needs the pg one (its data and API key)"
      [[ -x ${BASE:-}/cairn ]] || die "the $s scenario needs BASE=DIR holding a cairn binary"
      start_pg_second "$s" 0 "$BASE/cairn"
      ;;
    fastify | fastify-seq)
      [[ -n ${TOKEN[pg]:-} ]] || die "the $s scenario needs the pg one (its API key)"
      if [[ $s == fastify ]]; then start_fastify fastify bench_fastify channel; else
        start_fastify fastify-seq bench_fastify_seq sequence
      fi
      ;;
    *) die "unknown scenario $s" ;;
  esac
  check_routes "$s"
done

# ---------------------------------------------------------------- measure

# run_wrk NAME ROUTE [SECS] -> RPS P99 P50 NON2XX SOCKERR REQS APP_US PG_US STORE_US OTHER; output kept in $WORK
run_wrk() {
  local name=$1 route=$2 secs=${3:-$DURATION} out="$WORK/wrk-$1-$2-r$ROUND.txt" script
  script=$BENCH_DIR/get_note.lua
  [[ $route == post ]] && script=$BENCH_DIR/post_note.lua
  local a0 p0 a1 p1 m0 m1 c0 c1 da dp TIMEFORMAT='%U %S'
  m0=$(store_sample "$name")
  a0=$(tree_ticks "${PID[$name]}")
  p0=$(tree_ticks "$PG_PID")
  c0=$(machine_ticks)
  log "round $ROUND: $name $route"
  { time CAIRN_BOOTSTRAP_TOKEN=${TOKEN[$name]} NOTE_PATH=${NOTE_PATH[$name]} \
    timeout $((secs + 30)) wrk -t1 "-c$CONNECTIONS" "-d${secs}s" --latency -s "$script" \
    "http://$HOST:${PORT[$name]}" >"$out" 2>&1; } 2>"$out.cpu" ||
    { cat "$out" >&2; die "wrk failed for $name $route"; }
  c1=$(machine_ticks)
  a1=$(tree_ticks "${PID[$name]}")
  p1=$(tree_ticks "$PG_PID")
  m1=$(store_sample "$name")
  RPS=$(awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' "$out")
  [[ -n $RPS ]] || { cat "$out" >&2; die "could not parse wrk output for $name $route"; }
  P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  NON2XX=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  NON2XX=${NON2XX:-0}
  SOCKERR=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
  SOCKERR=${SOCKERR:-0}
  REQS=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$out")
  da=$(ticks_delta "$a0" "$a1")
  dp=$(ticks_delta "$p0" "$p1")
  APP_US=$(per_req_us "$da" "$REQS")
  PG_US=$(per_req_us "$dp" "$REQS")
  # everything else the machine ran meanwhile (other work on it, the noise), % of one core;
  # wrk's own CPU comes from bash's time
  OTHER=$(awk -v c0="$c0" -v c1="$c1" -v a="$da" -v p="$dp" -v hz="$CLK_TCK" -v n="$(nproc)" \
    -v w="$(tail -n 1 "$out.cpu")" 'BEGIN { split(c0, x, " "); split(c1, y, " "); split(w, t, " ")
      busy = y[1] - x[1]; all = y[2] - x[2]
      if (all <= 0) { print "n/a"; exit }
      o = busy - a - p - (t[1] + t[2]) * hz; if (o < 0) o = 0
      printf "%.0f", 100 * n * o / all }')
  # the store's wall time per request, and the statements it timed
  STORE_US=$(awk -v a="$m0" -v b="$m1" -v n="$REQS" 'BEGIN { split(a, x, " "); split(b, y, " ")
    if (n > 0 && y[2] > x[2]) printf "%.0f / %.2f", (y[1] - x[1]) * 1e6 / n, (y[2] - x[2]) / n
    else print "–" }')
  if ((NON2XX > 0 || SOCKERR > 0)); then
    log "warning: $name $route: $NON2XX non-2xx/3xx responses, $SOCKERR socket errors"
  fi
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A RPS_OF P99_OF P50_OF APP_OF PG_OF STORE_OF
ROWS=()
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
  for route in get post; do
    for s in "${SCENARIOS[@]}"; do
      run_wrk "$s" "$route"
      k="$s $route"
      RPS_OF[$k]+="$RPS "
      P99_OF[$k]+="$P99 "
      P50_OF[$k]+="$P50 "
      APP_OF[$k]+="$APP_US "
      PG_OF[$k]+="$PG_US "
      STORE_OF[$k]+="${STORE_US%% *} "
      pg_col=$PG_US
      [[ $s == sqlite ]] && pg_col="–"
      ROWS+=("| $ROUND | $route | $s | $RPS | $P50 | $P99 | $APP_US | $pg_col | $STORE_US | $OTHER | $NON2XX | $SOCKERR |")
    done
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# What a request costs PostgreSQL: statements per request (pg_stat_statements calls, utility
# statements such as SAVEPOINT included), over a short run of each route. node-postgres waits
# for each statement's answer before sending the next, so its statements are its round trips;
# Cairn sends a turn's reads and its transaction control ahead (pipeline mode), so it makes
# fewer round trips than statements, and pg_stat_statements does not see the SAVEPOINT,
# RELEASE and BEGIN it sends that way (older builds sent them as plain queries, counted).
declare -A STMTS_OF TOP_OF
if ((COUNT_SECS > 0)); then
  ROUND=count
  for s in "${SCENARIOS[@]}"; do
    [[ $s == sqlite ]] && continue
    case $s in
      pg | pg-*) db=cairn_bench ;;
      fastify) db=bench_fastify ;;
      fastify-seq) db=bench_fastify_seq ;;
    esac
    for route in get post; do
      psql_q "$PG_URL" "SELECT pg_stat_statements_reset()" >/dev/null
      run_wrk "$s" "$route" "$COUNT_SECS"
      n=$(psql_q "$PG_URL" "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements s
        JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$db'")
      STMTS_OF["$s $route"]=$(awk -v n="$n" -v r="$REQS" 'BEGIN { printf "%.2f", n / r }')
      TOP_OF["$s $route"]=$(psql_q "$PG_URL" "SELECT string_agg(format('%s ×%s', left(regexp_replace(query, '\s+', ' ', 'g'), 48), round(calls::numeric / $REQS, 3)), '; ' ORDER BY calls DESC)
        FROM (SELECT query, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = '$db' AND s.calls * 100 >= $REQS ORDER BY calls DESC LIMIT 10) t")
    done
  done
fi

# ---------------------------------------------------------------- report

cpu_model=$(LC_ALL=C lscpu 2>/dev/null | awk -F': *' '/^Model name/ { print $2; exit }' || true)
git_rev=$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo unknown)
build_type=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
node_v=$(node --version)
fastify_v=$(node -p 'require(process.argv[1]).version' "$REPO_DIR/node_modules/fastify/package.json")
pg_v=$(node -p 'require(process.argv[1]).version' "$REPO_DIR/node_modules/pg/package.json")

cat <<EOF
### PostgreSQL benchmark $(date -u '+%Y-%m-%d %H:%M UTC') — \`$git_rev\`

- Command: \`BUILD=$BUILD_ARG SCENARIOS="${SCENARIOS[*]}" ROUNDS=$ROUNDS DURATION=$DURATION CONNECTIONS=$CONNECTIONS DURABLE=$DURABLE COUNT_SECS=$COUNT_SECS FASTIFY_WORKERS=$FASTIFY_WORKERS FASTIFY_POOL=$FASTIFY_POOL bash bench/pg.sh\`
- Git: \`$git_rev\`, build type: ${build_type:-unknown}; CPU: ${cpu_model:-unknown}, nproc: $(nproc); kernel $(uname -sr)
- Load average before: $LOAD_BEFORE; after the rounds: $LOAD_AFTER
- wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }') \`-t1 -c$CONNECTIONS -d${DURATION}s --latency\`, $ROUNDS rounds, each route in turn on each server; all on $HOST
- PostgreSQL $PG_VERSION (scripts/pg-test, loopback TCP): $PG_SETTINGS; pg_stat_statements loaded
- sqlite: \`cairn serve\` on a fresh data dir; pg: the same binary with \`CAIRN_DATABASE_URL\` (database cairn_bench); fastify: bench/fastify/server.mjs on node $node_v, fastify $fastify_v, pg $pg_v, $FASTIFY_WORKERS processes (node:cluster) × $FASTIFY_POOL connections (database bench_fastify); fastify-seq: the same with \`EVENT_SEQ=sequence\` (events numbered by a sequence: no channel row lock, not gap-free; database bench_fastify_seq)
- All three authenticate the same API key (a database lookup per request); per-client rate limits of Cairn lifted; Cairn's access log on (its default)

Per round (app CPU: the server's processes; PG CPU: every PostgreSQL process; µs per request;
store wait: Cairn's own timing of its statements, from its /metrics: µs from a statement's
start to its end per request / statements timed per request (on PostgreSQL a read handler's
wait includes the time it is suspended while its loop serves other requests, so it is not
time the loop stands still); other: the CPU everything else on the machine used meanwhile,
% of one core):

| round | route | server | req/s | p50 ms | p99 ms | app CPU µs/req | PG CPU µs/req | store wait µs / stmts per req | other % | non-2xx | sock err |
|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${ROWS[@]}")

Medians over $ROUNDS rounds:

| route | server | req/s | p50 ms | p99 ms | app CPU µs/req | PG CPU µs/req | app + PG µs/req | store wait µs/req |
|---|---|---:|---:|---:|---:|---:|---:|---:|
EOF
for route in get post; do
  for s in "${SCENARIOS[@]}"; do
    k="$s $route"
    # shellcheck disable=SC2086 # the collected values are split on purpose
    a=$(median %.1f ${APP_OF[$k]})
    # shellcheck disable=SC2086
    p=$(median %.1f ${PG_OF[$k]})
    t=$(awk -v a="$a" -v p="$p" 'BEGIN { if (a ~ /^[0-9.]+$/ && p ~ /^[0-9.]+$/) printf "%.1f", a + p; else print a }')
    [[ $s == sqlite ]] && p="–" && t=$a
    # shellcheck disable=SC2086
    # shellcheck disable=SC2086
    w=$(median %.0f ${STORE_OF[$k]})
    [[ $w == n/a ]] && w="–"
    # shellcheck disable=SC2086
    echo "| $route | $s | $(median %.0f ${RPS_OF[$k]}) | $(median %.2f ${P50_OF[$k]}) | $(median %.2f ${P99_OF[$k]}) | $a | $p | $t | $w |"
  done
done
has() { [[ " ${SCENARIOS[*]} " == *" $1 "* ]]; }
if has pg; then
  echo
  echo "Median of the per-round req/s ratios:"
  echo
  for route in get post; do
    line="- $route:"
    for c in "${SCENARIOS[@]}"; do
      [[ $c == pg || $c == pg-* ]] || continue
      for peer in fastify fastify-seq; do
        has "$peer" &&
          line+=" cairn $c / $peer = $(paired_ratio "${RPS_OF[$c $route]}" "${RPS_OF[$peer $route]}");"
      done
      has sqlite &&
        line+=" cairn $c / cairn sqlite = $(paired_ratio "${RPS_OF[$c $route]}" "${RPS_OF[sqlite $route]}");"
    done
    echo "${line%;}"
  done
fi
if ((COUNT_SECS > 0)); then
  cat <<EOF

What a request costs PostgreSQL (a ${COUNT_SECS} s run of each after the rounds; statements counted by
pg_stat_statements; the peer waits for each statement's answer, so its statements are its
round trips; Cairn sends reads and transaction control ahead, and SAVEPOINT, RELEASE and
BEGIN sent that way are not counted):

| route | server | statements / request | most frequent statements (calls per request) |
|---|---|---:|---|
EOF
  for route in get post; do
    for s in "${SCENARIOS[@]}"; do
      [[ $s == sqlite ]] && continue
      k="$s $route"
      echo "| $route | $s | ${STMTS_OF[$k]} | ${TOP_OF[$k]//|/\\|} |"
    done
  done
fi
