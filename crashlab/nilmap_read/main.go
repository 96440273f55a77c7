// nilmap_read: every read-only operation on a nil map is legal. Indexing
// returns the zero value, the comma-ok form says false, len is 0, range
// runs zero times and delete is a no-op. Only a write panics, so this
// program exits 0 and prints what it observed.
package main

import (
	"crashlab/lab"
)

type Session struct{ User string }

type Registry struct {
	sessions map[string]*Session // never made
}

func main() {
	lab.Goroutine("main")
	var r Registry
	s := r.sessions["alice"]
	lab.Fact("index_is_nil", s == nil)
	_, ok := r.sessions["alice"]
	lab.Fact("comma_ok", ok)
	lab.Fact("len", len(r.sessions))
	n := 0
	for range r.sessions {
		n++
	}
	lab.Fact("range_iterations", n)
	delete(r.sessions, "alice")
	lab.Fact("delete", "ok")
	lab.Fact("map_is_nil", r.sessions == nil)
}
