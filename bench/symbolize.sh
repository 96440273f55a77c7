#!/usr/bin/env bash
# Benchmark: `gosleuth binary symbolize` vs `go tool addr2line` on 1,000,000
# addresses of one large real Go binary, and `gosleuth binary info` on it.
#
# The input (kept out of the repo, in bench/out/): gopls, the Go language
# server (golang.org/x/tools/gopls@v0.23.0, ~40 MB, dozens of modules),
# built from the Go module proxy with the machine's Go. N addresses (default
# 1,000,000) are drawn uniformly over its Go text with a fixed seed.
#
# Then, on the same addresses and in one run: `gosleuth binary symbolize`
# (text and --format json), the toolchain's addr2line binary run directly
# (so the `go` command wrapper is not counted) and `go tool addr2line` as
# users type it, each writing its answers to a file, ROUNDS times (default
# 3) interleaved, the best wall time of each with its CPU time and peak
# RSS (one run each swings by a third on a shared 2-core VM); the
# throughput ratio; a check that
# both name the same function and file:line for every address (addr2line
# reports the physical function and the innermost inlined position, see
# docs/json-binary.md); the three tools again with their output
# discarded, which measures the tools rather than the kernel's page-cache
# writes (gosleuth's text answers are ~180 MB, addr2line's ~115 MB; on a
# 2-core VM writing them costs 0.1-0.2 s of kernel time, a large share of
# gosleuth's run and a small one of addr2line's): RUNS interleaved runs
# (default 5) with mean, deviation and best, then hyperfine when it is
# installed; the time `cat` takes to write gosleuth's answers to a new
# file; and `gosleuth binary info` (best of 20 runs). Release build.
#
# Usage: bench/symbolize.sh [--keep]   (--keep reuses bench/out/gopls)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
N=${N:-1000000}
GOPLS_VERSION=${GOPLS_VERSION:-v0.23.0}
mkdir -p "$OUT"
GOSLEUTH=${GOSLEUTH:-}
if [ -z "$GOSLEUTH" ]; then
  cargo build --release -p gosleuth >&2
  GOSLEUTH="${CARGO_TARGET_DIR:-target}/release/gosleuth"
fi
# The toolchain's addr2line, run directly so the `go` wrapper is not
# counted; Go 1.26 no longer ships it prebuilt, so build it from GOROOT.
ADDR2LINE="$(go env GOTOOLDIR)/addr2line"
if [ ! -x "$ADDR2LINE" ]; then
  ADDR2LINE="$OUT/addr2line"
  go build -o "$ADDR2LINE" cmd/addr2line
fi
EXE="$OUT/gopls"

if [ "${1:-}" != "--keep" ] || [ ! -x "$EXE" ]; then
  echo "building gopls@$GOPLS_VERSION (module proxy) ..." >&2
  GOBIN="$(pwd)/$OUT" GOFLAGS=-mod=mod go install "golang.org/x/tools/gopls@$GOPLS_VERSION"
fi

# N addresses uniformly over the Go text (first function .. end of last).
"$GOSLEUTH" --format json binary info "$EXE" > "$OUT/info.json"
python3 - "$OUT/info.json" "$N" > "$OUT/addrs.txt" <<'EOF'
import json, random, sys
info = json.load(open(sys.argv[1]))
start = int(info["text"]["start"], 16)
size = info["text"]["size"]
rng = random.Random(20261127)
sys.stdout.write("".join("%#x\n" % (start + rng.randrange(size)) for _ in range(int(sys.argv[2]))))
EOF
echo "input: $EXE ($(du -h "$EXE" | cut -f1), $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["functions"])' "$OUT/info.json") functions, $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["text"]["size"])' "$OUT/info.json") bytes of text), $N addresses" >&2

