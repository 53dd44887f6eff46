#!/usr/bin/env bash
# Instructions per request, counted by callgrind (deterministic where req/s on a shared
# machine is not): bench-hello GET /, cairn GET /healthz and GET /api/v1/notes/{id}.
# Each scenario runs its server twice under valgrind --tool=callgrind, sends N1 and then
# N2 keep-alive GETs (bench/kaget.c, CONNS connections, after 200 to warm up) and reports
# (Ir(N2) - Ir(N1)) / (N2 - N1): start-up and shutdown cancel out. Timers (job polling,
# checkpoints, log flushes) run on wall time, which valgrind stretches: they add a few
# hundred instructions per request that a native run spreads over far more requests.
#
#   bash bench/callgrind.sh                  # BUILD=build
#   BASE=/path/to/old/build bash bench/callgrind.sh   # the same for an older build, side by side
#
# Knobs: BUILD, BASE, N1=1000, N2=9000, CONNS=16, SCENARIOS="hello healthz get",
# KEEP=DIR (keeps the callgrind.out files, for callgrind_annotate).
set -euo pipefail

log() { printf '[callgrind] %s\n' "$*" >&2; }
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N1=${N1:-1000}
N2=${N2:-9000}
CONNS=${CONNS:-16}
SCENARIOS=${SCENARIOS:-hello healthz get}
TOKEN=bench-token
BASE=${BASE:-}
[[ -z $BASE || $BASE == /* ]] || BASE="$REPO_DIR/$BASE"

command -v valgrind >/dev/null || { log "valgrind not found"; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-callgrind.XXXXXX")
SERVER_PID=
cleanup() {
  stop_pid "$SERVER_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
cc -O2 -o "$WORK/kaget" "$BENCH_DIR/kaget.c"

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# total_ir BUILD_DIR SCENARIO N -> the program's total Ir for one server run with N requests
total_ir() {
  local dir=$1 scenario=$2 n=$3 port out data path=/ t
  port=$(free_port)
  out="$WORK/cg.$scenario.$n.$RANDOM$RANDOM"
  data=$(mktemp -d "$WORK/data.XXXXXX")
  if [[ $scenario == hello ]]; then
    valgrind --tool=callgrind --callgrind-out-file="$out" "$dir/bench-hello" --threads 2 \
      --listen "127.0.0.1:$port" >"$data/server.log" 2>&1 &
  else
    CAIRN_RATE_IP_PER_MIN=10000000 CAIRN_RATE_USER_PER_MIN=10000000 CAIRN_BOOTSTRAP_TOKEN=$TOKEN \
      valgrind --tool=callgrind --callgrind-out-file="$out" "$dir/cairn" serve \
      --listen "127.0.0.1:$port" --data "$data/db" >"$data/server.log" 2>&1 &
  fi
  SERVER_PID=$!
  for t in $(seq 600); do
    grep -qs "listening on http://" "$data/server.log" && break
    ((t < 600)) || { tail "$data/server.log" >&2; return 1; }
    sleep 0.1
  done
  [[ $scenario == healthz ]] && path=/healthz
  if [[ $scenario == get ]]; then
    path=/api/v1/notes/$(curl -s -X POST -H 'Content-Type: application/json' \
      -H "Authorization: Bearer $TOKEN" --data '{"title":"t","body":"b"}' \
      "http://127.0.0.1:$port/api/v1/notes" |
      node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).id))')
  fi
  "$WORK/kaget" 127.0.0.1 "$port" "$path" 200 "$CONNS" "$TOKEN"
  "$WORK/kaget" 127.0.0.1 "$port" "$path" "$n" "$CONNS" "$TOKEN"
  stop_pid "$SERVER_PID"
  SERVER_PID=
  [[ -z ${KEEP:-} ]] || { mkdir -p "$KEEP" && cp "$out" "$KEEP/"; }
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1 }'
}

per_request() {
  local a b
  a=$(total_ir "$1" "$2" "$N1")
  b=$(total_ir "$1" "$2" "$N2")
  echo $(((b - a) / (N2 - N1)))
}

declare -A IR BASE_IR
for s in $SCENARIOS; do
  log "$s: $BUILD"
  IR[$s]=$(per_request "$BUILD" "$s")
  if [[ -n $BASE ]]; then
    log "$s: $BASE"
    BASE_IR[$s]=$(per_request "$BASE" "$s")
  fi
done

echo "Instructions per request (callgrind Ir, $N1 vs $N2 requests over $CONNS keep-alive connections):"
echo
if [[ -n $BASE ]]; then
  echo "| scenario | \`$BASE\` | \`$BUILD\` | change |"
  echo "|---|---:|---:|---:|"
  for s in $SCENARIOS; do
    echo "| $s | ${BASE_IR[$s]} | ${IR[$s]} | $(awk -v a="${BASE_IR[$s]}" -v b="${IR[$s]}" 'BEGIN { printf "%+.1f %%", 100 * (b - a) / a }') |"
  done
else
  echo "| scenario | Ir/request |"
  echo "|---|---:|"
  for s in $SCENARIOS; do echo "| $s | ${IR[$s]} |"; done
fi
