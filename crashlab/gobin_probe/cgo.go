//go:build cgo

package main

// A C function makes the cgo build link externally: `.text` then starts
// with C runtime code before `runtime.text`.

/*
static int twice(int x) { return 2 * x; }
*/
import "C"

func cgoTwice(x int) int { return int(C.twice(C.int(x))) }
