package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestGoneAccountsLeaveTheState reads daily while the bank closes an
// account (its session lists it without a uid, as a closed or blocked
// one), then once more 91 days on, and checks the account's places: kept
// in every stream's state while the account may come back, dropped with an
// INFO once no run has read it for more than 90 days, the other accounts'
// kept. Before, an account gone for good kept its places (a week of keys,
// its details) in every state for ever, one more at each account closed or
// left out of a renewed session.
func TestGoneAccountsLeaveTheState(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, AccountsPerSession: 3, TransactionsPerAccount: 20})
	streams := []string{"accounts", "balances", "transactions"}
	cat := e.catalog(true, streams...)
	accounts := e.accounts()
	closed, open := e.fake.IdentificationHash(accounts[0]), e.fake.IdentificationHash(accounts[1])
	places := func(r *st.Result, stream string) map[string]json.RawMessage {
		t.Helper()
		var s struct {
			Accounts map[string]json.RawMessage `json:"accounts"`
		}
		st.Must(t, json.Unmarshal(r.FinalStates()[stream], &s), stream+" state")
		return s.Accounts
	}
	r := e.read(cat)
	e.fake.BlockAccount(accounts[0])
	for day := 1; day <= 3; day++ {
		e.fake.AdvanceClock(24 * time.Hour)
		for _, uid := range accounts[1:] {
			e.fake.AddBooked(uid, 1)
		}
		r = e.read(cat, "--state", r.StateFile(t))
		for _, stream := range streams {
			if places(r, stream)[closed] == nil {
				t.Fatalf("day %d: the closed account %s has no place in the %s state, read within 90 days", day, closed, stream)
			}
		}
	}
	e.fake.AdvanceClock(88 * 24 * time.Hour) // 91 days after its last read
	r = e.read(cat, "--state", r.StateFile(t))
	for _, stream := range streams {
		p := places(r, stream)
		if p[closed] != nil {
			t.Errorf("the %s state keeps the place of account %s, listed by no session and last read 91 days ago", stream, closed)
		}
		if p[open] == nil {
			t.Errorf("the %s state lost the place of account %s, which its session lists", stream, open)
		}
		if !r.Logged(protocol.LevelInfo, stream+": ", "account="+closed, "its place is dropped") {
			t.Errorf("no INFO says the place of account %s is dropped from the %s state:\n%s", closed, stream, r.Stderr)
		}
	}
}
