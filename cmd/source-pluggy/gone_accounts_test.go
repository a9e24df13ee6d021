package main

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestGoneAccountsLeaveTheState reads daily, takes an item out of item_ids
// (deleted in Pluggy, replaced by a new one) and checks that its accounts'
// and investments' places stay in the transactions and
// investment_transactions states while the item may come back, and leave
// them once no run has read them for more than 90 days. Before, each
// account and investment ever read kept its place, window ids included, in
// every state for ever: one more set at each item replaced or account
// closed. Brought back after that, the item's accounts are read from
// start_date, every row. The connector's clock is the machine's, so the 91
// days are played by the state: its places of the item's accounts and
// investments say a run read them 91 days ago.
func TestGoneAccountsLeaveTheState(t *testing.T) {
	var mu sync.Mutex
	clock := time.Now().UTC().Add(-30 * 24 * time.Hour)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	e := newEnv(t, fake.Options{Items: 2, AccountsPerItem: 2, TransactionsPerAccount: 30, Now: now})
	items := e.fake.ItemIDs()
	kept, gone := e.fake.AccountIDs(items[0]), e.fake.AccountIDs(items[1])
	var invs struct {
		Results []struct {
			ID string `json:"id"`
		} `json:"results"`
	}
	e.apiGet("/investments?itemId="+items[1], &invs)
	if len(invs.Results) == 0 {
		t.Fatalf("the fake's item %s has no investment", items[1])
	}
	var goneInvs []string
	for _, inv := range invs.Results {
		goneInvs = append(goneInvs, inv.ID)
	}
	cat := e.catalog(true, "transactions", "investment_transactions")
	// placesOf is the places of a stream's state: its accounts, or its
	// investments.
	placesOf := func(r *st.Result, stream, member string) map[string]json.RawMessage {
		t.Helper()
		var s map[string]json.RawMessage
		st.Must(t, json.Unmarshal(r.FinalStates()[stream], &s), stream+" state")
		var places map[string]json.RawMessage
		st.Must(t, json.Unmarshal(s[member], &places), stream+" state's "+member)
		return places
	}
	places := func(r *st.Result) map[string]json.RawMessage { return placesOf(r, "transactions", "accounts") }
	r := e.read(cat)
	e.cfg["item_ids"] = items[:1]
	for day := 1; day <= 3; day++ {
		mu.Lock()
		clock = clock.Add(24 * time.Hour)
		mu.Unlock()
		e.fake.AddNew(4)
		r = e.read(cat, "--state", r.StateFile(t))
		p := places(r)
		for _, id := range append(append([]string{}, kept...), gone...) {
			if _, ok := p[id]; !ok {
				t.Fatalf("day %d: account %s has no place in the state, read within 90 days", day, id)
			}
		}
		for _, id := range goneInvs {
			if placesOf(r, "investment_transactions", "investments")[id] == nil {
				t.Fatalf("day %d: investment %s has no place in the state, read within 90 days", day, id)
			}
		}
	}

	// The state a daily read passes 91 days after the item was taken out:
	// its accounts and investments were last read then.
	states := st.StreamStates(t, r.StateFile(t))
	var msgs []any
	for stream, g := range map[string]struct {
		member string
		ids    []string
	}{"transactions": {"accounts", gone}, "investment_transactions": {"investments", goneInvs}} {
		var s map[string]any
		st.Must(t, json.Unmarshal(states[stream], &s), stream+" state")
		for _, id := range g.ids {
			place := s[g.member].(map[string]any)[id].(map[string]any)
			synced, err := time.Parse(time.RFC3339Nano, place["synced_at"].(string))
			st.Must(t, err, "synced_at")
			place["synced_at"] = synced.Add(-91 * 24 * time.Hour).Format(time.RFC3339Nano)
		}
		msgs = append(msgs, map[string]any{"type": "STREAM", "stream": map[string]any{
			"stream_descriptor": map[string]any{"name": stream}, "stream_state": s}})
	}
	r = e.read(cat, "--state", st.WriteFile(t, "state.json", msgs))
	p := places(r)
	for _, id := range gone {
		if _, ok := p[id]; ok {
			t.Errorf("account %s, listed by no item of item_ids and last read 91 days ago, keeps its place in the state", id)
		}
		if !r.Logged(protocol.LevelInfo, "account="+id, "its place is dropped") {
			t.Errorf("no log line says the place of account %s is dropped:\n%s", id, r.Stderr)
		}
	}
	for _, id := range kept {
		if _, ok := p[id]; !ok {
			t.Errorf("account %s of a configured item lost its place", id)
		}
	}
	for _, id := range goneInvs {
		if placesOf(r, "investment_transactions", "investments")[id] != nil {
			t.Errorf("investment %s, listed by no item of item_ids and last read 91 days ago, keeps its place in the state", id)
		}
		if !r.Logged(protocol.LevelInfo, "investment="+id, "its place is dropped") {
			t.Errorf("no INFO says the place of investment %s is dropped:\n%s", id, r.Stderr)
		}
	}

	// The item comes back: its accounts are read as new ones, every row.
	e.cfg["item_ids"] = items
	r = e.read(cat, "--state", r.StateFile(t))
	got := map[string]int{}
	for _, raw := range r.Records()["transactions"] {
		var x struct {
			AccountID string `json:"accountId"`
		}
		st.Must(t, json.Unmarshal(raw, &x), "transactions record")
		got[x.AccountID]++
	}
	for _, id := range gone {
		if want := len(e.fake.Transactions(id)); got[id] != want {
			t.Errorf("account %s back after its place was dropped: %d rows read, Pluggy has %d", id, got[id], want)
		}
	}
}
