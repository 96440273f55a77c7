// repanic_same: a deferred cleanup recovers, closes a resource and re-panics
// with the *same* value. Go 1.25+ prints one line
// "panic: X [recovered, repanicked]"; older versions print
// "panic: X [recovered]" then "\tpanic: X".
package main

import (
	"errors"

	"crashlab/lab"
)

var ErrCorrupt = errors.New("segment 3: checksum mismatch")

type Reader struct{ open bool }

func (r *Reader) Close() { r.open = false }

func readSegment(n int) {
	if n == 3 {
		panic(ErrCorrupt) // crashlab:culprit main.readSegment
	}
}

func replay(r *Reader) {
	defer func() {
		if v := recover(); v != nil {
			r.Close()
			panic(v)
		}
	}()
	for i := 0; i < 5; i++ {
		readSegment(i)
	}
}

func main() {
	lab.Goroutine("main")
	replay(&Reader{open: true})
}
