// race_map: built with -race. Two request handlers update a shared
// map without a lock; the second runs later (after a sleep, which is not a
// synchronisation for the race detector) so the runtime's own
// "concurrent map writes" check never fires and the race detector reports
// the race: "WARNING: DATA RACE", exit status 66. Both goroutines run the
// same line.
//
// The race detector numbers goroutines itself (ThreadSanitizer ids), not by
// Go goroutine id, so the generator ties the reported goroutine to the
// `go` statement marked "// crashlab:spawn".
package main

import (
	"sync"
	"time"

	"crashlab/lab"
)

type Stats struct {
	byRoute map[string]int
}

func (s *Stats) observe(route string, delay time.Duration, wg *sync.WaitGroup) {
	defer wg.Done()
	time.Sleep(delay)
	s.byRoute[route]++ // crashlab:culprit main.(*Stats).observe
}

func main() {
	lab.Goroutine("main")
	s := &Stats{byRoute: map[string]int{}}
	var wg sync.WaitGroup
	wg.Add(2)
	go s.observe("/v1/users", 0, &wg)                    // crashlab:spawn early
	go s.observe("/v1/users", 200*time.Millisecond, &wg) // crashlab:spawn late
	wg.Wait()
	lab.Fact("observed", s.byRoute["/v1/users"])
}
