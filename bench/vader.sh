#!/usr/bin/env bash
# VADER sentiment throughput: Cairn's C scorer (src/lib/vader.c) against the npm reference
# (vader-sentiment 1.1.3 on node), one thread each, on the same corpus of short texts (5-20
# words, from tests/vader/make_corpus.mjs). Compiles bench/vader.c itself (no CMake target)
# and prints a Markdown block for bench/RESULTS.md on stdout.
#
#   bash bench/vader.sh > /tmp/vader.md
#
# Environment knobs: CC=cc TEXTS=10000 ROUNDS=50 MAX_SECONDS=5 (each side stops at whichever
# of ROUNDS passes over the corpus or MAX_SECONDS comes first).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
CC=${CC:-cc}
TEXTS=${TEXTS:-10000}
ROUNDS=${ROUNDS:-50}
MAX_SECONDS=${MAX_SECONDS:-5}
VADER_DIR="$REPO_DIR/node_modules/vader-sentiment"
[[ -f $VADER_DIR/vader_lexicon.txt ]] || { echo "[bench] $VADER_DIR missing: npm install" >&2; exit 1; }

work=$(mktemp -d /tmp/cairn-bench-vader-XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "[bench] corpus: $TEXTS short texts" >&2
node "$REPO_DIR/tests/vader/make_corpus.mjs" "$work/corpus.tsv" "$TEXTS" short
(cd "$VADER_DIR" && xxd -i vader_lexicon.txt) >"$work/vader_lexicon.c"
"$CC" -O2 -std=gnu17 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$REPO_DIR/src" \
  "$BENCH_DIR/vader.c" "$REPO_DIR/src/lib/vader.c" "$work/vader_lexicon.c" \
  -lpthread -lm -o "$work/bench-vader"

echo "[bench] C" >&2
c_out=$("$work/bench-vader" "$work/corpus.tsv" --rounds "$ROUNDS" --seconds "$MAX_SECONDS")
echo "$c_out" >&2
echo "[bench] node" >&2
js_out=$(node "$BENCH_DIR/vader_ref.mjs" "$work/corpus.tsv" "$ROUNDS" "$MAX_SECONDS")
echo "$js_out" >&2

field() { awk -v k="$1" '$1 == k {print $2}'; }
c_rate=$(field texts/s: <<<"$c_out")
js_rate=$(field texts/s: <<<"$js_out")
c_cpu=$(field texts/cpu-s: <<<"$c_out")
js_cpu=$(field texts/cpu-s: <<<"$js_out")
[[ $(field checksum: <<<"$c_out") == $(field checksum: <<<"$js_out") ]] ||
  echo "[bench] warning: checksums differ: the scorers disagree on this corpus" >&2

rev=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$REPO_DIR" status --porcelain 2>/dev/null) ]] || rev="$rev-dirty"
echo "### VADER sentiment $(date -u +'%Y-%m-%d %H:%M') UTC — \`$rev\`"
echo
echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo "One thread each, $TEXTS short texts ($(sed -n 's/.*texts: [0-9]* (\([0-9.]*\) bytes.*/\1/p' <<<"$c_out") bytes on average), up to $ROUNDS passes or $MAX_SECONDS s; \`$CC -O2\`, node $(node --version). Both give the same checksum (sum of compounds). Per CPU-second is the figure to compare on a loaded machine; node's CPU time includes its GC threads."
echo
echo "| scorer | texts/s (wall) | texts per CPU-second |"
echo "|---|---|---|"
echo "| Cairn \`cn_vader_score\` (C) | $c_rate | $c_cpu |"
echo "| npm vader-sentiment 1.1.3 (node) | $js_rate | $js_cpu |"
awk -v c="$c_rate" -v j="$js_rate" -v cc="$c_cpu" -v jc="$js_cpu" \
  'BEGIN { printf "| **C / node** | **%.0f×** | **%.0f×** |\n", c / j, cc / jc }'
