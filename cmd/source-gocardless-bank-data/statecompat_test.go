package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// stateWrittenBefore is a state file written by an earlier binary (see
// testdata/gocardless/state/README.md): a user's file, which every later
// binary must keep reading the same way.
const stateWrittenBefore = "../../testdata/gocardless/state/v1-quota-and-details.json"

// stateClock is the fake's clock when that state was written.
var stateClock = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// compatEnv is the fake the state was written against, its clock at
// stateClock plus after.
func compatEnv(t *testing.T, after time.Duration) *env {
	t.Helper()
	return newEnv(t, fake.Options{TransactionsPerAccount: 30, Now: func() time.Time { return stateClock.Add(after) }})
}

// TestStateOfAnEarlierBinaryLoads: an hour after an earlier binary wrote
// its state, the account whose transactions quota that state records as
// spent is not called, nor is the one whose details quota it records as
// spent (a WARN says so for each); the details it cached are reused (no
// details call), and the state written back keeps the skipped account's
// place and quota.
func TestStateOfAnEarlierBinaryLoads(t *testing.T) {
	if os.Getenv("WRITE_STATE_FIXTURE") != "" {
		writeStateFixture(t)
		return
	}
	e := compatEnv(t, time.Hour)
	before := st.StreamStates(t, stateWrittenBefore)
	tx := decodeTxState(t, before["transactions"])
	spent, noDetails := spentAccount(before["transactions"]), spentAccount(before["accounts"])
	if !slices.Contains(e.accounts(), spent) || !slices.Contains(e.accounts(), noDetails) {
		t.Fatalf("the fixture's spent accounts %q and %q are not the fake's %v", spent, noDetails, e.accounts())
	}
	r := e.read(e.catalog(true, "accounts", "balances", "transactions"), "--state", stateWrittenBefore)
	s := e.fake.Stats()
	if !warned(r, spent, "transactions", "until") {
		t.Errorf("no WARN that %s is skipped", spent)
	}
	if n := s.Count(fake.RouteTransactions); n != len(e.accounts())-1 {
		t.Errorf("%d transactions calls for %d accounts, one of them spent", n, len(e.accounts()))
	}
	if n := s.Count(fake.RouteDetails); n != 0 {
		t.Errorf("%d details calls within a day of the cached ones", n)
	}
	if n := len(r.Records()["accounts"]); n != len(e.accounts()) {
		t.Errorf("%d account records, want %d", n, len(e.accounts()))
	}
	for _, raw := range r.Records()["accounts"] {
		var rec struct {
			ID      string         `json:"id"`
			Details map[string]any `json:"details"`
		}
		st.Must(t, json.Unmarshal(raw, &rec), "account record")
		if (len(rec.Details) == 0) != (rec.ID == noDetails) {
			t.Errorf("account %s emitted with details %v; only %s has none cached", rec.ID, rec.Details, noDetails)
		}
	}
	if !warned(r, noDetails, "details", "until") {
		t.Errorf("no WARN that the details of %s are skipped", noDetails)
	}
	after := decodeTxState(t, r.FinalStates()["transactions"])
	if after.Accounts[spent] != tx.Accounts[spent] {
		t.Errorf("the skipped account's place moved: %+v, was %+v", after.Accounts[spent], tx.Accounts[spent])
	}
	if after.Quota[spent] != tx.Quota[spent] {
		t.Errorf("the skipped account's quota changed: %+v, was %+v", after.Quota[spent], tx.Quota[spent])
	}
}

// spentAccount returns the account whose quota a stream state records as
// spent.
func spentAccount(raw json.RawMessage) string {
	var s struct {
		Quota map[string]struct {
			Remaining int `json:"remaining"`
		} `json:"quota"`
	}
	_ = json.Unmarshal(raw, &s)
	for a, q := range s.Quota {
		if q.Remaining == 0 {
			return a
		}
	}
	return ""
}

// writeStateFixture writes the fixture with the binary of this tree: a
// first read in which one account's details quota is spent (its entry
// has no details), then one in which another's transactions quota is.
func writeStateFixture(t *testing.T) {
	e := compatEnv(t, 0)
	cat := e.catalog(true, "accounts", "balances", "transactions")
	e.fake.ExhaustQuota(e.accounts()[2], fake.EndpointDetails)
	r1 := e.read(cat)
	e.fake.ExhaustQuota(e.accounts()[1], fake.EndpointTransactions)
	r2 := e.read(cat, "--state", r1.StateFile(t))
	b, err := os.ReadFile(r2.StateFile(t))
	st.Must(t, err, "state")
	st.Must(t, os.WriteFile(filepath.FromSlash(stateWrittenBefore), b, 0o644), "fixture")
}
