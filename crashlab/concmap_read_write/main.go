// concmap_read_write: one goroutine updates a price table while three
// others read it without a lock. Only a reader can notice the race (a
// lone writer never sees another writer), and all readers run the same
// line: "fatal error: concurrent map read and map write".
package main

import (
	"sync"

	"crashlab/lab"
)

type PriceTable struct {
	prices map[int]int
}

var sink int

func (t *PriceTable) lookup(ready *sync.WaitGroup, start <-chan struct{}) {
	lab.Goroutine("reader")
	ready.Done()
	<-start
	for i := 0; ; i++ {
		if p := t.prices[i&1023]; p < 0 { // crashlab:culprit main.(*PriceTable).lookup
			sink = p
		}
	}
}

func (t *PriceTable) update(ready *sync.WaitGroup, start <-chan struct{}) {
	lab.Goroutine("writer")
	ready.Done()
	<-start
	for i := 0; ; i++ {
		t.prices[i&1023] = i
	}
}

func main() {
	lab.Goroutine("main")
	t := &PriceTable{prices: make(map[int]int)}
	for i := range 1024 {
		t.prices[i] = i
	}
	var ready sync.WaitGroup
	start := make(chan struct{})
	ready.Add(4)
	go t.update(&ready, start)
	for range 3 {
		go t.lookup(&ready, start)
	}
	ready.Wait()
	close(start)
	select {}
}
