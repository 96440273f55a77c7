// prof_mapleak: heap and allocs profiles of a session cache that keeps
// growing (the bug: entries are never evicted) and, with -fixed, of the
// same cache bounded by eviction (the fix). Also the heap profile as text
// (debug=1), the legacy format /debug/pprof/heap?debug=1 serves.
//
// Writes heap.pb.gz, allocs.pb.gz and heap_debug1.txt in the working
// directory.
package main

import (
	"flag"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"

	"crashlab/lab"
)

type entry struct {
	user  string
	token [32]byte
}

type SessionCache struct {
	byID  map[string]*entry
	order []string
	limit int
}

func NewSessionCache(limit int) *SessionCache {
	return &SessionCache{byID: make(map[string]*entry), limit: limit}
}

// Remember stores a session; without a limit it never forgets one.
func (c *SessionCache) Remember(id, user string) {
	c.byID[id] = &entry{user: user}
	if c.limit > 0 {
		c.order = append(c.order, id)
		if len(c.order) > c.limit {
			delete(c.byID, c.order[0])
			c.order = c.order[1:]
		}
	}
}

func handleLogin(c *SessionCache, i int) {
	c.Remember("sess-"+strconv.Itoa(i), "user-"+strconv.Itoa(i%1000))
}

func write(name string, debug int) {
	f, err := os.Create(name)
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup(name[:len(name)-len(fileSuffix(name))]).WriteTo(f, debug); err != nil {
		panic(err)
	}
	f.Close()
}

func fileSuffix(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == '.' || name[i] == '_' {
			return name[i:]
		}
	}
	return ""
}

func main() {
	fixed := flag.Bool("fixed", false, "bound the cache (the fix)")
	flag.Parse()
	runtime.MemProfileRate = 4096
	limit := 0
	if *fixed {
		limit = 2000
	}
	c := NewSessionCache(limit)
	for i := 0; i < 200000; i++ {
		handleLogin(c, i)
	}
	runtime.GC()
	runtime.GC()
	write("heap.pb.gz", 0)
	write("allocs.pb.gz", 0)
	write("heap_debug1.txt", 1)
	lab.Fact("entries", len(c.byID))
	lab.Fact("map_caller", "main.(*SessionCache).Remember")
	runtime.KeepAlive(c)
}
