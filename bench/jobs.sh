#!/usr/bin/env bash
# Job queue benchmark: runs bench-jobs (enqueue N trivial jobs in transactions of B while
# W workers run them; jobs/s from the first enqueue to the last job done) ROUNDS times on
# fresh databases and prints a Markdown block for bench/RESULTS.md on stdout.
#
#   cmake --build build --target bench-jobs && bash bench/jobs.sh > /tmp/jobs.md
#
# Environment knobs: BUILD=build ROUNDS=3 JOBS=200000 BATCH=1000 WORKERS=2
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROUNDS=${ROUNDS:-3}
JOBS=${JOBS:-200000}
BATCH=${BATCH:-1000}
WORKERS=${WORKERS:-2}
BIN="$BUILD/bench-jobs"
[[ -x $BIN ]] || { echo "[bench] $BIN not found: cmake --build $BUILD --target bench-jobs" >&2; exit 1; }

results=()
for ((r = 1; r <= ROUNDS; r++)); do
  dir=$(mktemp -d /tmp/cairn-bench-jobs-XXXXXX)
  out=$("$BIN" --jobs "$JOBS" --batch "$BATCH" --workers "$WORKERS" --data "$dir")
  rm -rf "$dir"
  e2e=$(awk '/^end to end:/ {print $4}' <<<"$out")
  enq=$(awk '/^enqueue only:/ {print $3}' <<<"$out")
  echo "[bench] round $r: end to end $e2e jobs/s, enqueue $enq jobs/s" >&2
  results+=("$r $e2e $enq")
done

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
rev=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$REPO_DIR" status --porcelain 2>/dev/null) ]] || rev="$rev-dirty"
echo "### Job queue $(date -u +'%Y-%m-%d %H:%M') UTC — \`$rev\`"
echo
echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)."
echo "\`bench-jobs --jobs $JOBS --batch $BATCH --workers $WORKERS\` ($(basename "$BUILD") build), trivial handler, fresh database each round."
echo
echo "| round | end to end jobs/s | enqueue only jobs/s |"
echo "|---|---|---|"
for line in "${results[@]}"; do
  read -r r e2e enq <<<"$line"
  echo "| $r | $e2e | $enq |"
done
printf '| **median** | **%s** | %s |\n' \
  "$(for l in "${results[@]}"; do echo "$l" | awk '{print $2}'; done | median)" \
  "$(for l in "${results[@]}"; do echo "$l" | awk '{print $3}'; done | median)"
