// stack_overflow: a category tree has a cycle (a node is its own
// grand-parent), and Depth recurses until the goroutine stack exceeds
// the 1 GB limit: "fatal error: stack overflow".
package main

import (
	"crashlab/lab"
)

type Category struct {
	Name   string
	Parent *Category
}

func (c *Category) Depth() int { // crashlab:culprit main.(*Category).Depth
	if c.Parent == nil {
		return 0
	}
	return 1 + c.Parent.Depth()
}

func main() {
	lab.Goroutine("main")
	root := &Category{Name: "root"}
	books := &Category{Name: "books", Parent: root}
	root.Parent = books // bad import: cycle
	lab.Fact("depth", books.Depth())
}
