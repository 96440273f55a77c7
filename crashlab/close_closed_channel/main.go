// close_closed_channel: Worker.Stop is called twice (once by a deferred
// cleanup, once by the shutdown path) and closes its quit channel twice.
package main

import (
	"crashlab/lab"
)

type Worker struct {
	quit chan struct{}
	done chan struct{}
}

func (w *Worker) run() {
	defer close(w.done)
	<-w.quit
}

func (w *Worker) Stop() {
	close(w.quit) // crashlab:culprit main.(*Worker).Stop
	<-w.done
}

func shutdown(ws []*Worker) {
	for _, w := range ws {
		w.Stop()
	}
}

func main() {
	lab.Goroutine("main")
	w := &Worker{quit: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	defer w.Stop()
	shutdown([]*Worker{w})
}
