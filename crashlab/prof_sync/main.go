// prof_sync: goroutine, mutex and block profiles with their rates set
// (runtime.SetMutexProfileFraction(1), runtime.SetBlockProfileRate(1)):
// workers contend on one mutex and block on a channel, and a few
// goroutines stay parked while the goroutine profile is written.
//
// Writes goroutine.pb.gz, mutex.pb.gz, block.pb.gz and threadcreate.pb.gz
// in the working directory.
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"crashlab/lab"
)

type Ledger struct {
	mu      sync.Mutex
	entries map[int]int
}

func (l *Ledger) Post(k int) {
	l.mu.Lock()
	l.entries[k%64]++
	time.Sleep(20 * time.Microsecond) // held while "writing"
	l.mu.Unlock()
}

func worker(l *Ledger, jobs <-chan int, wg *sync.WaitGroup) {
	defer wg.Done()
	for j := range jobs {
		l.Post(j)
	}
}

func parkForever(ch chan struct{}) {
	<-ch
}

func write(name string) {
	f, err := os.Create(name + ".pb.gz")
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		panic(err)
	}
	f.Close()
}

func main() {
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	l := &Ledger{entries: map[int]int{}}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go worker(l, jobs, &wg)
	}
	for i := 0; i < 3000; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	park := make(chan struct{})
	for i := 0; i < 5; i++ {
		go parkForever(park)
	}
	time.Sleep(50 * time.Millisecond)
	write("goroutine")
	write("mutex")
	write("block")
	write("threadcreate")
	lab.Fact("parked", 5)
	close(park)
}
