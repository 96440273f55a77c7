#!/usr/bin/env python3
"""Writes the Go program of the profile benchmark: N functions in 50
packages calling each other along pseudo-random paths 20-60 frames deep
(through a shared function table, so packages need not import each other),
so that CPU samples have deep, varied stacks (nearly every sample a
distinct stack) over ~4N call sites (distinct locations).

Usage: gen_deepstacks.py OUTDIR [N]   (default N=25000)
"""
import os
import random
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 25000
rng = random.Random(1)
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "go.mod"), "w") as f:
    f.write("module deepstacks\n\ngo 1.23\n")
os.makedirs(os.path.join(out, "reg"), exist_ok=True)
with open(os.path.join(out, "reg", "reg.go"), "w") as f:
    f.write(f"""package reg

// Table holds every generated function; calls go through it.
var Table [{n}]func(x uint64, d int) uint64

//go:noinline
func Spin(x uint64) uint64 {{
\tfor i := 0; i < 300; i++ {{
\t\tx ^= x << 13
\t\tx ^= x >> 7
\t\tx ^= x << 17
\t}}
\treturn x
}}
""")
pkgs = 50
per = (n + pkgs - 1) // pkgs
for p in range(pkgs):
    d = os.path.join(out, f"p{p:02d}")
    os.makedirs(d, exist_ok=True)
    body = [f"package p{p:02d}\n", 'import "deepstacks/reg"\n']
    ids = list(range(p * per, min(n, (p + 1) * per)))
    body.append("func init() {")
    for i in ids:
        body.append(f"\treg.Table[{i}] = F{i}")
    body.append("}\n")
    for i in ids:
        body.append(f"//go:noinline\nfunc F{i}(x uint64, d int) uint64 {{")
        body.append("\tif d <= 0 {\n\t\treturn reg.Spin(x)\n\t}")
        body.append("\tx = x*6364136223846793005 + 1442695040888963407")
        body.append("\tswitch (x >> 33) % 4 {")
        for k in range(4):
            t = rng.randrange(n)
            body.append(f"\tcase {k}:" if k < 3 else "\tdefault:")
            body.append(f"\t\treturn reg.Table[{t}](x, d-1) + {k + 1}")
        body.append("\t}\n}\n")
    with open(os.path.join(d, "f.go"), "w") as f:
        f.write("\n".join(body))
imports = "\n".join(f'\t_ "deepstacks/p{p:02d}"' for p in range(pkgs))
with open(os.path.join(out, "main.go"), "w") as f:
    f.write(f"""package main

import (
\t"flag"
\t"os"
\t"runtime"
\t"runtime/pprof"
\t"sync"
\t"time"

\t"deepstacks/reg"
{imports}
)

var sink uint64

func main() {{
\tout := flag.String("o", "cpu.pb.gz", "profile to write")
\tdur := flag.Duration("d", 5*time.Second, "how long to run")
\thz := flag.Int("hz", 5000, "CPU profile rate")
\tseed := flag.Uint64("seed", 1, "path seed")
\tflag.Parse()
\tf, err := os.Create(*out)
\tif err != nil {{
\t\tpanic(err)
\t}}
\truntime.SetCPUProfileRate(*hz)
\tpprof.StartCPUProfile(f)
\tdeadline := time.Now().Add(*dur)
\tvar wg sync.WaitGroup
\tvar mu sync.Mutex
\tfor w := 0; w < runtime.GOMAXPROCS(0); w++ {{
\t\twg.Add(1)
\t\tgo func(w uint64) {{
\t\t\tdefer wg.Done()
\t\t\tx := *seed*1000003 + w
\t\t\tvar s uint64
\t\t\tfor time.Now().Before(deadline) {{
\t\t\t\tx = x*2862933555777941757 + 3037000493
\t\t\t\tdepth := 20 + int(x>>58)%41
\t\t\t\ts += reg.Table[int(x>>20)%len(reg.Table)](x, depth)
\t\t\t}}
\t\t\tmu.Lock()
\t\t\tsink += s
\t\t\tmu.Unlock()
\t\t}}(uint64(w))
\t}}
\twg.Wait()
\tpprof.StopCPUProfile()
\tf.Close()
}}
""")