# Each tool writes its answers to a file, ROUNDS times (default 3), the
# tools interleaved so that all see the same load; the best wall time of
# each counts (with the CPU time and peak RSS of that run, from wait4).
python3 - "$GOSLEUTH" "$ADDR2LINE" "$EXE" "$OUT" "${ROUNDS:-3}" <<'EOF'
import os, subprocess, sys, time
gosleuth, addr2line, exe, out, rounds = sys.argv[1:6]
tools = {
    "gosleuth-text": ([gosleuth, "binary", "symbolize", exe], "gosleuth.txt"),
    "gosleuth-json": ([gosleuth, "--format", "json", "binary", "symbolize", exe], "gosleuth.json"),
    "addr2line": ([addr2line, exe], "addr2line.txt"),
    "go-tool-addr2line": (["go", "tool", "addr2line", exe], "go-tool-addr2line.txt"),
}
best = {}
for _ in range(int(rounds)):
    for name, (cmd, file) in tools.items():
        with open(f"{out}/addrs.txt", "rb") as inp, open(f"{out}/{file}", "wb") as o:
            t = time.perf_counter()
            proc = subprocess.Popen(cmd, stdin=inp, stdout=o)
            _, status, ru = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t
        if status != 0:
            sys.exit(f"{name} failed: status {status}")
        if name not in best or wall < best[name][0]:
            best[name] = (wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss)
for name, (wall, cpu, rss) in best.items():
    print(f"{name:<20} wall {wall:7.3f} s  cpu {cpu:7.3f} s  peak RSS {rss / 1024:7.1f} MiB")
    open(f"{out}/secs-{name}", "w").write(str(wall))
    open(f"{out}/cpu-{name}", "w").write(str(cpu))
EOF

python3 - "$N" <<'EOF'
import json, sys
n = int(sys.argv[1])
s = {k: float(open(f"bench/out/secs-{k}").read()) for k in ("gosleuth-text", "gosleuth-json", "addr2line", "go-tool-addr2line")}
print(f"\nthroughput: gosleuth {n / s['gosleuth-text'] / 1e6:.2f} M addr/s (json {n / s['gosleuth-json'] / 1e6:.2f}), "
      f"addr2line {n / s['addr2line'] / 1e6:.3f} M addr/s")
c = {k: float(open(f"bench/out/cpu-{k}").read()) for k in s}
print(f"wall-time ratio addr2line / gosleuth: {s['addr2line'] / s['gosleuth-text']:.1f}x (text), "
      f"{s['addr2line'] / s['gosleuth-json']:.1f}x (json); "
      f"go tool addr2line / gosleuth: {s['go-tool-addr2line'] / s['gosleuth-text']:.1f}x")
print(f"CPU-time ratio addr2line / gosleuth: {c['addr2line'] / c['gosleuth-text']:.1f}x (text), "
      f"{c['addr2line'] / c['gosleuth-json']:.1f}x (json)")
print(f"load average at the end: {open('/proc/loadavg').read().split()[0]} on {__import__('os').cpu_count()} cores "
      "(other work on the machine inflates wall times)")
# Same answers: addr2line's function = our outermost frame, its file:line =
# our innermost frame; "" / negative line = our "?" / 0.
a = open("bench/out/addr2line.txt").read().split("\n")
ours = json.load(open("bench/out/gosleuth.json"))
bad = 0
for i, e in enumerate(ours):
    fn, pos = a[2 * i], a[2 * i + 1]
    file, line = pos.rsplit(":", 1)
    if file == "" or int(line) < 0:
        file, line = "?", "0"
    fr = e["frames"]
    got = (fr[-1]["function"], fr[0]["file"], str(fr[0]["line"])) if fr else ("?", "?", "0")
    if (fn, file, line) != got and not (fr and fr[0]["file"] == "?"):
        bad += 1
        if bad <= 5:
            print("  differs:", e["address"], (fn, file, line), got)
print(f"answers compared: {len(ours)}, differing: {bad}")
EOF

