// nested_panic: a transaction helper recovers a panic to roll back and then
// panics again with a *different* value (wrapping the first). The runtime
// prints the chain oldest first: "panic: X [recovered]" then
// "\tpanic: Y".
package main

import (
	"fmt"

	"crashlab/lab"
)

type Tx struct{ id int }

func (t *Tx) Rollback() {}

func withTx(fn func(*Tx)) {
	tx := &Tx{id: 7}
	defer func() {
		if r := recover(); r != nil {
			tx.Rollback()
			panic(fmt.Sprintf("tx %d rolled back: %v", tx.id, r))
		}
	}()
	fn(tx)
}

func applyMigration(tx *Tx) {
	steps := []string{"create table users", "add column email"}
	for i := 0; i <= len(steps); i++ {
		if i == len(steps) {
			panic("migration 0042: unknown step") // crashlab:culprit main.applyMigration
		}
	}
}

func main() {
	lab.Goroutine("main")
	withTx(applyMigration)
}
