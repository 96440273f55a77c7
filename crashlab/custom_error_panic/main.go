// custom_error_panic: a validation error (a custom error type) is raised
// with panic several frames deep inside an import pipeline. The runtime
// prints the value's Error() text.
package main

import (
	"fmt"
	"strings"

	"crashlab/lab"
)

type ValidationError struct {
	Line  int
	Field string
	Msg   string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("line %d: field %q: %s", e.Line, e.Field, e.Msg)
}

type Record struct {
	Email string
	Plan  string
}

func validate(line int, r Record) {
	if !strings.Contains(r.Email, "@") {
		panic(&ValidationError{Line: line, Field: "email", Msg: "not an address"}) // crashlab:culprit main.validate
	}
}

func parseRecord(line int, s string) Record {
	email, plan, _ := strings.Cut(s, ",")
	r := Record{Email: email, Plan: plan}
	validate(line, r)
	return r
}

func importBatch(rows []string) []Record {
	var out []Record
	for i, row := range rows {
		out = append(out, parseRecord(i+1, row))
	}
	return out
}

func runImport(src string) int {
	return len(importBatch(strings.Split(src, "\n")))
}

func main() {
	lab.Goroutine("main")
	n := runImport("ada@example.com,pro\ngrace.example.com,free\nalan@example.com,pro")
	lab.Fact("imported", n)
}