# Output discarded (as hyperfine does by default): RUNS runs (default 5) of
# each tool, interleaved so that all see the same load; mean, standard
# deviation and best. This times the tools, not the kernel's page cache.
python3 - "$GOSLEUTH" "$ADDR2LINE" "$EXE" "$OUT/addrs.txt" "$N" "${RUNS:-5}" <<'EOF'
import statistics, subprocess, sys, time
gosleuth, addr2line, exe, addrs, n, runs = sys.argv[1:7]
cmds = {
    "gosleuth": [gosleuth, "binary", "symbolize", exe],
    "addr2line": [addr2line, exe],
    "go tool addr2line": ["go", "tool", "addr2line", exe],
}
times = {name: [] for name in cmds}
for _ in range(int(runs)):
    for name, cmd in cmds.items():
        with open(addrs, "rb") as inp:
            t = time.perf_counter()
            subprocess.run(cmd, stdin=inp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - t)
print(f"\noutput discarded, {runs} runs each:")
for name, ts in times.items():
    sd = statistics.stdev(ts) if len(ts) > 1 else 0.0
    print(f"  {name:<18} mean {statistics.mean(ts):7.3f} s  sd {sd:6.3f} s  best {min(ts):7.3f} s")
g = statistics.mean(times["gosleuth"])
print(f"  throughput: gosleuth {int(n) / g / 1e6:.2f} M addr/s (mean)")
for ref in ("addr2line", "go tool addr2line"):
    print(f"  ratio {ref} / gosleuth: {statistics.mean(times[ref]) / g:.1f}x (means), "
          f"{min(times[ref]) / min(times['gosleuth']):.1f}x (bests)")
EOF

# The same with hyperfine, when it is installed (it discards output by
# default): HF_RUNS runs of each command (default 5) after one warm-up,
# one command after the other, as hyperfine does.
if command -v hyperfine > /dev/null; then
  echo
  echo "hyperfine, output discarded:"
  hyperfine --style basic --warmup 1 --runs "${HF_RUNS:-5}" \
    --command-name gosleuth "'$GOSLEUTH' binary symbolize '$EXE' < '$OUT/addrs.txt'" \
    --command-name addr2line "'$ADDR2LINE' '$EXE' < '$OUT/addrs.txt'" \
    --command-name "go tool addr2line" "go tool addr2line '$EXE' < '$OUT/addrs.txt'" 2>&1 \
    | grep -v '^ *$'
else
  echo
  echo "hyperfine is not installed: its measurement is skipped (apt install hyperfine, or cargo install hyperfine)"
fi

# The floor for any tool that writes gosleuth's answers to a file: `cat`
# writing the same bytes into a new file, best of 5. On a VM where memory
# the kernel hands out is slow on first touch (see bench/README.md), this
# is a large share of gosleuth's own time writing to a file.
python3 - "$OUT" <<'EOF'
import os, subprocess, sys, time
out = sys.argv[1]
best = 1e9
for _ in range(5):
    with open(f"{out}/gosleuth.txt", "rb") as inp, open(f"{out}/copy.txt", "wb") as o:
        t = time.perf_counter()
        subprocess.run(["cat"], stdin=inp, stdout=o, check=True)
        best = min(best, time.perf_counter() - t)
    os.remove(f"{out}/copy.txt")
size = os.path.getsize(f"{out}/gosleuth.txt")
print(f"\nwriting gosleuth's {size / 1e6:.0f} MB of text answers to a new file with cat: best of 5 {best:.3f} s")
EOF

best=999999999
for _ in $(seq 1 20); do
  t0=$(date +%s%N); "$GOSLEUTH" binary info "$EXE" > /dev/null; t1=$(date +%s%N)
  t=$(( (t1 - t0) / 1000 )); [ "$t" -lt "$best" ] && best=$t
done
echo "binary info: best of 20 runs $(python3 -c "print($best / 1000)") ms"
