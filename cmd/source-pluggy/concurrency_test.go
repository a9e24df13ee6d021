package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConcurrentAccountsHideLatency: with 50 ms added to every answer,
// reading 100 accounts max_concurrency (default 4) at a time overlaps their
// requests, and concurrency changes nothing else: each account's rows come
// out in the order Pluggy served them, every STATE comes after all the rows
// of the accounts it covers, and both runs emit the same rows.
//
// The overlap is asserted from the fake's count of requests in flight, not
// from wall time, so a loaded machine cannot fail it; the speed-up itself
// (~3.7x) is a benchmark's business (dev/pluggy-bench, docs/performance.md)
// and is only logged here.
func TestConcurrentAccountsHideLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 100 accounts twice at 50 ms a request (~16 s, mostly waiting)")
	}
	t.Parallel() // it waits on the fake's latency, not on the CPU
	// Two pages per account, so order holds across pages too.
	e := newEnv(t, fake.Options{Items: 25, AccountsPerItem: 4, TransactionsPerAccount: 60, PageSize: 50, Latency: 50 * time.Millisecond})
	cat := e.catalog(true, "transactions")

	run := func(over map[string]any) (*st.Result, time.Duration, int) {
		t.Helper()
		e.fake.ResetStats()
		start := time.Now()
		r := st.Run(t, e.bin, "read", "--config", e.config(over), "--catalog", cat)
		d := time.Since(start)
		if r.Code != 0 {
			t.Fatalf("read exited %d: %v\n%s", r.Code, r.ErrorTraces(), r.Stderr)
		}
		st.ValidateProtocol(t, r)
		return r, d, e.fake.Stats().MaxInFlight
	}
	serial, serialTime, serialPeak := run(map[string]any{"max_concurrency": 1})
	conc, concTime, concPeak := run(nil)
	t.Logf("100 accounts, 50 ms latency: one by one %v (%d in flight at most), max_concurrency 4 %v (%d in flight at most): %.1fx",
		serialTime.Round(time.Millisecond), serialPeak, concTime.Round(time.Millisecond), concPeak, serialTime.Seconds()/concTime.Seconds())
	if serialPeak != 1 {
		t.Errorf("max_concurrency 1 had %d requests in flight at once, want 1", serialPeak)
	}
	if concPeak < 2 || concPeak > 4 {
		t.Errorf("max_concurrency 4 had at most %d requests in flight at once, want 2 to 4", concPeak)
	}

	served := map[string][]string{} // account -> ids in served order
	for _, item := range e.fake.ItemIDs() {
		for _, acct := range e.fake.AccountIDs(item) {
			for _, raw := range e.fake.Transactions(acct) {
				var row struct{ ID string }
				_ = json.Unmarshal(raw, &row)
				served[acct] = append(served[acct], row.ID)
			}
		}
	}
	for name, r := range map[string]*st.Result{"serial": serial, "concurrent": conc} {
		checkAccountOrderAndStates(t, name, r, served)
	}
}

// checkAccountOrderAndStates checks a first sync's output: rows per account
// in served order and complete, and no STATE covering an account whose rows
// are not all out before it.
func checkAccountOrderAndStates(t *testing.T, name string, r *st.Result, served map[string][]string) {
	t.Helper()
	got := map[string][]string{}
	states := 0
	for _, m := range r.Messages {
		switch m.Type {
		case protocol.TypeRecord:
			var row struct{ ID, AccountID string }
			if err := json.Unmarshal(m.Record.Data, &row); err != nil {
				t.Fatal(err)
			}
			got[row.AccountID] = append(got[row.AccountID], row.ID)
		case protocol.TypeState:
			states++
			var s struct {
				Accounts map[string]struct {
					CreatedAt string `json:"created_at"`
				} `json:"accounts"`
			}
			if err := json.Unmarshal(m.State.Stream.StreamState, &s); err != nil {
				t.Fatal(err)
			}
			for acct, c := range s.Accounts {
				// An account being read is only announced (no cursor yet
				// on a first sync): the state does not cover it.
				if c.CreatedAt == "" {
					continue
				}
				if len(got[acct]) != len(served[acct]) {
					t.Fatalf("%s: STATE %d covers account %s with %d of its %d rows emitted", name, states, acct, len(got[acct]), len(served[acct]))
				}
			}
		}
	}
	if states == 0 {
		t.Fatalf("%s: no STATE", name)
	}
	for acct, ids := range served {
		g := got[acct]
		if len(g) != len(ids) {
			t.Fatalf("%s: account %s: %d rows, want %d", name, acct, len(g), len(ids))
		}
		for i := range ids {
			if g[i] != ids[i] {
				t.Fatalf("%s: account %s: row %d is %s, want %s (served order)", name, acct, i, g[i], ids[i])
			}
		}
	}
}
