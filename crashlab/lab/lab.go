// Package lab is what every crashlab program uses to state facts about
// itself on stdout, where the generator reads them (see crashlab/README.md):
//
//	crashlab: goroutine <id> role=<role>   who is who (crash goroutine check)
//	crashlab: park <label> count=<n>       how many goroutines were parked at a
//	                                       "// crashlab:park <label>" site
//	crashlab: fact <key>=<value>           anything else worth recording
//	crashlab: json <key>=<json>            the same, with a JSON value
//
// Nothing here is on the stack of a crashing or parked goroutine.
package lab

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

// Goid returns the id of the calling goroutine, read from the first line of
// runtime.Stack ("goroutine 18 [running]:").
func Goid() int {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		if n, err := strconv.Atoi(string(b[:i])); err == nil {
			return n
		}
	}
	panic("lab: cannot parse goroutine id from " + strconv.Quote(string(buf[:])))
}

// Goroutine reports the calling goroutine's id under a role and returns it.
func Goroutine(role string) int {
	id := Goid()
	fmt.Printf("crashlab: goroutine %d role=%s\n", id, role)
	return id
}

// Parked reports that n goroutines were parked at the site labelled label.
func Parked(label string, n int) {
	fmt.Printf("crashlab: park %s count=%d\n", label, n)
}

// Fact records a key=value fact.
func Fact(key string, value any) {
	fmt.Printf("crashlab: fact %s=%v\n", key, value)
}

// JSON records a fact whose value is a JSON document (raw, already
// encoded), e.g. the contents of a map: "crashlab: json <key>=<json>".
func JSON(key, raw string) {
	fmt.Printf("crashlab: json %s=%s\n", key, raw)
}

// WaitParked blocks until exactly n goroutines are in wait state `state`
// (as the traceback header prints it, e.g. "chan receive") with a frame of
// function fn (e.g. "main.parkChanRecv") on their stack, so that dumps
// taken afterwards show every one of them parked. It gives up (exit 3)
// after a minute.
func WaitParked(fn, state string, n int) {
	deadline := time.Now().Add(time.Minute)
	buf := make([]byte, 1<<20)
	header := []byte(" [" + state)
	frame := []byte("\n" + fn + "(")
	for {
		m := runtime.Stack(buf, true)
		if m == len(buf) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		got := 0
		for _, g := range bytes.Split(buf[:m], []byte("\n\n")) {
			line, _, _ := bytes.Cut(g, []byte("\n"))
			if bytes.Contains(line, header) && bytes.Contains(g, frame) {
				got++
			}
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "lab: %d of %d goroutines parked in %s [%s]\n", got, n, fn, state)
			os.Exit(3)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
