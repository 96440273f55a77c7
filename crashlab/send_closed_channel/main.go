// send_closed_channel: the results channel is closed by the collector's
// early-exit path while the producer still has a result to deliver.
package main

import (
	"crashlab/lab"
)

type Result struct {
	ID  int
	Err error
}

type Batch struct {
	results chan Result
}

func (b *Batch) collect(max int) int {
	n := 0
	for range b.results {
		n++
		if n == max {
			close(b.results) // "we have enough" -- but the producer is not done
			break
		}
	}
	return n
}

func (b *Batch) deliver(r Result) {
	b.results <- r // crashlab:culprit main.(*Batch).deliver
}

func main() {
	lab.Goroutine("main")
	b := &Batch{results: make(chan Result, 4)}
	b.deliver(Result{ID: 1})
	b.deliver(Result{ID: 2})
	lab.Fact("collected", b.collect(2))
	b.deliver(Result{ID: 3})
}
