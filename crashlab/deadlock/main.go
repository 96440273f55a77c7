// deadlock: main waits on a WaitGroup for two workers, which wait for jobs
// on a channel nobody sends on or closes. Every goroutine is blocked:
// "fatal error: all goroutines are asleep - deadlock!".
package main

import (
	"sync"

	"crashlab/lab"
)

type Pool struct {
	jobs chan func()
	wg   sync.WaitGroup
}

func (p *Pool) worker(ready *sync.WaitGroup) {
	defer p.wg.Done()
	lab.Goroutine("worker")
	ready.Done()
	for job := range p.jobs { // crashlab:park worker
		job()
	}
}

func (p *Pool) Wait() {
	p.wg.Wait() // crashlab:culprit main.(*Pool).Wait
}

func main() {
	lab.Goroutine("main")
	p := &Pool{jobs: make(chan func())}
	var ready sync.WaitGroup
	for range 2 {
		p.wg.Add(1)
		ready.Add(1)
		go p.worker(&ready)
	}
	ready.Wait()
	lab.Parked("worker", 2)
	// Forgot close(p.jobs): the workers never leave their range loop.
	p.Wait()
}
