#!/usr/bin/env bash
# Benchmark: parse-and-group of a real all-goroutines dump of >= 100,000
# goroutines: gosleuth vs panicparse's `pp` vs DataDog/gostackparse's
# `gostack2json`, on the same file, in one run.
#
# The dump is made by crashlab/bigdump (crashlab/README.md): it parks N
# goroutines (default 100,000) in 20 realistic stacks of depth 5-25 and
# writes runtime.Stack(buf, true) to a file (~160 MB at 100k goroutines;
# /debug/pprof/goroutine?debug=2 would stop at 64 MiB). It is kept out of the
# repository, in bench/out/.
#
# Measured per tool: wall time (best of RUNS), MB/s, peak RSS (/usr/bin/time),
# and the ratios to gosleuth. gostack2json parses and prints JSON; pp parses,
# buckets and prints text; gosleuth parses, groups and prints its group view.
#
# Usage: bench/goroutines.sh [N]     (RUNS=5 by default for gosleuth and
#        gostack2json; PP_RUNS=1 for pp, which takes minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
RUNS=${RUNS:-5}
PP_RUNS=${PP_RUNS:-1}
OUT=bench/out/goroutines
mkdir -p "$OUT"
DUMP="$OUT/dump-$N.txt"
GOBIN_DIR="$(go env GOPATH)/bin"
export PATH="$GOBIN_DIR:$PATH"

command -v pp >/dev/null || go install github.com/maruel/panicparse/v2/cmd/pp@v2.5.0
command -v gostack2json >/dev/null || go install github.com/DataDog/gostackparse/cmd/gostack2json@v0.7.0

cargo build --release -q -p gosleuth
GOSLEUTH=target/release/gosleuth

if [ ! -s "$DUMP" ]; then
  (cd crashlab && go build -o "../$OUT/bigdump" ./bigdump)
  "$OUT/bigdump" -n "$N" -o "$DUMP" >/dev/null
fi
SIZE=$(stat -c %s "$DUMP")
echo "input: $DUMP, $SIZE bytes, $(grep -c '^goroutine ' "$DUMP") goroutines; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

# best wall time and its peak RSS over RUNS runs of a command (stdout discarded)
measure() {
  local best="" rss=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" >/dev/null 2>"$OUT/stderr.txt" || {
      echo "failed: $*" >&2; cat "$OUT/stderr.txt" >&2; return 1; }
    read -r t m < "$OUT/time.txt"
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; rss=$m; fi
  done
  echo "$best $rss"
}

read -r T_G M_G < <(measure "$GOSLEUTH" goroutines "$DUMP")
read -r T_S M_S < <(measure sh -c "gostack2json < '$DUMP'")
read -r T_P M_P < <(RUNS=$PP_RUNS measure pp -no-color "$DUMP")

report() { # name seconds rss_kb
  awk -v n="$1" -v t="$2" -v m="$3" -v s="$SIZE" -v tg="$T_G" \
    'BEGIN{printf "%-14s %8.2f s %9.0f MB/s %8.1f MB peak RSS   %6.1fx gosleuth time\n", n, t, s/1e6/(t>0?t:0.001), m/1024, t/(tg>0?tg:0.001)}'
}
echo
report gosleuth "$T_G" "$M_G"
report gostack2json "$T_S" "$M_S"
report pp "$T_P" "$M_P"
awk -v m="$M_G" -v s="$SIZE" 'BEGIN{printf "\ngosleuth peak RSS is %.0f%% of the dump size\n", 100*m*1024/s}'
