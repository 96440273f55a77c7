// prof_labels: a CPU profile whose samples carry pprof labels set with
// pprof.Do (handler=search|upload, tenant=acme|globex), for -tagfocus and
// -tagignore.
//
// Writes cpu.pb.gz in the working directory.
package main

import (
	"context"
	"crypto/sha256"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"time"

	"crashlab/lab"
)

var sink byte

func search(n int) {
	xs := make([]int, n)
	for i := range xs {
		xs[i] = (i * 7919) % n
	}
	sort.Ints(xs)
	sink += byte(xs[n/2])
}

func upload(n int) {
	buf := make([]byte, n)
	for i := 0; i < 20; i++ {
		s := sha256.Sum256(buf)
		sink += s[0]
	}
}

func serve(ctx context.Context, handler, tenant string, deadline time.Time) {
	pprof.Do(ctx, pprof.Labels("handler", handler, "tenant", tenant), func(context.Context) {
		for time.Now().Before(deadline) {
			if handler == "search" {
				search(20000)
			} else {
				upload(1 << 16)
			}
		}
	})
}

func main() {
	f, err := os.Create("cpu.pb.gz")
	if err != nil {
		panic(err)
	}
	runtime.SetCPUProfileRate(500)
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	ctx := context.Background()
	done := make(chan bool)
	deadline := time.Now().Add(1500 * time.Millisecond)
	for _, h := range []struct{ handler, tenant string }{{"search", "acme"}, {"upload", "globex"}} {
		go func() {
			serve(ctx, h.handler, h.tenant, deadline)
			done <- true
		}()
	}
	<-done
	<-done
	pprof.StopCPUProfile()
	f.Close()
	lab.Fact("labels", "handler=search|upload,tenant=acme|globex")
}
