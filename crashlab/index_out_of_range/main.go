// index_out_of_range: a shard index computed from a hash is used against a
// slice that has fewer shards than the configuration says.
package main

import (
	"strings"

	"crashlab/lab"
)

type Ring struct {
	shards []string
	n      int // configured shard count, out of date
}

func (r *Ring) shardFor(key string) string {
	h := 0
	for _, c := range key {
		h = h*31 + int(c)
	}
	return r.shards[h%r.n] // crashlab:culprit main.(*Ring).shardFor
}

func main() {
	lab.Goroutine("main")
	r := &Ring{shards: strings.Fields("db-0 db-1 db-2"), n: 8}
	for _, k := range []string{"a", "e"} {
		lab.Fact("shard_"+k, r.shardFor(k))
	}
}
