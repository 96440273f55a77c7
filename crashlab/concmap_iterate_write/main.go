// concmap_iterate_write: a goroutine keeps updating a session map while
// three others range over it to expire entries. The iterators notice the
// writer: "fatal error: concurrent map iteration and map write". All
// iterators run the same range statement.
package main

import (
	"sync"

	"crashlab/lab"
)

type Sessions struct {
	expiry map[int]int
}

var sink int

func (s *Sessions) sweep(ready *sync.WaitGroup, start <-chan struct{}) {
	lab.Goroutine("iterator")
	ready.Done()
	<-start
	for {
		for id, exp := range s.expiry { // crashlab:culprit main.(*Sessions).sweep
			if exp < 0 {
				sink = id
			}
		}
	}
}

func (s *Sessions) touch(ready *sync.WaitGroup, start <-chan struct{}) {
	lab.Goroutine("writer")
	ready.Done()
	<-start
	for i := 0; ; i++ {
		s.expiry[i&1023] = i
	}
}

func main() {
	lab.Goroutine("main")
	s := &Sessions{expiry: make(map[int]int)}
	for i := range 1024 {
		s.expiry[i] = i
	}
	var ready sync.WaitGroup
	start := make(chan struct{})
	ready.Add(4)
	go s.touch(&ready, start)
	for range 3 {
		go s.sweep(&ready, start)
	}
	ready.Wait()
	close(start)
	select {}
}
