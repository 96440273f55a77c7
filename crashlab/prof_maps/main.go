// prof_maps: a CPU profile of a map-heavy workload, for the map lens.
//
// Each map operation is done by one user function, so the lens's answer is
// known from the program's structure (recorded as facts):
//
//	lookupUser    reads  map[string]*User   (mapaccess*_faststr)
//	recordHit     writes map[int]int        (mapassign_fast64), no growth
//	buildIndex    grows  map[string]int     (fresh map, no size hint)
//	scanSessions  ranges map[int]*Session   (map iteration)
//	purgeExpired  deletes from map[int]int  (mapdelete_fast64)
//
// Writes cpu.pb.gz in the working directory.
package main

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"crashlab/lab"
)

type User struct {
	Name  string
	Score int
}

type Session struct {
	ID      int
	Expires int
}

var (
	users    = map[string]*User{}
	names    []string
	counters = make(map[int]int, 1<<16)
	sessions = map[int]*Session{}
	expiring = make(map[int]int, 1<<12)
	sink     int
)

func lookupUser(name string) *User {
	return users[name]
}

func recordHit(id int) {
	counters[id&0xffff]++
}

func buildIndex(n int) map[string]int {
	idx := map[string]int{}
	for i := 0; i < n; i++ {
		idx[names[i%len(names)]] = i
	}
	return idx
}

func scanSessions(now int) int {
	live := 0
	for _, s := range sessions {
		if s.Expires > now {
			live++
		}
	}
	return live
}

func purgeExpired(base int) {
	for i := 0; i < 256; i++ {
		expiring[base+i] = i
	}
	for round := 0; round < 16; round++ {
		for i := 0; i < 256; i++ {
			delete(expiring, base+i)
		}
	}
}

func setup() {
	for i := 0; i < 50000; i++ {
		n := "user-" + strconv.Itoa(i)
		names = append(names, n)
		users[n] = &User{Name: n, Score: i}
	}
	for i := 0; i < 20000; i++ {
		sessions[i] = &Session{ID: i, Expires: i % 100}
	}
}

// work runs every phase for a slice of time, round-robin, until the deadline.
func work(deadline time.Time) {
	i := 0
	for time.Now().Before(deadline) {
		for j := 0; j < 20000; j++ {
			if u := lookupUser(names[(i*7919+j)%len(names)]); u != nil {
				sink += u.Score
			}
		}
		for j := 0; j < 20000; j++ {
			recordHit(i*131 + j)
		}
		sink += len(buildIndex(4096))
		sink += scanSessions(i % 100)
		purgeExpired(i * 1024)
		i++
	}
}

func main() {
	setup()
	f, err := os.Create("cpu.pb.gz")
	if err != nil {
		panic(err)
	}
	// 500 Hz instead of 100 for enough samples in a short run; pprof's
	// StartCPUProfile warns that the rate is already set and keeps it.
	runtime.SetCPUProfileRate(500)
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	work(time.Now().Add(2 * time.Second))
	pprof.StopCPUProfile()
	f.Close()
	lab.Fact("read_caller", "main.lookupUser")
	lab.Fact("write_caller", "main.recordHit")
	lab.Fact("grow_caller", "main.buildIndex")
	lab.Fact("iterate_caller", "main.scanSessions")
	lab.Fact("delete_caller", "main.purgeExpired")
	lab.Fact("sink", sink%2)
}
