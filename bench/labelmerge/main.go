// labelmerge merges CPU profiles with google/pprof's own profile package,
// giving each input, and each of -copies copies of it, a distinct
// `run` label so that no samples of different runs are combined: the
// result is what merging that many separately profiled runs gives.
//
// Usage: labelmerge -copies N -o merged.pb.gz cpu-*.pb.gz
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/google/pprof/profile"
)

func main() {
	copies := flag.Int("copies", 1, "labelled copies of each input")
	out := flag.String("o", "merged.pb.gz", "output")
	flag.Parse()
	var ps []*profile.Profile
	run := 0
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			panic(err)
		}
		p, err := profile.Parse(f)
		f.Close()
		if err != nil {
			panic(err)
		}
		for c := 0; c < *copies; c++ {
			q := p.Copy()
			q.SetLabel("run", []string{fmt.Sprint(run)})
			run++
			ps = append(ps, q)
		}
	}
	m, err := profile.Merge(ps)
	if err != nil {
		panic(err)
	}
	f, err := os.Create(*out)
	if err != nil {
		panic(err)
	}
	if err := m.Write(f); err != nil {
		panic(err)
	}
	f.Close()
}
