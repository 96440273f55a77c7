#!/usr/bin/env bash
# Benchmark: every goroutine of a real core dump with >= 100,000 goroutines,
# with full backtraces: `gosleuth core EXE CORE goroutines` vs Delve's
# `dlv core EXE CORE` running `goroutines -t DEPTH`, on the same files, in
# one run.
#
# The core is made by crashlab/bigdump (crashlab/README.md), which parks N
# goroutines (default 100,000) in 20 realistic stacks of depth 5-25 and
# waits; SIGQUIT under GOTRACEBACK=crash (and `ulimit -c unlimited`) makes
# it print every goroutine and dump core. It needs
# /proc/sys/kernel/core_pattern to be `core` (a file in the working
# directory). The executable and core are kept out of the repository, in
# bench/out/core/.
#
# Measured per tool: wall time (best of RUNS), peak RSS (/usr/bin/time), the
# number of goroutines each printed, and the ratios. gosleuth maps the core
# (peak RSS counts the pages it touched); Delve reads it with pread.
#
# Usage: bench/core_goroutines.sh [N]   (RUNS=3, DEPTH=64 by default;
#        --keep as the first argument reuses bench/out/core/core)
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=""
if [ "${1:-}" = "--keep" ]; then KEEP=1; shift; fi
N=${1:-100000}
RUNS=${RUNS:-3}
DEPTH=${DEPTH:-64}
OUT=bench/out/core
mkdir -p "$OUT"
GOBIN_DIR="$(go env GOPATH)/bin"
export PATH="$GOBIN_DIR:$PATH"

command -v dlv >/dev/null || go install github.com/go-delve/delve/cmd/dlv@v1.27.2

cargo build --release -q -p gosleuth
GOSLEUTH="${CARGO_TARGET_DIR:-target}/release/gosleuth"

EXE="$OUT/bigdump"
CORE="$OUT/core"
if [ -z "$KEEP" ] || [ ! -s "$CORE" ]; then
  pattern=$(cat /proc/sys/kernel/core_pattern)
  if [ "$pattern" != "core" ] && [ "$pattern" != "core.%p" ]; then
    echo "core_pattern is '$pattern': set it to 'core' to make the benchmark core" >&2
    exit 1
  fi
  (cd crashlab && go build -o "../$EXE" ./bigdump)
  rm -f "$CORE" "$OUT"/core.*
  (
    cd "$OUT"
    ulimit -c unlimited
    # bigdump -serve prints READY once every goroutine is parked, then
    # waits for stdin; SIGQUIT under GOTRACEBACK=crash dumps core.
    exec 3< <(sleep 3600)
    GOTRACEBACK=crash GOMAXPROCS=2 ./bigdump -n "$N" -serve <&3 >stdout.txt 2>stderr.txt &
    pid=$!
    for _ in $(seq 600); do grep -q '^READY' stdout.txt 2>/dev/null && break; sleep 1; done
    grep -q '^READY' stdout.txt || { echo "bigdump did not get ready" >&2; kill -9 $pid; exit 1; }
    kill -QUIT $pid
    wait $pid || true
  )
  [ -s "$CORE" ] || mv "$OUT"/core.* "$CORE" 2>/dev/null || true
  [ -s "$CORE" ] || { echo "no core was written" >&2; exit 1; }
fi
SIZE=$(stat -c %s "$CORE")
echo "input: $CORE, $SIZE bytes ($(awk -v s="$SIZE" 'BEGIN{printf "%.2f GB", s/1e9}')), executable $EXE; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

# best wall time and its peak RSS over RUNS runs (stdout kept in $OUT/$name.out)
measure() {
  local name=$1; shift
  local best="" rss=""
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || {
      echo "failed: $*" >&2; tail -5 "$OUT/$name.err" >&2; return 1; }
    read -r t m < "$OUT/time.txt"
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; rss=$m; fi
  done
  echo "$best $rss"
}

read -r T_G M_G < <(measure gosleuth "$GOSLEUTH" core "$EXE" "$CORE" goroutines)
read -r T_J M_J < <(measure gosleuth-json "$GOSLEUTH" core "$EXE" "$CORE" goroutines --format json)
read -r T_D M_D < <(measure dlv sh -c "printf 'goroutines -t $DEPTH\nexit\n' | dlv core --allow-non-terminal-interactive=true '$EXE' '$CORE'")

G_COUNT=$(grep -c '^goroutine ' "$OUT/gosleuth.out" || true)
D_COUNT=$(grep -c 'Goroutine [0-9]* - ' "$OUT/dlv.out" || true)
G_FRAMES=$(grep -c $'^\t' "$OUT/gosleuth.out" || true)
D_FRAMES=$(grep -cE '^[[:space:]]*[0-9]+  0x' "$OUT/dlv.out" || true)

report() { # name seconds rss_kb goroutines
  awk -v n="$1" -v t="$2" -v m="$3" -v g="$4" -v s="$SIZE" -v tg="$T_G" \
    'BEGIN{printf "%-16s %8.2f s %9.1f MB peak RSS (%4.1f%% of the core)  %7s goroutines  %6.1fx gosleuth time\n", n, t, m/1024, 100*m*1024/s, g, t/(tg>0?tg:0.001)}'
}
echo
report "gosleuth" "$T_G" "$M_G" "$G_COUNT"
report "gosleuth --json" "$T_J" "$M_J" "$G_COUNT"
report "dlv goroutines -t" "$T_D" "$M_D" "$D_COUNT"
echo
echo "frames printed: gosleuth $G_FRAMES (every frame), dlv $D_FRAMES (up to $DEPTH per goroutine)"
awk -v a="$T_D" -v b="$T_G" 'BEGIN{printf "gosleuth is %.1fx faster than Delve\n", a/(b>0?b:0.001)}'
