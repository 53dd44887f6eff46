#!/usr/bin/env bash
# What authentication costs a read: wrk against an unauthenticated GET (/healthz), the
# same with the JWT's Authorization header sent along (a public route ignores it: the
# bytes on the wire and h2o's parsing of them, without any authentication), an
# authenticated GET whose handler does nothing more (GET /api/v1/auth/session with a JWT:
# token cache, live-session check, per-user rate limit, permission check, a small JSON
# answer), and GET /api/v1/users/me (the same plus one indexed read), interleaved in
# ROUNDS rounds so machine noise hits all of them. With BASE=path/to/other/cairn, the
# scenarios it has (not /auth/session before it existed) also run against that binary,
# interleaved with ours. Prints Markdown for bench/RESULTS.md.
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
# bench NAME PORT I: one wrk run of scenario I; appends req/s (or "-") to $WORK/NAME.I
bench() {
  local u="http://127.0.0.1:$2${PATHS[$3]}" auth=()
  [ "${AUTHS[$3]}" = 1 ] && auth=(-H "Authorization: Bearer $(cat "$WORK/$1.token")")
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$u")" != 200 ]; then
    echo - >> "$WORK/$1.$3"; return
  fi
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "${auth[@]}" "$u" > "$WORK/w.txt"
  if grep -q Non-2xx "$WORK/w.txt"; then echo "$1 ${PATHS[$3]}: non-2xx answers" >&2; exit 1; fi
  rps "$WORK/w.txt" >> "$WORK/$1.$3"
}
pct() { [ "$1" = - ] || [ "$2" = - ] && echo - || echo "$((100 * $1 / $2)) %"; }

NAMES=(this)
start this "$BUILD/cairn" "$PORT"
if [ -n "$BASE" ]; then start base "$BASE" $((PORT + 1)); NAMES+=(base); fi
port_of() { [ "$1" = this ] && echo "$PORT" || echo $((PORT + 1)); }

echo "### Authenticated GET against unauthenticated $(date -u '+%Y-%m-%d %H:%M UTC') — \`$(git rev-parse --short HEAD)\`"
echo
echo "wrk \`-t1 -c$CONNECTIONS -d${DURATION}s\`, $ROUNDS rounds, scenarios interleaved, 127.0.0.1, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start."
[ -n "$BASE" ] && echo "\`base\` is \`$BASE\`."
echo
echo "| round | server | /healthz | /healthz + JWT header | /api/v1/auth/session (JWT) | /api/v1/users/me (JWT) | session / healthz | session / healthz+header | me / healthz |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
for r in $(seq "$ROUNDS"); do
  for i in 0 1 2 3; do
    for n in "${NAMES[@]}"; do bench "$n" "$(port_of "$n")" "$i"; done
  done
  for n in "${NAMES[@]}"; do
    h=$(tail -1 "$WORK/$n.0"); hh=$(tail -1 "$WORK/$n.1"); a=$(tail -1 "$WORK/$n.2"); m=$(tail -1 "$WORK/$n.3")
    echo "| $r | $n | $h | $hh | $a | $m | $(pct "$a" "$h") | $(pct "$a" "$hh") | $(pct "$m" "$h") |"
  done
done
echo
med() { { grep -vx -e - "$1" || true; } | median; }
for n in "${NAMES[@]}"; do
  h=$(med "$WORK/$n.0"); hh=$(med "$WORK/$n.1"); a=$(med "$WORK/$n.2"); m=$(med "$WORK/$n.3")
  a=${a:--}
  echo "- \`$n\`, medians (req/s): /healthz **$h**, with the header **$hh**, /api/v1/auth/session **$a** ($(pct "$a" "$h") of /healthz, $(pct "$a" "$hh") of /healthz with the header), /api/v1/users/me **$m** ($(pct "$m" "$h"))."
done
