// For editors, go vet and `go run ./crashlab/bigdump` from a checkout. The
// generator does not use this file: it writes /go/src/crashlab/go.mod with
// the `go` line of the toolchain it runs.
module crashlab

go 1.23
