// corelab: programs that die under GOTRACEBACK=crash and leave an ELF core
// next to the runtime's own dump of every goroutine (stderr). One binary,
// one scenario per argument, so that the executables kept beside the cores
// are shared by every scenario of a build:
//
//	nilmap   user-service write-behind goroutine writes into a nil map
//	concmap  four goroutines write one map: fatal error: concurrent map writes
//	nilptr   a nil *Config is dereferenced (SIGSEGV, addr=0x18)
//	server   goroutines parked in many kinds of waits; killed by SIGQUIT
//	maps     panics while known maps are live (small and large, locals and
//	         package variables, the large ones in the middle of a grow);
//	         their contents are printed first as `crashlab: json` facts
package main

import (
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"crashlab/lab"
)

func main() {
	if len(os.Args) < 2 {
		os.Stderr.WriteString("usage: corelab nilmap|concmap|nilptr|server|maps\n")
		os.Exit(64)
	}
	switch os.Args[1] {
	case "nilmap":
		nilmapStory()
	case "concmap":
		concmapWrites()
	case "nilptr":
		nilptrField()
	case "server":
		parkedServer()
	case "maps":
		liveMaps()
	default:
		os.Stderr.WriteString("unknown scenario " + os.Args[1] + "\n")
		os.Exit(64)
	}
}

// ---- nilmap: the production story, goroutine variant ----------------------

type User struct {
	ID    string
	Email string
	Name  string
}

type UserService struct {
	mu    sync.Mutex
	cache map[string]*User
	saves int
}

// NewUserService forgot make(map[string]*User) in a refactoring.
func NewUserService() *UserService {
	return &UserService{}
}

func (s *UserService) Save(u *User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	s.cache[u.ID] = u // crashlab:culprit main.(*UserService).Save
}

type Request struct {
	Method string
	Path   string
	Body   string
	Header map[string]string
}

type Handler func(r *Request) int

type UserHandler struct {
	svc *UserService
}

func (h *UserHandler) create(r *Request) int {
	u := parseUser(r.Body)
	done := make(chan struct{})
	go h.writeBehind(u, done)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	return 201
}

func (h *UserHandler) writeBehind(u *User, done chan<- struct{}) {
	lab.Goroutine("write-behind")
	h.svc.Save(u)
	done <- struct{}{}
}

func parseUser(body string) *User {
	u := &User{}
	for _, kv := range strings.Split(body, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "id":
			u.ID = v
		case "email":
			u.Email = v
		case "name":
			u.Name = v
		}
	}
	return u
}

func withRequestID(next Handler) Handler {
	return func(r *Request) int {
		if r.Header["X-Request-Id"] == "" {
			r.Header["X-Request-Id"] = "req-8c41e2f0"
		}
		return next(r)
	}
}

func withAuth(tokens map[string]string) func(Handler) Handler {
	return func(next Handler) Handler {
		return func(r *Request) int {
			if tokens[strings.TrimPrefix(r.Header["Authorization"], "Bearer ")] == "" {
				return 401
			}
			return next(r)
		}
	}
}

func withTimeout(d time.Duration) func(Handler) Handler {
	return func(next Handler) Handler {
		return func(r *Request) int {
			t := time.AfterFunc(d, func() {})
			defer t.Stop()
			return next(r)
		}
	}
}

func nilmapStory() {
	lab.Goroutine("main")
	h := &UserHandler{svc: NewUserService()}
	var handler Handler = h.create
	handler = withTimeout(5 * time.Second)(handler)
	handler = withAuth(map[string]string{"tk_live_7f3a": "billing-api"})(handler)
	handler = withRequestID(handler)
	status := handler(&Request{
		Method: "POST",
		Path:   "/v1/users",
		Body:   "id=u-1042&email=ada@example.com&name=Ada Lovelace",
		Header: map[string]string{"Authorization": "Bearer tk_live_7f3a"},
	})
	lab.Fact("status", status)
}

// ---- concmap ----------------------------------------------------------------

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

func concmapWrites() {
	lab.Goroutine("main")
	c := &Counter{hits: make(map[int]int)}
	for i := 0; i < 1024; i++ {
		c.hits[i] = 0
	}
	var ready sync.WaitGroup
	start := make(chan struct{})
	for w := 0; w < 4; w++ {
		ready.Add(1)
		go c.record(&ready, start)
	}
	ready.Wait()
	close(start)
	select {}
}

// ---- nilptr -----------------------------------------------------------------

type Config struct {
	Name    string        // offset 0x00
	Port    int           // offset 0x10
	Timeout time.Duration // offset 0x18
}

type Server struct {
	cfg *Config
}

func loadConfig(path string) *Config {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	return &Config{Name: "api", Port: 8080, Timeout: 5 * time.Second}
}

func (s *Server) requestTimeout() time.Duration {
	return s.cfg.Timeout // crashlab:culprit main.(*Server).requestTimeout
}

func nilptrField() {
	lab.Goroutine("main")
	s := &Server{cfg: loadConfig("/etc/api/config.json")}
	lab.Fact("timeout", s.requestTimeout())
}

