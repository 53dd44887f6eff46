#!/usr/bin/env bash
# What authentication costs a read: wrk against an unauthenticated GET (/healthz), the
# same with the JWT's Authorization header sent along (a public route ignores it: the
# bytes on the wire and h2o's parsing of them, without any authentication), an
# authenticated GET whose handler does nothing more (GET /api/v1/auth/session with a JWT:
# token cache, live-session check, per-user rate limit, permission check, a small JSON
# answer), and GET /api/v1/users/me (the same plus one indexed read), interleaved in
# ROUNDS rounds so machine noise hits all of them. With BASE=path/to/other/cairn, the
# scenarios it has (not /auth/session before it existed) also run against that binary,
# interleaved with ours. Besides wrk's req/s, each run reports the server's CPU time per
# request (utime + stime from /proc over the run): on a shared, noisy machine req/s swings
# by a third between minutes, the CPU a request costs much less.
# Prints Markdown for bench/RESULTS.md.
# Usage: [BASE=path/to/cairn] [ROUNDS=5] [DURATION=5] bash bench/session_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BASE=${BASE:-}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-5}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-8094}
PW='vivid-Otter-42-lantern'
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# start NAME BINARY PORT: a fresh data dir with one member, a server, and its token in $WORK/NAME.token
start() {
  local name=$1 bin=$2 port=$3 data="$WORK/$1-data"
  mkdir -p "$data"
  "$bin" tenant create --slug bench --name Bench --data "$data" >/dev/null
  printf '%s\n' "$PW" | "$bin" user create --tenant bench --email bench@bench.example \
    --role member --password-stdin --data "$data" >/dev/null
  CAIRN_RATE_IP_PER_MIN=10000000 CAIRN_RATE_USER_PER_MIN=10000000 CAIRN_RATE_AUTH_PER_MIN=10000000 \
  CAIRN_ACCESS_LOG=false "$bin" serve --listen "127.0.0.1:$port" --data "$data" 2>"$WORK/$name.log" &
  PIDS+=($!)
  echo $! > "$WORK/$name.pid"
  for _ in $(seq 100); do grep -q "listening on" "$WORK/$name.log" && break; sleep 0.05; done
  curl -s -XPOST "http://127.0.0.1:$port/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"tenant\":\"bench\",\"email\":\"bench@bench.example\",\"password\":\"$PW\"}" |
    node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).access_token))" \
    > "$WORK/$name.token"
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $(cat "$WORK/$name.token")" \
    "http://127.0.0.1:$port/api/v1/users/me")
  [ "$code" = 200 ] || { echo "$name: GET /api/v1/users/me answered $code" >&2; exit 1; }
}

rps() { awk '/Requests\/sec/ {print int($2)}' "$1"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
PATHS=(/healthz /healthz /api/v1/auth/session /api/v1/users/me)
AUTHS=(0 1 1 1)
# bench NAME PORT I: one wrk run of scenario I; appends "req/s us" (or "- -") to $WORK/NAME.I,
# us being the server's CPU microseconds per request
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
bench() {
  local u="http://127.0.0.1:$2${PATHS[$3]}" auth=() pid c0 c1 n
  [ "${AUTHS[$3]}" = 1 ] && auth=(-H "Authorization: Bearer $(cat "$WORK/$1.token")")
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$u")" != 200 ]; then
    echo "- -" >> "$WORK/$1.$3"; return
  fi
  pid=$(cat "$WORK/$1.pid"); c0=$(cpu_ticks "$pid")
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "${auth[@]}" "$u" > "$WORK/w.txt"
  c1=$(cpu_ticks "$pid")
  if grep -q Non-2xx "$WORK/w.txt"; then echo "$1 ${PATHS[$3]}: non-2xx answers" >&2; exit 1; fi
  n=$(awk '/^ *[0-9]+ requests in/ {print $1}' "$WORK/w.txt")
  echo "$(rps "$WORK/w.txt") $(awk -v c=$((c1 - c0)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.2f", c * 1e6 / hz / n }')" >> "$WORK/$1.$3"
}
pct() { [ "$1" = - ] || [ "$2" = - ] && echo - || echo "$((100 * $1 / $2)) %"; }
ratio() { [ "$1" = - ] || [ "$2" = - ] && echo - || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

NAMES=(this)
start this "$BUILD/cairn" "$PORT"
if [ -n "$BASE" ]; then start base "$BASE" $((PORT + 1)); NAMES+=(base); fi
port_of() { [ "$1" = this ] && echo "$PORT" || echo $((PORT + 1)); }

echo "### Authenticated GET against unauthenticated $(date -u '+%Y-%m-%d %H:%M UTC') — \`$(git rev-parse --short HEAD)\`"
echo
echo "wrk \`-t1 -c$CONNECTIONS -d${DURATION}s\`, $ROUNDS rounds, scenarios interleaved, 127.0.0.1, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start."
[ -n "$BASE" ] && echo "\`base\` is \`$BASE\`."
echo
echo "Each cell: req/s, then the server's CPU µs per request."
echo
echo "| round | server | /healthz | /healthz + JWT header | /api/v1/auth/session (JWT) | /api/v1/users/me (JWT) |"
echo "|---:|---|---:|---:|---:|---:|"
for r in $(seq "$ROUNDS"); do
  for i in 0 1 2 3; do
    for n in "${NAMES[@]}"; do bench "$n" "$(port_of "$n")" "$i"; done
  done
  for n in "${NAMES[@]}"; do
    row="| $r | $n |"
    for i in 0 1 2 3; do read -r q u < <(tail -1 "$WORK/$n.$i"); row="$row $q · $u |"; done
    echo "$row"
  done
done
echo
col() { { awk -v c="$2" '$c != "-" {print $c}' "$1" || true; } | median; }
for n in "${NAMES[@]}"; do
  for i in 0 1 2 3; do q[$i]=$(col "$WORK/$n.$i" 1); u[$i]=$(col "$WORK/$n.$i" 2); q[$i]=${q[$i]:--}; u[$i]=${u[$i]:--}; done
  echo "- \`$n\`, medians: /healthz ${q[0]}/s · ${u[0]} µs; with the header ${q[1]}/s · ${u[1]} µs;" \
    "/api/v1/auth/session ${q[2]}/s · ${u[2]} µs; /api/v1/users/me ${q[3]}/s · ${u[3]} µs." \
    "Authenticated against unauthenticated: req/s $(pct "${q[2]}" "${q[0]}") of /healthz," \
    "$(pct "${q[2]}" "${q[1]}") of /healthz with the header; CPU per request ×$(ratio "${u[2]}" "${u[0]}")" \
    "and ×$(ratio "${u[2]}" "${u[1]}")."
done
