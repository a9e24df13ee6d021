package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// The answers real Pluggy gives that the first fake did not (reference
// pluggy-api.md §12), each switched on in the fake and read through the
// binary.

// TestDeniedProductFailsThatItemOnly: a product one item did not consent to
// answers 403, like an expired key. One fresh key tells them apart; the
// denial fails that stream for that item only, names the item, never blames
// client_id/client_secret, and costs no re-auth per request.
func TestDeniedProductFailsThatItemOnly(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 20})
	denied, other := e.fake.ItemIDs()[0], e.fake.ItemIDs()[1]
	e.fake.SetFaults(fake.Faults{Deny: map[string][]string{denied: {"GET /investments", "GET /identity"}}})
	r := e.readWith(nil, e.catalog(false, "items", "accounts", "transactions", "investments", "identity"))
	f := failure{protocol.ConfigError, []string{denied, "HTTP 403", "consented"}}
	expectFailure(t, r, map[string]failure{"investments": f, "identity": f}, "items", "accounts", "transactions")
	for _, et := range r.ErrorTraces() {
		if strings.Contains(et.Message, "client_id") || strings.Contains(et.Message, other) {
			t.Errorf("error blames the credentials or the other item: %s", et.Message)
		}
	}
	got := 0
	for _, x := range joinRows(t, r.Records()["investments"]) {
		if x.ItemID == denied {
			t.Fatalf("investment of the denied item emitted: %+v", x)
		}
		got++
	}
	if got == 0 {
		t.Error("the other item's investments were not read")
	}
	if n := e.fake.Stats().ByRoute["POST /auth"]; n > 2 {
		t.Errorf("%d auth calls: denials must not re-authenticate every time", n)
	}
}

// cardTombstones runs an incremental sync, closes every card bill in the
// fake (rows of the last 30 days deleted and re-created under new ids) and
// syncs again with over; it returns the old ids and the tombstoned ids.
func cardTombstones(t *testing.T, over map[string]any) (old []string, dead map[string]bool, fresh []string, live map[string]txRecord) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 400})
	for k, v := range over {
		e.cfg[k] = v
	}
	cat := e.catalog(true, "transactions")
	r1 := e.readFast(cat)
	old, fresh = e.fake.CloseBill()
	if len(old) == 0 {
		t.Fatal("the fake closed no bill")
	}
	r2 := e.readFast(cat, "--state", r1.StateFile(t))
	live, tombs := splitTx(t, r2)
	dead = map[string]bool{}
	for _, x := range tombs {
		dead[x.ID] = true
	}
	return old, dead, fresh, live
}

// TestCardBillCloseIsSeenByDefault: the default re-read window of CREDIT
// accounts (credit_lookback_days 40) covers a bill cycle, so every card
// row a closing bill re-creates gets its tombstone and its new row, even
// with lookback_days 7.
func TestCardBillCloseIsSeenByDefault(t *testing.T) {
	old, dead, fresh, live := cardTombstones(t, nil)
	for _, id := range old {
		if !dead[id] {
			t.Errorf("re-created card row %s got no tombstone", id)
		}
	}
	for _, id := range fresh {
		if _, ok := live[id]; !ok {
			t.Errorf("new card row %s not emitted", id)
		}
	}
}

// TestCardLookbackIsConfigurable: with credit_lookback_days 7 the rows
// re-created from 8 to 30 days back are missed (and counted twice
// downstream): what the default prevents.
func TestCardLookbackIsConfigurable(t *testing.T) {
	old, dead, _, _ := cardTombstones(t, map[string]any{"credit_lookback_days": 7})
	missed := 0
	for _, id := range old {
		if !dead[id] {
			missed++
		}
	}
	if missed == 0 {
		t.Errorf("a 7-day card window saw all %d re-created rows; the fake's bill is not a cycle long", len(old))
	}
}

// TestIDLookupsHalveOnURITooLong: the ids= look-up of vanished rows is cut
// into batches that keep the URL short, and halved when a front end still
// answers 414; every deleted row gets its tombstone.
func TestIDLookupsHalveOnURITooLong(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 2000, MaxURLBytes: 1200})
	cat := e.catalog(true, "transactions")
	r1 := e.readFast(cat)
	deleted := e.fake.Delete(30)
	if len(deleted) < 30 {
		t.Fatalf("the fake deleted %d rows, want 30", len(deleted))
	}
	r2 := e.readFast(cat, "--state", r1.StateFile(t))
	_, dead := splitTx(t, r2)
	if len(dead) != len(deleted) {
		t.Errorf("%d tombstones for %d deleted rows", len(dead), len(deleted))
	}
	if n := e.fake.Stats().Faults["414"]; n == 0 {
		t.Error("no request was refused as too long: the test does not test the halving")
	}
}

// TestNullInvestmentIDGetsItsParent: movements sent with "investmentId":
// null (the Node SDK types it string | null) carry their investment's id.
func TestNullInvestmentIDGetsItsParent(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, InvestmentIDNull: true})
	r := e.read(e.catalog(false, "investments", "investment_transactions"))
	invs := joinRows(t, r.Records()["investments"])
	n := 0
	for _, raw := range r.Records()["investment_transactions"] {
		var m map[string]json.RawMessage
		st.Must(t, json.Unmarshal(raw, &m), "movement")
		var id string
		if json.Unmarshal(m["investmentId"], &id) != nil || id == "" {
			t.Fatalf("movement without its investment's id: %s", raw)
		}
		if _, ok := invs[id]; !ok {
			t.Fatalf("movement names investment %s, not one of the item's", id)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no movements read")
	}
}

// TestCardWindowCost measures what the 40-day card window costs an
// unchanged incremental run next to a 7-day one (figures in
// docs/real-world.md): more rows re-emitted and a larger state, but no more
// calls while a card has under 500 rows (one page) in 40 days.
func TestCardWindowCost(t *testing.T) {
	rowsFor := map[int]int{}
	for _, credit := range []int{7, 40} {
		e := newEnv(t, fake.Options{Items: 3, TransactionsPerAccount: 1000})
		e.cfg["credit_lookback_days"] = credit
		cat := e.catalog(true, "transactions")
		r1 := e.readFast(cat)
		e.fake.ResetStats()
		r2 := e.readFast(cat, "--state", r1.StateFile(t))
		s := e.fake.Stats()
		accounts := 0
		for _, item := range e.fake.ItemIDs() {
			accounts += len(e.fake.AccountIDs(item))
		}
		rowsFor[credit] = len(r2.Records()["transactions"])
		t.Logf("credit_lookback_days %d: first sync %d rows; unchanged run %d rows, %d GET /v2/transactions for %d accounts, %d requests in all, state %d bytes",
			credit, len(r1.Records()["transactions"]), rowsFor[credit], s.ByRoute["GET /v2/transactions"], accounts, s.Total, len(lastState(t, r2, "transactions")))
		if n := s.ByRoute["GET /v2/transactions"]; n != 2*accounts {
			t.Errorf("credit_lookback_days %d: %d transactions calls for %d accounts, want 2 each", credit, n, accounts)
		}
	}
	if rowsFor[40] <= rowsFor[7] {
		t.Errorf("the 40-day card window re-read %d rows, the 7-day one %d", rowsFor[40], rowsFor[7])
	}
}
