package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// orderRun is what two reads of one order gave: per sync, the rows
// emitted (id -> description) and the ids tombstoned.
type orderRun struct {
	first, second map[string]string
	tombstones    []string
}

// TestRowOrderDoesNotMatter: Pluggy documents no order for
// /v2/transactions (pluggy-api.md §5: "Ordering is not documented …
// (UNCERTAIN). Don't depend on order"). Whether the fake serves rows
// newest first (its default), oldest first or shuffled (two seeds), with
// small pages, a first sync and an incremental second sync after new,
// back-dated, updated and deleted rows emit the same records and the same
// tombstones, and leave the destination equal to the fake.
func TestRowOrderDoesNotMatter(t *testing.T) {
	base := time.Now().UTC()
	orders := []struct {
		order fake.RowOrder
		seed  uint64
	}{{fake.OrderNewestFirst, 0}, {fake.OrderOldestFirst, 0}, {fake.OrderShuffled, 7}, {fake.OrderShuffled, 99}}
	runs := make([]orderRun, len(orders))
	for k, o := range orders {
		name := fmt.Sprintf("%s seed %d", o.order, o.seed)
		ok := t.Run(name, func(t *testing.T) {
			created := time.Now()
			e := newEnv(t, fake.Options{
				Items: 1, TransactionsPerAccount: 120, PageSize: 15,
				TransactionOrder: o.order, OrderSeed: o.seed,
				// One clock for every order: the same data, the same mutations.
				Now: func() time.Time { return base.Add(time.Since(created)) },
			})
			checkServedOrder(t, e, o.order)
			cat := e.catalog(true, "transactions")
			dest := destination{}
			r1 := e.read(cat)
			dest.apply(t, r1)
			if d := dest.diff(e.truth()); d != "" {
				t.Fatalf("first sync: %s", d)
			}
			e.fake.AddNew(10)
			e.fake.AddBackdated(3, 40*24*time.Hour)
			e.fake.UpdateInPlace(4)
			deleted := e.fake.Delete(3)
			r2 := e.read(cat, "--state", r1.StateFile(t))
			tomb := dest.apply(t, r2)
			if d := dest.diff(e.truth()); d != "" {
				t.Fatalf("second sync: %s", d)
			}
			for _, id := range deleted {
				if !contains(tomb, id) {
					t.Errorf("deleted row %s got no tombstone", id)
				}
			}
			sort.Strings(tomb)
			runs[k] = orderRun{first: emittedRows(t, r1), second: emittedRows(t, r2), tombstones: tomb}
		})
		if !ok {
			return
		}
	}
	want := runs[0]
	for k, got := range runs[1:] {
		name := fmt.Sprintf("%s seed %d", orders[k+1].order, orders[k+1].seed)
		if d := compareEmitted(want.first, got.first); d != "" {
			t.Errorf("%s, first sync, against newest-first: %s", name, d)
		}
		if d := compareEmitted(want.second, got.second); d != "" {
			t.Errorf("%s, second sync, against newest-first: %s", name, d)
		}
		if strings.Join(got.tombstones, ",") != strings.Join(want.tombstones, ",") {
			t.Errorf("%s: tombstones %v, newest-first gave %v", name, got.tombstones, want.tombstones)
		}
	}
}

// checkServedOrder fails unless an account's first page is in order o:
// dates descending, ascending, or mixed both ways.
func checkServedOrder(t *testing.T, e *env, o fake.RowOrder) {
	t.Helper()
	var page struct{ Results []struct{ Date string } }
	e.apiGet("/v2/transactions?accountId="+e.fake.AccountIDs(e.fake.ItemIDs()[0])[0], &page)
	var up, down int
	for i := 1; i < len(page.Results); i++ {
		switch a, b := page.Results[i-1].Date, page.Results[i].Date; {
		case a < b:
			up++
		case a > b:
			down++
		}
	}
	bad := len(page.Results) < 10
	switch o {
	case fake.OrderNewestFirst:
		bad = bad || up > 0 || down == 0
	case fake.OrderOldestFirst:
		bad = bad || down > 0 || up == 0
	case fake.OrderShuffled:
		bad = bad || up == 0 || down == 0
	}
	if bad {
		t.Fatalf("the fake's first page of %d rows is not %s: %d steps up in date, %d down", len(page.Results), o, up, down)
	}
}

// emittedRows are the live rows a read emitted, id -> description; a row
// emitted twice with two descriptions is marked so.
func emittedRows(t *testing.T, r *st.Result) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, x := range txRecords(t, r) {
		if x.DeletedAt != nil {
			continue
		}
		if prev, ok := out[x.ID]; ok && prev != x.Description {
			x.Description = prev + " | " + x.Description
		}
		out[x.ID] = x.Description
	}
	return out
}

// compareEmitted describes how got differs from want (empty when equal).
func compareEmitted(want, got map[string]string) string {
	var missing, extra, differ int
	for id, d := range want {
		g, ok := got[id]
		switch {
		case !ok:
			missing++
		case g != d:
			differ++
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra++
		}
	}
	if missing+extra+differ == 0 {
		return ""
	}
	return fmt.Sprintf("%d rows not emitted, %d emitted only here, %d with other values (%d rows against %d)", missing, extra, differ, len(got), len(want))
}
