package main

import (
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestKeysDoNotDependOnRowOrder: the order of rows within and across pages
// is undocumented (the reference, §4.1: do not rely on it). The same bank
// data served newest first (the fake's default), oldest first and
// shuffled (Options.Order) reads to the same records under the same
// primary keys, in a first read and in an incremental one after the banks
// book, re-reference and renumber rows, and the merged destination is the
// same.
func TestKeysDoNotDependOnRowOrder(t *testing.T) {
	type outcome struct{ first, second, merged map[string]string }
	read := func(order string, seed uint64) outcome {
		e := newEnv(t, fake.Options{Sessions: 2, TransactionsPerAccount: 50, PageSize: 7, Order: order, OrderSeed: seed})
		cat := e.catalog(true, "transactions")
		r1 := e.read(cat)
		accounts := e.accounts()
		for _, a := range accounts {
			e.fake.AddBooked(a, 2)
		}
		e.fake.BookPending(accounts[0])
		e.fake.ChangeReferences(accounts[0], 5)
		e.fake.ChangeReferences(accounts[2], 2) // the positional bank's
		r2 := e.read(cat, "--state", r1.StateFile(t))
		byKey := func(reads ...*st.Result) map[string]string {
			out := map[string]string{}
			for k, raw := range mergeByKey(t, reads...) {
				out[k] = without(t, raw, "account_uid", "session_id")
			}
			return out
		}
		return outcome{byKey(r1), byKey(r2), byKey(r1, r2)}
	}
	want := read(fake.OrderNewestFirst, 0)
	for _, c := range []struct {
		order string
		seed  uint64
	}{{fake.OrderOldestFirst, 0}, {fake.OrderShuffled, 7}, {fake.OrderShuffled, 8}} {
		got := read(c.order, c.seed)
		for name, pair := range map[string][2]map[string]string{
			"first read": {want.first, got.first}, "incremental read": {want.second, got.second}, "merged destination": {want.merged, got.merged},
		} {
			w, g := pair[0], pair[1]
			if len(w) != len(g) {
				t.Errorf("order %q (seed %d), %s: %d records, newest first %d", c.order, c.seed, name, len(g), len(w))
			}
			for k, rec := range g {
				if w[k] != rec {
					t.Errorf("order %q (seed %d), %s: key %s holds\n%s\nnewest first:\n%s", c.order, c.seed, name, k, rec, w[k])
				}
			}
		}
	}
}
