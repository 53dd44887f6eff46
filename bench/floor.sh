#!/usr/bin/env bash
# The storage floor of the write benchmarks: runs bench-floor (the production write path
# without HTTP, one writer and the checkpointer) for notes, single and batch ingest,
# ROUNDS times each on fresh databases, and prints a Markdown block for bench/RESULTS.md.
#
#   cmake --build build --target bench-floor && bash bench/floor.sh > /tmp/floor.md
#
# Environment knobs: BUILD=build ROUNDS=3 NOTES=200000 SINGLE=60000 BATCH=200000
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROUNDS=${ROUNDS:-3}
NOTES=${NOTES:-200000}
SINGLE=${SINGLE:-60000}
BATCH=${BATCH:-200000}
BIN="$BUILD/bench-floor"
[[ -x $BIN ]] || { echo "[bench] $BIN not found: cmake --build $BUILD --target bench-floor" >&2; exit 1; }

work=$(mktemp -d /tmp/cairn-bench-floor-XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -pthread -o "$work/insights_load" "$BENCH_DIR/insights_load.c"
"$work/insights_load" bodies 20000 --minutes 10 >"$work/bodies.ndjson"

run() { # mode items: one line of bench-floor's output
  rm -rf "$work/data" && mkdir "$work/data"
  "$BIN" "$1" --items "$2" --bodies "$work/bodies.ndjson" --data "$work/data"
}

rows=()
for ((r = 1; r <= ROUNDS; r++)); do # the modes interleaved, so drift hits each alike
  for m in "notes $NOTES" "single $SINGLE" "batch $BATCH"; do
    read -r mode n <<<"$m"
    out=$(run "$mode" "$n")
    echo "[bench] round $r: $out" >&2
    # "MODE: N items, G a commit, S s: R items/s | CPU per item: writer W us, checkpointer C us | parse and validate P us ..."
    rows+=("$(awk -v r="$r" '{gsub(/[:,|]/, " "); print r, $1, $4, $9, $15, $18, $23}' <<<"$out")")
  done
done

rev=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$REPO_DIR" status --porcelain 2>/dev/null) ]] || rev="$rev-dirty"
echo "### Storage floor $(date -u +'%Y-%m-%d %H:%M') UTC — \`$rev\`"
echo
echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)."
echo "\`bench-floor\` ($(basename "$BUILD") build), fresh database each run, bodies from \`insights_load bodies 20000 --minutes 10\`."
echo
echo "| round | write | items a commit | items/s | writer µs/item | checkpointer µs/item | parse + validate µs/item (not in the rate) |"
echo "|---|---|---:|---:|---:|---:|---:|"
for line in "${rows[@]}"; do
  read -r r mode g rate w c p <<<"$line"
  echo "| $r | $mode | $g | $rate | $w | $c | $p |"
done
