// gobin_probe is not a crash: it is the program whose executables the
// binary-introspection tests read (buildinfo, pclntab, DWARF). It is built
// in several ways (see case.json) and has a little of everything those
// readers meet: inlined calls, generics, closures, methods on value and
// pointer receivers, interfaces, maps, slices, channels, globals and
// package constants. Standard library only, and only os and strconv, to
// keep the executables small.
package main

import (
	"os"
	"strconv"
)

// Point has fields of every word-sized kind the DWARF tests check:
// offsets 0, 8, 16 (string: 2 words) and 32 (map: 1 word); size 40.
type Point struct {
	X, Y int
	Name string
	Tags map[string]int
}

type Shape interface{ Area() float64 }

type Rect struct{ W, H float64 }

func (r Rect) Area() float64 { return r.W * r.H }

func (r *Rect) Scale(f float64) { r.W *= f; r.H *= f }

const Answer = 42

var (
	Global  = map[string][]Point{"a": {{X: 1, Y: 2, Name: "p"}}}
	Counter int64
	Shapes  = []Shape{Rect{1, 2}}
	Ch      = make(chan int, 3)
)

// add is small enough to be inlined into work.
func add(a, b int) int { return a + b }

func sum[T int | float64](xs []T) T {
	var s T
	for _, x := range xs {
		s += x
	}
	return s
}

// work stays a real function so that DWARF has its parameters and locals.
//
//go:noinline
func work(n int) int {
	total := 0
	for i := 0; i < n; i++ {
		total = add(total, i*i)
	}
	return total
}

func main() {
	m := map[string]int{}
	for i, a := range os.Args {
		m[a] = i
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ { // insertion sort: no package sort
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	done := make(chan struct{})
	go func() {
		Counter += int64(work(10))
		close(done)
	}()
	<-done
	r := &Rect{2, 3}
	r.Scale(2)
	Ch <- Answer
	line := keys[1] + "," + keys[2]
	for _, n := range []int{
		sum([]int{1, 2, 3}),
		int(sum([]float64{1.5, 2.5})),
		int(Counter),
		int(Shapes[0].Area() + r.Area()),
		len(Global) + <-Ch + cgoTwice(1),
	} {
		line += " " + strconv.Itoa(n)
	}
	os.Stdout.WriteString(line + "\n")
}
