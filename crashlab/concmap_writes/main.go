// concmap_writes: four goroutines write to one map without a lock. They all
// run the same line, so whichever of them the runtime catches, the culprit
// line is the same. The map is never grown after warm-up, so the race is
// only the write flag: "fatal error: concurrent map writes".
package main

import (
	"sync"

	"crashlab/lab"
)

type Counter struct {
	hits map[int]int
}

func (c *Counter) record(ready *sync.WaitGroup, start <-chan struct{}) {
	lab.Goroutine("writer")
	ready.Done()
	<-start
	for i := 0; ; i++ {
		c.hits[i&1023] = i // crashlab:culprit main.(*Counter).record
	}
}

func main() {
	lab.Goroutine("main")
	c := &Counter{hits: make(map[int]int)}
	for i := range 1024 {
		c.hits[i] = 0
	}
	var ready sync.WaitGroup
	start := make(chan struct{})
	for range 4 {
		ready.Add(1)
		go c.record(&ready, start)
	}
	ready.Wait()
	close(start)
	select {}
}
