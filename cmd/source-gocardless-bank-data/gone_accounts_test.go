package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestGoneAccountsLeaveTheState reads daily, takes a requisition out of
// requisition_ids (replaced by a new one whose accounts connect could not
// match, or deleted) and checks its accounts' places: kept in every
// stream's state while it may come back (or be renewed with --reconnect,
// which moves them), dropped with an INFO once no run has read them for
// more than 90 days, the other accounts' kept. Before, an account gone for
// good kept its places (its details among them) in every state for ever,
// one more set at each requisition replaced. The fake's agreements end
// within 90 days, so the 91 days are played by the state: its places of
// the requisition's accounts say a run read them 91 days ago.
func TestGoneAccountsLeaveTheState(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 2, TransactionsPerAccount: 20})
	streams := []string{"accounts", "balances", "transactions"}
	cat := e.catalog(true, streams...)
	reqs := e.fake.RequisitionIDs()
	open, gone := e.fake.AccountIDs(reqs[0]), e.fake.AccountIDs(reqs[1])
	r := e.read(cat)
	e.cfg["requisition_ids"] = reqs[:1]
	for day := 1; day <= 3; day++ {
		e.fake.AdvanceClock(24 * time.Hour)
		for _, a := range open {
			e.fake.AddBooked(a, 1)
		}
		r = e.read(cat, "--state", r.StateFile(t))
		for _, stream := range streams {
			for _, a := range gone {
				if placesOf(t, r.FinalStates()[stream])[a] == nil {
					t.Fatalf("day %d: account %s has no place in the %s state, read within 90 days", day, a, stream)
				}
			}
		}
	}

	states := st.StreamStates(t, r.StateFile(t))
	var msgs []any
	for _, stream := range streams {
		var s map[string]any
		st.Must(t, json.Unmarshal(states[stream], &s), stream+" state")
		for _, a := range gone {
			place := s["accounts"].(map[string]any)[a].(map[string]any)
			synced, err := time.Parse(time.RFC3339, place["synced_at"].(string))
			st.Must(t, err, "synced_at")
			place["synced_at"] = synced.Add(-91 * 24 * time.Hour).Format(time.RFC3339)
		}
		msgs = append(msgs, map[string]any{"type": "STREAM", "stream": map[string]any{
			"stream_descriptor": map[string]any{"name": stream}, "stream_state": s}})
	}
	e.fake.AdvanceClock(24 * time.Hour)
	r = e.read(cat, "--state", st.WriteFile(t, "state.json", msgs))
	for _, stream := range streams {
		p := placesOf(t, r.FinalStates()[stream])
		for _, a := range gone {
			if p[a] != nil {
				t.Errorf("the %s state keeps the place of account %s, listed by no requisition and last read 91 days ago", stream, a)
			}
			if !r.Logged(protocol.LevelInfo, stream+": ", "account="+a, "its place is dropped") {
				t.Errorf("no INFO says the place of account %s is dropped from the %s state:\n%s", a, stream, r.Stderr)
			}
		}
		for _, a := range open {
			if p[a] == nil {
				t.Errorf("the %s state lost the place of account %s, which its requisition lists", stream, a)
			}
		}
	}
}

// placesOf is the accounts object of a stream's state.
func placesOf(t *testing.T, state json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var s struct {
		Accounts map[string]json.RawMessage `json:"accounts"`
	}
	st.Must(t, json.Unmarshal(state, &s), "state")
	return s.Accounts
}