// ---- server: parked goroutines, then SIGQUIT --------------------------------

var (
	jobs     = make(chan int)
	results  = make(chan int)
	shutdown = make(chan struct{})
	tableMu  sync.Mutex
	cond     = sync.NewCond(&sync.Mutex{})
	pending  sync.WaitGroup
)

func worker(id int) {
	for j := range jobs { // crashlab:park worker main.worker
		results <- j * id
	}
}

func dispatcher() {
	for {
		select { // crashlab:park dispatcher main.dispatcher
		case j := <-results:
			_ = j
		case <-shutdown:
			return
		}
	}
}

func lockTable() {
	tableMu.Lock() // crashlab:park table main.lockTable
	tableMu.Unlock()
}

func janitor() {
	time.Sleep(time.Hour) // crashlab:park janitor main.janitor
}

func waitAll() {
	pending.Wait() // crashlab:park waitgroup main.waitAll
}

func waitSignal() {
	cond.L.Lock()
	cond.Wait() // crashlab:park cond main.waitSignal
	cond.L.Unlock()
}

func pipeReader(f *os.File) {
	var buf [64]byte
	f.Read(buf[:]) // crashlab:park pipe main.pipeReader
}

func rawRead(fd int) {
	var buf [64]byte
	// Not a park marker: under GOTRACEBACK=crash the M running this syscall
	// prints the goroutine a second time, after the main dump.
	syscall.Read(fd, buf[:])
}

func pinned() {
	runtime.LockOSThread()
	<-shutdown // crashlab:park pinned main.pinned
}

func parkedServer() {
	lab.Goroutine("main")
	tableMu.Lock()
	pending.Add(1)
	for i := 1; i <= 3; i++ {
		go worker(i)
	}
	for i := 0; i < 2; i++ {
		go dispatcher()
	}
	for i := 0; i < 2; i++ {
		go lockTable()
	}
	go janitor()
	go waitAll()
	go waitSignal()
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	go pipeReader(r)
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		panic(err)
	}
	go rawRead(fds[0])
	go pinned()
	lab.WaitParked("main.worker", "chan receive", 3)
	lab.Parked("worker", 3)
	lab.WaitParked("main.dispatcher", "select", 2)
	lab.Parked("dispatcher", 2)
	lab.WaitParked("main.lockTable", "sync.Mutex.Lock", 2)
	lab.Parked("table", 2)
	lab.WaitParked("main.janitor", "sleep", 1)
	lab.Parked("janitor", 1)
	// Go 1.25 gave WaitGroup.Wait its own wait reason; before, semacquire.
	wgState := "semacquire"
	if goMinor() >= 25 {
		wgState = "sync.WaitGroup.Wait"
	}
	lab.WaitParked("main.waitAll", wgState, 1)
	lab.Parked("waitgroup", 1)
	lab.WaitParked("main.waitSignal", "sync.Cond.Wait", 1)
	lab.Parked("cond", 1)
	lab.WaitParked("main.pipeReader", "IO wait", 1)
	lab.Parked("pipe", 1)
	lab.WaitParked("main.rawRead", "syscall", 1)
	lab.Parked("rawread", 1)
	lab.WaitParked("main.pinned", "chan receive", 1)
	lab.Parked("pinned", 1)
	os.Stdout.WriteString("READY\n")
	<-shutdown
	w.Close()
}

// ---- maps: a crash while known maps are live ---------------------------------

// Package-level maps: a small one with deleted entries, and a large one
// left in the middle of a grow (classic maps) or with a directory that
// holds a table twice (Swiss maps).
var (
	cache map[string]int
	index map[int]string
)

type Mismatch struct {
	Account string
	Delta   int64
}

type Ledger struct {
	Name     string
	Balances map[string]int64
	Pending  map[string]int64
	Limits   [3]int32
	Tags     []string
	Rate     float64
	Open     bool
	Owner    *User
	Err      error
	Notify   chan int
	Audit    func(string) bool
}

const largeN = 3400

// growing reports, for classic maps (Go <= 1.23), whether the map's
// oldbuckets pointer is set, i.e. a grow is in progress. Swiss maps (1.24+)
// grow a table at once, so there is nothing half-done to report.
func growing(m map[int]string) string {
	if !classicMaps() {
		return "n/a"
	}
	h := *(*unsafe.Pointer)(unsafe.Pointer(&m))
	// runtime.hmap: count int, flags, B uint8, noverflow uint16, hash0
	// uint32, buckets, oldbuckets unsafe.Pointer (offset 24 on 64-bit).
	old := *(*unsafe.Pointer)(unsafe.Add(h, 3*unsafe.Sizeof(uintptr(0))))
	return strconv.FormatBool(old != nil)
}

func growingStr(m map[string]int) string {
	if !classicMaps() {
		return "n/a"
	}
	h := *(*unsafe.Pointer)(unsafe.Pointer(&m))
	old := *(*unsafe.Pointer)(unsafe.Add(h, 3*unsafe.Sizeof(uintptr(0))))
	return strconv.FormatBool(old != nil)
}

