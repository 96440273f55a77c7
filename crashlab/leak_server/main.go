// leak_server: an HTTP service with net/http/pprof that has leaked
// goroutines in four places: 1200 waiting for a reply on a channel nobody
// answers, 800 piled up on one sync.Mutex held by a stuck goroutine, 500 in
// a select whose cases never fire, 300 sleeping for an hour. Once every one
// of them is parked it prints "READY <addr>"; the generator then fetches
// /debug/pprof/goroutine?debug=1 and ?debug=2 and finally sends SIGQUIT
// (GOTRACEBACK=all) for a full dump on stderr.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"sync"
	"time"

	"crashlab/lab"
)

const (
	nChanRecv = 1200
	nMutex    = 800
	nSelect   = 500
	nSleep    = 300
)

type Reply struct{ Body []byte }

// fetchUpstream waits for a reply that the (lost) upstream never sends.
func fetchUpstream(reply chan Reply) {
	r := <-reply // crashlab:park chanrecv
	_ = r
}

type Cache struct {
	mu      sync.Mutex
	entries map[string]string
}

// refresh holds the cache lock and waits forever for a reload signal.
func (c *Cache) refresh(reload chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	<-reload // crashlab:park mutex_holder
}

// get piles up behind refresh.
func (c *Cache) get(key string) string {
	c.mu.Lock() // crashlab:park mutex
	defer c.mu.Unlock()
	return c.entries[key]
}

// watch waits for a config change or a shutdown that never come.
func watch(changes <-chan string, stop <-chan struct{}) {
	select { // crashlab:park select
	case <-changes:
	case <-stop:
	}
}

// backoff sleeps before a retry that will never matter.
func backoff() {
	time.Sleep(time.Hour) // crashlab:park sleep
}

func main() {
	lab.Goroutine("main")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, nil)

	reply := make(chan Reply)
	for range nChanRecv {
		go fetchUpstream(reply)
	}
	c := &Cache{entries: map[string]string{}}
	reload := make(chan struct{})
	go c.refresh(reload)
	lab.WaitParked("main.(*Cache).refresh", "chan receive", 1)
	for range nMutex {
		go c.get("feature-flags")
	}
	changes, stop := make(chan string), make(chan struct{})
	for range nSelect {
		go watch(changes, stop)
	}
	for range nSleep {
		go backoff()
	}

	lab.WaitParked("main.fetchUpstream", "chan receive", nChanRecv)
	lab.WaitParked("main.(*Cache).get", "sync.Mutex.Lock", nMutex)
	lab.WaitParked("main.watch", "select", nSelect)
	lab.WaitParked("main.backoff", "sleep", nSleep)
	lab.Parked("chanrecv", nChanRecv)
	lab.Parked("mutex_holder", 1)
	lab.Parked("mutex", nMutex)
	lab.Parked("select", nSelect)
	lab.Parked("sleep", nSleep)
	fmt.Printf("READY %s\n", ln.Addr())
	// Stay up until stdin closes (or SIGQUIT arrives).
	bufio.NewReader(os.Stdin).ReadString('\n')
}
