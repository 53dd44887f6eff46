#!/usr/bin/env bash
# Identity benchmark: JWT-authenticated reads against the same route with the bootstrap
# token (the cheapest credential), token refresh (rotation) throughput, and sign-in
# throughput with the p99 of /healthz measured during the sign-in flood.
# Prints Markdown for bench/RESULTS.md on stdout. Usage: bash bench/auth.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-8092}
U=http://127.0.0.1:$PORT
DATA=$(mktemp -d)
WORK=$(mktemp -d)
PW='vivid-Otter-42-lantern'
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA" "$WORK"' EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

"$BUILD/cairn" tenant create --slug bench --name Bench --data "$DATA" >/dev/null
printf '%s\n' "$PW" | "$BUILD/cairn" user create --tenant bench --email bench@bench.example \
  --role owner --password-stdin --data "$DATA" >/dev/null
CAIRN_RATE_IP_PER_MIN=10000000 CAIRN_RATE_USER_PER_MIN=10000000 CAIRN_RATE_AUTH_PER_MIN=10000000 \
CAIRN_BOOTSTRAP_TOKEN=bench-token CAIRN_LOCKOUT_ATTEMPTS=1000 CAIRN_ACCESS_LOG=false \
  "$BUILD/cairn" serve --listen "127.0.0.1:$PORT" --data "$DATA" 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/server.log" && break; sleep 0.05; done

LOGIN_BODY="{\"tenant\":\"bench\",\"email\":\"bench@bench.example\",\"password\":\"$PW\"}"
field() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s)['$1']))"; }
login() { curl -s -XPOST "$U/api/v1/auth/login" -H 'content-type: application/json' -d "$LOGIN_BODY"; }
AT=$(login | field access_token)
NOTE=$(curl -s -XPOST "$U/api/v1/notes" -H "authorization: Bearer $AT" -H 'content-type: application/json' \
  -d '{"title":"bench"}' | field id)
NOTE_B=$(curl -s -XPOST "$U/api/v1/notes" -H "authorization: Bearer bench-token" -H 'content-type: application/json' \
  -d '{"title":"bench"}' | field id)

rps() { awk '/Requests\/sec/ {print int($2)}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }

echo "### Identity benchmark $(date -u '+%Y-%m-%d %H:%M UTC') — \`$(git rev-parse --short HEAD)\`"
echo
echo "wrk \`-t1 -c64 -d${DURATION}s\`, $ROUNDS rounds alternating, 127.0.0.1, $(nproc) cores."
echo
echo "| round | GET note, bootstrap token req/s | GET note, JWT req/s | JWT / bootstrap |"
echo "|---:|---:|---:|---:|"
for r in $(seq "$ROUNDS"); do
  wrk -t1 -c64 -d"${DURATION}s" -H 'Authorization: Bearer bench-token' "$U/api/v1/notes/$NOTE_B" > "$WORK/b.txt"
  wrk -t1 -c64 -d"${DURATION}s" -H "Authorization: Bearer $AT" "$U/api/v1/notes/$NOTE" > "$WORK/j.txt"
  b=$(rps "$WORK/b.txt"); j=$(rps "$WORK/j.txt")
  echo "| $r | $b | $j | $((100 * j / b)) % |"
done

# Token refresh, ROUNDS rounds (the machine is shared: one round can land in a busy
# minute), each with 96 fresh sessions to rotate for 64 connections: wrk may ask for a
# request before the answer that refills the pool has been read, so the pool needs slack.
# Each round also runs bench-hello (the bare h2o ceiling) right before, as the measure of
# how busy the machine was.
HELLO_PORT=$((PORT + 1))
"$BUILD/bench-hello" --listen "127.0.0.1:$HELLO_PORT" >/dev/null 2>&1 &
HELLO_PID=$!
trap 'kill $PID $HELLO_PID 2>/dev/null; wait $PID $HELLO_PID 2>/dev/null; rm -rf "$DATA" "$WORK"' EXIT
sleep 0.3
echo
echo "| round | bench-hello req/s (same minute) | token refreshes/s (rotation: lookup + 2 writes in one transaction) | p99 | non-2xx |"
echo "|---:|---:|---:|---:|---:|"
refreshes=()
for r in $(seq "$ROUNDS"); do
  for _ in $(seq 96); do login | field refresh_token; done > "$WORK/tokens.txt"
  wrk -t1 -c64 -d"${DURATION}s" "http://127.0.0.1:$HELLO_PORT/" > "$WORK/h.txt"
  REFRESH_TOKENS="$WORK/tokens.txt" wrk -t1 -c64 -d"${DURATION}s" --latency -s bench/refresh.lua \
    "$U" > "$WORK/r.txt"
  refreshes+=("$(rps "$WORK/r.txt")")
  echo "| $r | $(rps "$WORK/h.txt") | $(rps "$WORK/r.txt") | $(p99 "$WORK/r.txt") | $(awk '/Non-2xx/ {print $NF}' "$WORK/r.txt" | grep . || echo 0) |"
done
echo
echo "Token refresh, median of $ROUNDS rounds: **$(printf '%s\n' "${refreshes[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')/s**."

LOGIN_BODY="$LOGIN_BODY" wrk -t1 -c16 -d"${DURATION}s" --latency -s bench/login.lua "$U" > "$WORK/l.txt" &
LPID=$!
sleep 1
wrk -t1 -c16 -d"$((DURATION - 2))s" --latency "$U/healthz" > "$WORK/h.txt"
wait $LPID
echo
echo "| sign-in flood (16 connections, argon2id m=19 MiB t=2 on $(grep -o '^server.workers = [0-9]*' <("$BUILD/cairn" config check) | awk '{print $3}') workers) | |"
echo "|---|---:|"
echo "| sign-ins/s | $(awk '/Requests\/sec/ {print $2}' "$WORK/l.txt") |"
echo "| /healthz during the flood: req/s | $(rps "$WORK/h.txt") |"
echo "| /healthz during the flood: p99 | $(p99 "$WORK/h.txt") |"
