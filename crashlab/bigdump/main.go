// bigdump: parks N goroutines (default 100,000) in 20 distinct stacks of
// depth 5-25 made of realistic service functions, waits until every one is
// parked, then
//
//	-o FILE   writes runtime.Stack(buf, true) (all goroutines, no size cap)
//	-serve    serves net/http/pprof on 127.0.0.1:0, prints "READY <addr>"
//	          and stays up until stdin closes.
//
// Benchmarks use -o (about 160 MB of text at 100k goroutines). The crashlab
// case debug2_cut uses -serve with 100,001 goroutines to show that
// /debug/pprof/goroutine?debug=2 is cut at exactly 64 MiB.
//
//	cd crashlab && go run ./bigdump -n 100000 -o /some/where/dump.txt
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"crashlab/lab"
)

// plan is the call path a goroutine walks before it parks.
type plan struct {
	path []int
	park func()
}

type (
	Server           struct{}
	Router           struct{}
	Tracer           struct{}
	OrderService     struct{}
	InventoryClient  struct{}
	Pool             struct{}
	Conn             struct{}
	Repo             struct{}
	Tx               struct{}
	Consumer         struct{}
	Scheduler        struct{}
	Retrier          struct{}
	Cache            struct{}
	Loader           struct{}
	EventBus         struct{}
	Subscriber       struct{}
	Batcher          struct{}
	Exporter         struct{}
	Watcher          struct{}
	Limiter          struct{}
	ResolverClient   struct{}
	SessionStore     struct{}
	PaymentsGateway  struct{}
	NotificationSink struct{}
)

// Each layer calls the next one on the plan, or parks at the end. The body
// is written out in every layer (not a shared helper) so that no helper
// frame sits between two layers.
var layers []func(p *plan, i int)

func (*Server) serveConn(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Server) handleRequest(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Router) dispatch(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func authMiddleware(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Tracer) withSpan(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*OrderService) PlaceOrder(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*OrderService) reserveInventory(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*InventoryClient) Reserve(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Pool) Get(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Conn) roundTrip(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Repo) QueryRows(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Tx) exec(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Consumer) poll(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Consumer) handleMessage(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Scheduler) runJob(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Retrier) Do(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Cache) GetOrLoad(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Loader) load(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*EventBus) publish(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Subscriber) deliver(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Batcher) flush(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Exporter) export(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Watcher) loop(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*Limiter) Wait(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*ResolverClient) Lookup(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*SessionStore) Touch(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*PaymentsGateway) Authorize(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}
func (*NotificationSink) Send(p *plan, i int) {
	if i < len(p.path) {
		layers[p.path[i]](p, i+1)
	} else {
		p.park()
	}
}

func init() {
	layers = []func(*plan, int){
		(*Server)(nil).serveConn, (*Server)(nil).handleRequest, (*Router)(nil).dispatch, authMiddleware,
		(*Tracer)(nil).withSpan, (*OrderService)(nil).PlaceOrder, (*OrderService)(nil).reserveInventory,
		(*InventoryClient)(nil).Reserve, (*Pool)(nil).Get, (*Conn)(nil).roundTrip, (*Repo)(nil).QueryRows,
		(*Tx)(nil).exec, (*Consumer)(nil).poll, (*Consumer)(nil).handleMessage, (*Scheduler)(nil).runJob,
		(*Retrier)(nil).Do, (*Cache)(nil).GetOrLoad, (*Loader)(nil).load, (*EventBus)(nil).publish,
		(*Subscriber)(nil).deliver, (*Batcher)(nil).flush, (*Exporter)(nil).export, (*Watcher)(nil).loop,
		(*Limiter)(nil).Wait, (*ResolverClient)(nil).Lookup, (*SessionStore)(nil).Touch,
		(*PaymentsGateway)(nil).Authorize, (*NotificationSink)(nil).Send,
	}
}

// Blocking primitives, one per kind of wait a real service piles up in.
var (
	never     = make(chan struct{}) // nobody sends
	sink      = make(chan struct{}) // nobody receives
	nilChan   chan struct{}
	held      sync.Mutex
	heldRW    sync.RWMutex
	cond      = sync.NewCond(&sync.Mutex{})
	pendingWG sync.WaitGroup
)

func awaitReply() { <-never }
func sendResult() { sink <- struct{}{} }
func awaitEither() {
	select {
	case <-never:
	case <-nilChan:
	}
}
func lockShared()     { held.Lock() }
func readLockShared() { heldRW.RLock() }
func waitCond()       { cond.L.Lock(); cond.Wait() }
func sleepLong()      { time.Sleep(time.Hour) }
func waitGroup()      { pendingWG.Wait() }
func blockForever()   { select {} }
func receiveNilChan() { <-nilChan }

var parks = []func(){awaitReply, sendResult, awaitEither, lockShared, readLockShared,
	waitCond, sleepLong, waitGroup, blockForever, receiveNilChan}

// shapes returns 20 plans: path lengths 4..24 (stack depth 5..25 counting
// the park function), layers picked by a fixed LCG so the output is stable.
func shapes() []plan {
	var out []plan
	seed := uint32(12345)
	for k := 0; k < 20; k++ {
		n := 4 + (k*7)%21
		path := []int{0, 1} // every request starts at the server
		for len(path) < n {
			seed = seed*1664525 + 1013904223
			path = append(path, int(seed>>8)%len(layers))
		}
		out = append(out, plan{path: path[:n], park: parks[k%len(parks)]})
	}
	return out
}

func main() {
	n := flag.Int("n", 100000, "goroutines to park")
	outFile := flag.String("o", "", "write runtime.Stack(all) to this file")
	serve := flag.Bool("serve", false, "serve net/http/pprof on 127.0.0.1:0 until stdin closes")
	flag.Parse()

	held.Lock()
	heldRW.Lock()
	pendingWG.Add(1)

	var started atomic.Int64
	ps := shapes()
	// Deeper shapes get proportionally more goroutines (weight = depth).
	var pick []int
	for k, p := range ps {
		for range len(p.path) {
			pick = append(pick, k)
		}
	}
	for i := 0; i < *n; i++ {
		p := &ps[pick[i%len(pick)]]
		go func() {
			started.Add(1)
			layers[p.path[0]](p, 1)
		}()
	}
	for started.Load() < int64(*n) {
		time.Sleep(10 * time.Millisecond)
	}
	buf := waitAllParked()
	lab.Fact("spawned", *n)
	lab.Fact("shapes", len(ps))
	lab.Fact("numgoroutine", runtime.NumGoroutine())

	if *outFile != "" {
		if err := os.WriteFile(*outFile, buf, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		lab.Fact("stack_bytes", len(buf))
	}
	if *serve {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		go http.Serve(ln, nil)
		fmt.Printf("READY %s\n", ln.Addr())
		bufio.NewReader(os.Stdin).ReadString('\n')
	}
}

// waitAllParked takes full dumps until no goroutine but the caller is
// running or runnable, and returns the last dump.
func waitAllParked() []byte {
	buf := make([]byte, 64<<20)
	for {
		m := runtime.Stack(buf, true)
		if m == len(buf) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		busy := 0
		for _, line := range bytes.Split(buf[:m], []byte("\n")) {
			if bytes.HasPrefix(line, []byte("goroutine ")) &&
				(bytes.Contains(line, []byte(" [running]")) || bytes.Contains(line, []byte(" [runnable]"))) {
				busy++
			}
		}
		if busy <= 1 {
			return buf[:m]
		}
		time.Sleep(50 * time.Millisecond)
	}
}
