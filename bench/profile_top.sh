#!/usr/bin/env bash
# Benchmark: `gosleuth profile top` vs `go tool pprof -top` on one large,
# real CPU profile, and flame-graph SVG generation alone.
#
# How the input is made (kept out of the repo, in bench/out/profile/):
#  1. bench/gen_deepstacks.py writes a Go program of 25,000 functions in 50
#     packages that call each other along pseudo-random paths 20-60 frames
#     deep (deep, varied stacks: nearly every sample is a distinct stack,
#     ~100,000 call sites).
#  2. It is run RUNS times (default 12) with a CPU profile at 5 kHz for
#     SECS seconds (default 12) on all cores, each with its own seed.
#  3. The profiles are merged with google/pprof's own profile package
#     (bench/labelmerge) into bench/out/profile/merged.pb.gz. On this
#     2-core machine, shared with other work, a 5 kHz profiler collects
#     only ~200 samples per second, so a million real samples would take
#     hours: each run's profile is merged as C labelled copies (label
#     run=N, so copies stay separate samples, exactly as C separately
#     profiled runs would), C chosen to reach >= 1,000,000 samples. Stacks,
#     locations and functions are all real; >= 100,000 locations is
#     checked too.
#
# Then, on the same file and in one run: wall time and peak RSS
# (/usr/bin/time -v) of `gosleuth profile top` and of pprof -top (the pprof
# binary of the Go toolchain, run directly (`go tool -n pprof`) so the `go`
# wrapper is not counted, and `go tool pprof` as users type it), the ratios, and the time
# of `gosleuth profile flame` (SVG) alone. Release build.
#
# Usage: bench/profile_top.sh [--keep]   (--keep reuses bench/out/profile/merged.pb.gz)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/profile
RUNS=${RUNS:-12}
SECS=${SECS:-12}
mkdir -p "$OUT"
GOSLEUTH=${GOSLEUTH:-}
if [ -z "$GOSLEUTH" ]; then
  cargo build --release -p gosleuth >&2
  GOSLEUTH="${CARGO_TARGET_DIR:-target}/release/gosleuth"
fi
# Since Go 1.24 `go tool pprof` runs a cached build; -n prints its path.
PPROF="$(go tool -n pprof)"

if [ "${1:-}" != "--keep" ] || [ ! -f "$OUT/merged.pb.gz" ]; then
  rm -rf "$OUT/src" "$OUT"/cpu-*.pb.gz
  python3 bench/gen_deepstacks.py "$OUT/src" 25000
  (cd "$OUT/src" && go build -o ../deepstacks .)
  for i in $(seq 1 "$RUNS"); do
    "$OUT/deepstacks" -o "$OUT/cpu-$i.pb.gz" -d "${SECS}s" -hz 5000 -seed "$i" 2>/dev/null
    echo "profile $i/$RUNS written" >&2
  done
  # As many labelled copies of each run's profile as it takes to reach a
  # million samples (each copy is merged as a separate run: its samples
  # carry their own `run` label, so none are combined with another run's).
  (cd bench/labelmerge && go build -o "$OLDPWD/$OUT/labelmerge" .)
  base=$("$GOSLEUTH" --format json profile top --sample-index samples -n 1 "$OUT"/cpu-*.pb.gz \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
  copies=$(( (1000000 + base - 1) / base ))
  echo "$RUNS profiles hold $base samples: merging $copies labelled copies of each" >&2
  "$OUT/labelmerge" -copies "$copies" -o "$OUT/merged.pb.gz" "$OUT"/cpu-*.pb.gz
fi

# Size of the input, from gosleuth's JSON (samples = Σ samples/count).
stats=$("$GOSLEUTH" --format json profile export -o /dev/null "$OUT/merged.pb.gz")
samples=$("$GOSLEUTH" --format json profile top --sample-index samples -n 1 "$OUT/merged.pb.gz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
records=$(echo "$stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["samples"])')
locations=$(echo "$stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["locations"])')
size=$(stat -c %s "$OUT/merged.pb.gz")
echo "input: $OUT/merged.pb.gz, $size bytes gzipped; $samples samples in $records sample records; $locations locations"
if [ "$samples" -lt 1000000 ] || [ "$locations" -lt 100000 ]; then
  echo "input too small (need >= 1,000,000 samples and >= 100,000 locations): raise RUNS or SECS" >&2
  exit 1
fi

measure() { # label, command...
  local label=$1; shift
  local log; log=$(mktemp)
  /usr/bin/time -v "$@" > /dev/null 2> "$log"
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  # CPU time (user + system): steadier than wall time on a shared machine.
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$log")
  rm -f "$log"
  # m:ss.cc -> seconds
  local secs; secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  printf '%-28s %9.2f s wall  %9.2f s CPU  %9d kB peak RSS\n' "$label" "$secs" "$cpu" "$rss" >&2
  echo "$secs $rss"
}

read -r g_s g_kb < <(measure "gosleuth profile top" "$GOSLEUTH" profile top "$OUT/merged.pb.gz")
read -r p_s p_kb < <(measure "pprof -top (tool binary)" "$PPROF" -top "$OUT/merged.pb.gz")
read -r gt_s gt_kb < <(measure "go tool pprof -top" go tool pprof -top "$OUT/merged.pb.gz")
read -r f_s f_kb < <(measure "gosleuth profile flame (SVG)" "$GOSLEUTH" profile flame -o "$OUT/flame.svg" "$OUT/merged.pb.gz")
python3 - "$g_s" "$g_kb" "$p_s" "$p_kb" "$gt_s" "$gt_kb" <<'PY'
import sys
g_s, g_kb, p_s, p_kb, gt_s, gt_kb = map(float, sys.argv[1:])
print(f"speed: pprof -top / gosleuth top = {p_s / g_s:.1f}x (go tool pprof: {gt_s / g_s:.1f}x)")
print(f"memory: pprof peak RSS / gosleuth peak RSS = {p_kb / g_kb:.1f}x")
PY
echo "flame graph: $(stat -c %s "$OUT/flame.svg") bytes SVG in ${f_s}s, ${f_kb} kB peak RSS"
