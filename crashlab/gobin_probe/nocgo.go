//go:build !cgo

package main

func cgoTwice(x int) int { return 2 * x }