// dirDuplicates reports whether a Swiss map (Go 1.24+) has a directory in
// which some table appears more than once: one table has split and
// another has not yet. internal/runtime/maps.Map: used uint64, seed
// uintptr, dirPtr unsafe.Pointer, dirLen int (offsets 0, 8, 16, 24).
func dirDuplicates(mp unsafe.Pointer) bool {
	h := *(*unsafe.Pointer)(mp)
	dirPtr := *(*unsafe.Pointer)(unsafe.Add(h, 16))
	dirLen := *(*int)(unsafe.Add(h, 24))
	for i := 1; i < dirLen; i++ {
		a := *(*uintptr)(unsafe.Add(dirPtr, (i-1)*8))
		b := *(*uintptr)(unsafe.Add(dirPtr, i*8))
		if a == b {
			return true
		}
	}
	return false
}

func classicMaps() bool {
	return goMinor() <= 23
}

// goMinor is the minor version of the Go release that built the program.
func goMinor() int {
	parts := strings.SplitN(strings.TrimPrefix(runtime.Version(), "go"), ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return 0
	}
	minor, _ := strconv.Atoi(parts[1])
	return minor
}

func jsonStringInt(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(strconv.Quote(k) + ":" + strconv.Itoa(m[k]))
	}
	b.WriteString("}")
	return b.String()
}

func jsonIntString(m map[int]string) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var b strings.Builder
	b.WriteString("{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(strconv.Quote(strconv.Itoa(k)) + ":" + strconv.Quote(m[k]))
	}
	b.WriteString("}")
	return b.String()
}

func jsonStringInt64(m map[string]int64) string {
	conv := make(map[string]int, len(m))
	for k, v := range m {
		conv[k] = int(v)
	}
	return jsonStringInt(conv)
}

// reconcile finds the first account whose balance does not add up and
// panics with it; the maps of its caller are all still live.
func (l *Ledger) reconcile(accounts []string) {
	for _, a := range accounts {
		if l.Balances[a]+l.Pending[a] < 0 {
			panic(Mismatch{Account: a, Delta: l.Balances[a] + l.Pending[a]}) // crashlab:culprit main.(*Ledger).reconcile
		}
	}
}

func liveMaps() {
	lab.Goroutine("main")
	// Package variables.
	cache = make(map[string]int)
	for i := 0; i < 24; i++ {
		cache["user-"+strconv.Itoa(100+i)] = i * 7
	}
	for i := 0; i < 24; i += 6 {
		delete(cache, "user-"+strconv.Itoa(100+i))
	}
	index = make(map[int]string)
	for i := 0; i < largeN || (!classicMaps() && !dirDuplicates(unsafe.Pointer(&index)) && i < 50000); i++ {
		index[i*3+1] = "row-" + strconv.Itoa(i)
	}
	// Locals.
	small := make(map[string]int)
	for i := 0; i < 20; i++ {
		small["sku-"+strconv.Itoa(i*i)] = 1000 - i
	}
	large := make(map[string]int)
	for i := 0; i < largeN || (!classicMaps() && !dirDuplicates(unsafe.Pointer(&large)) && i < 50000); i++ {
		large["order-"+strconv.Itoa(50000+i)] = i
	}
	var missing map[string]int
	empty := make(map[string]int)
	ledger := &Ledger{
		Name:     "eu-west",
		Balances: map[string]int64{"acct-1": 120, "acct-2": 75, "acct-7": -40},
		Limits:   [3]int32{10, 20, 30},
		Tags:     []string{"prod", "eu", "tier-1"},
		Rate:     1.25,
		Open:     true,
		Owner:    &User{ID: "u-7", Email: "ops@example.com", Name: "Ops"},
		Err:      os.ErrNotExist,
		Notify:   make(chan int, 4),
		Audit:    func(s string) bool { return strings.HasPrefix(s, "audit") },
	}
	ledger.Notify <- 1
	ledger.Notify <- 2
	lab.JSON("cache", jsonStringInt(cache))
	lab.JSON("index", jsonIntString(index))
	lab.JSON("small", jsonStringInt(small))
	lab.JSON("large", jsonStringInt(large))
	lab.JSON("balances", jsonStringInt64(ledger.Balances))
	lab.Fact("index_growing", growing(index))
	lab.Fact("large_growing", growingStr(large))
	if !classicMaps() {
		lab.Fact("index_dir_duplicates", dirDuplicates(unsafe.Pointer(&index)))
		lab.Fact("large_dir_duplicates", dirDuplicates(unsafe.Pointer(&large)))
	}
	lab.Fact("missing_nil", missing == nil)
	lab.Fact("empty_len", len(empty))
	ledger.reconcile([]string{"acct-1", "acct-2", "acct-7"})
	// Not reached: keeps every map live across the call above.
	lab.Fact("total", len(small)+len(large)+len(missing)+len(empty)+len(cache)+len(index))
}
