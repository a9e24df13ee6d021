package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// stateWrittenBefore is a state file written by an earlier binary (see
// testdata/enablebanking/state/README.md): a user's file, which every
// later binary must keep reading the same way.
const stateWrittenBefore = "../../testdata/enablebanking/state/v1-quota-and-details.json"

// stateClock is the fake's clock when that state was written.
var stateClock = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

// compatEnv is the fake the state was written against, its clock at
// stateClock plus after.
func compatEnv(t *testing.T, after time.Duration) *env {
	t.Helper()
	return newEnv(t, fake.Options{Sessions: 2, TransactionsPerAccount: 30, Now: func() time.Time { return stateClock.Add(after) }})
}

// limitBooks is a stream state's quota: per account key, the books.
type limitBooks map[string]struct {
	Calls        []string `json:"calls"`
	BlockedUntil string   `json:"blocked_until"`
}

func booksOf(t *testing.T, raw json.RawMessage) limitBooks {
	t.Helper()
	var s struct {
		Quota limitBooks `json:"quota"`
	}
	st.Must(t, json.Unmarshal(raw, &s), "state")
	return s.Quota
}

// refusedAccount returns the account key whose books hold a refusal.
func (b limitBooks) refusedAccount() string {
	for k, u := range b {
		if u.BlockedUntil != "" {
			return k
		}
	}
	return ""
}

// TestStateOfAnEarlierBinaryLoads: an hour after an earlier binary wrote
// its state, the account whose transactions call the bank refused (as
// that state records) is not called and the details it cached are reused
// (no details call; the account whose details were refused has none, and
// is not called either), each with a WARN; the books written back keep the
// calls the state counted, and the place of the skipped account.
func TestStateOfAnEarlierBinaryLoads(t *testing.T) {
	if os.Getenv("WRITE_STATE_FIXTURE") != "" {
		writeStateFixture(t)
		return
	}
	e := compatEnv(t, time.Hour)
	before := st.StreamStates(t, stateWrittenBefore)
	txBooks, detailBooks := booksOf(t, before["transactions"]), booksOf(t, before["accounts"])
	refused, noDetails := txBooks.refusedAccount(), detailBooks.refusedAccount()
	var keys []string
	for _, uid := range e.accounts() {
		keys = append(keys, e.fake.IdentificationHash(uid))
	}
	if !slices.Contains(keys, refused) || !slices.Contains(keys, noDetails) {
		t.Fatalf("the fixture's refused accounts %q and %q are not the fake's %v", refused, noDetails, keys)
	}

	r := e.read(e.catalog(true, "accounts", "balances", "transactions"), "--state", stateWrittenBefore)
	s := e.fake.Stats()
	if !r.Warned(refused, "transactions", "daily limit") || !r.Warned(noDetails, "details", "daily limit") {
		t.Errorf("no WARN that %s's transactions and %s's details are skipped", refused, noDetails)
	}
	if s.Chains != len(keys)-1 {
		t.Errorf("%d transactions calls for %d accounts, one of them refused", s.Chains, len(keys))
	}
	if n := s.Count(fake.RouteDetails); n != 0 {
		t.Errorf("%d details calls within a day of the cached ones", n)
	}
	for _, raw := range r.Records()["accounts"] {
		var rec struct {
			Key       string  `json:"account_key"`
			FetchedAt *string `json:"details_fetched_at"`
		}
		st.Must(t, json.Unmarshal(raw, &rec), "account record")
		if (rec.FetchedAt == nil) != (rec.Key == noDetails) {
			t.Errorf("account %s emitted with details_fetched_at %v; only %s has no details cached", rec.Key, rec.FetchedAt, noDetails)
		}
	}

	final := r.FinalStates()
	after := booksOf(t, final["transactions"])
	for _, k := range keys {
		was, now := txBooks[k], after[k]
		if k == refused {
			if now.BlockedUntil != was.BlockedUntil || !slices.Equal(now.Calls, was.Calls) {
				t.Errorf("the refused account's books changed: %+v, were %+v", now, was)
			}
			continue
		}
		if len(now.Calls) != len(was.Calls)+1 || !slices.Equal(now.Calls[:len(was.Calls)], was.Calls) {
			t.Errorf("account %s: calls %v, want the state's %v and this run's", k, now.Calls, was.Calls)
		}
	}
	var txBefore, txAfter struct {
		Accounts map[string]any `json:"accounts"`
	}
	st.Must(t, json.Unmarshal(before["transactions"], &txBefore), "state")
	st.Must(t, json.Unmarshal(final["transactions"], &txAfter), "state")
	if !reflect.DeepEqual(txAfter.Accounts[refused], txBefore.Accounts[refused]) {
		t.Errorf("the refused account's place moved: %v, was %v", txAfter.Accounts[refused], txBefore.Accounts[refused])
	}
}

// writeStateFixture writes the fixture with the binary of this tree: a
// first read in which the bank refuses one account's details (its entry
// has none), then one in which it refuses another's transactions.
func writeStateFixture(t *testing.T) {
	e := compatEnv(t, 0)
	cat := e.catalog(true, "accounts", "balances", "transactions")
	e.fake.ExhaustQuota(e.accounts()[2], fake.EndpointDetails)
	r1 := e.read(cat)
	e.fake.AdvanceClock(time.Minute)
	e.fake.ExhaustQuota(e.accounts()[1], fake.EndpointTransactions)
	r2 := e.read(cat, "--state", r1.StateFile(t))
	b, err := os.ReadFile(r2.StateFile(t))
	st.Must(t, err, "state")
	st.Must(t, os.WriteFile(filepath.FromSlash(stateWrittenBefore), b, 0o644), "fixture")
}
