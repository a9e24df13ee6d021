package main

import (
	"encoding/json"
	"net/http"
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

// TestDenialWithCodeDescriptionIsNotAStaleKey: a 403 that carries a
// codeDescription (BALANCE_CONSENT_ERROR, CATEGORY_RULE_FORBIDDEN) is a
// real denial, never a stale key (pluggy-api.md, API key): the stream
// fails naming the codeDescription, and no new key is fetched for it, let
// alone one per request.
func TestDenialWithCodeDescriptionIsNotAStaleKey(t *testing.T) {
	for _, c := range []struct {
		name, desc string
		faults     func(e *env) fake.Faults
		failed     string
		mention    func(e *env) []string
		complete   []string
	}{
		{"an item's product", "BALANCE_CONSENT_ERROR",
			func(e *env) fake.Faults {
				return fake.Faults{Deny: map[string][]string{e.fake.ItemIDs()[0]: {"GET /investments"}}}
			},
			"investments", func(e *env) []string { return []string{e.fake.ItemIDs()[0], "HTTP 403 BALANCE_CONSENT_ERROR"} },
			[]string{"items", "accounts", "transactions"}},
		{"a route", "CATEGORY_RULE_FORBIDDEN",
			func(*env) fake.Faults { return fake.Faults{Status: map[string]int{"GET /categories": 403}} },
			"categories", func(*env) []string { return []string{"GET /categories", "HTTP 403 CATEGORY_RULE_FORBIDDEN"} },
			[]string{"items", "accounts", "transactions", "investments"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 20})
			f := c.faults(e)
			f.ForbiddenDescription = c.desc
			e.fake.SetFaults(f)
			r := e.readWith(nil, e.catalog(false, "items", "accounts", "transactions", "categories", "investments"))
			expectFailure(t, r, map[string]failure{c.failed: {protocol.ConfigError, c.mention(e)}}, c.complete...)
			s := e.fake.Stats()
			if n := s.ByRoute["POST /auth"]; n != 1 {
				t.Errorf("%d auth calls, want 1: a 403 with a codeDescription renewed the key", n)
			}
			if n := s.ByStatus[http.StatusForbidden]; n != 1 {
				t.Errorf("%d 403s, want 1: the denied request was sent again", n)
			}
		})
	}
}

// TestAuthRefusalsNameTheCause: POST /auth refusing the keys as a disabled
// client (401 CLIENT_DISABLED, documented; or 403, reported elsewhere) or
// a malformed clientId (400) makes check FAILED and every stream of a read
// a config_error, each saying what to do about that cause, with no retry.
func TestAuthRefusalsNameTheCause(t *testing.T) {
	for _, c := range []struct {
		name    string
		o       fake.Options
		status  int
		mention []string
		never   string
	}{
		{"401 CLIENT_DISABLED", fake.Options{ClientDisabled: http.StatusUnauthorized}, http.StatusUnauthorized,
			[]string{"HTTP 401 CLIENT_DISABLED", "application is disabled", "enable it in the Pluggy dashboard"}, "copy both"},
		{"403 disabled client", fake.Options{ClientDisabled: http.StatusForbidden}, http.StatusForbidden,
			[]string{"HTTP 403 CLIENT_DISABLED", "application is disabled"}, "copy both"},
		{"400 malformed clientId", fake.Options{ClientIDMustBeUUID: true}, http.StatusBadRequest,
			[]string{"HTTP 400", "clientId must be a UUID", "malformed", "copy both"}, "disabled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.o.Items = 1
			e := newEnv(t, c.o)
			says := func(what, msg string) {
				t.Helper()
				for _, m := range c.mention {
					if !strings.Contains(msg, m) {
						t.Errorf("%s %q does not mention %q", what, msg, m)
					}
				}
				if strings.Contains(msg, c.never) {
					t.Errorf("%s %q says %q, advice for another cause", what, msg, c.never)
				}
			}

			r := st.Run(t, e.bin, "check", "--config", e.config(nil))
			st.ValidateProtocol(t, r)
			if r.Code != 0 || len(r.Messages) != 1 || r.Messages[0].ConnectionStatus == nil {
				t.Fatalf("check: exit %d, messages %s", r.Code, r.Stdout)
			}
			cs := r.Messages[0].ConnectionStatus
			if cs.Status != protocol.StatusFailed {
				t.Fatalf("check = %s %q, want FAILED", cs.Status, cs.Message)
			}
			says("check", cs.Message)

			e.fake.ResetStats()
			r = e.readWith(nil, e.catalog(false, core...))
			f := failure{protocol.ConfigError, c.mention}
			expectFailure(t, r, map[string]failure{"items": f, "accounts": f, "transactions": f, "categories": f})
			for _, et := range r.ErrorTraces() {
				if strings.Contains(et.Message, c.never) {
					t.Errorf("error %q says %q, advice for another cause", et.Message, c.never)
				}
			}
			s := e.fake.Stats()
			if s.Total != s.ByRoute["POST /auth"] || s.ByStatus[c.status] != s.Total {
				t.Errorf("requests %v, statuses %v: want only POST /auth, answered %d", s.ByRoute, s.ByStatus, c.status)
			}
			if n := s.ByRoute["POST /auth"]; n > len(core) {
				t.Errorf("%d auth calls for %d streams: a refusal was retried", n, len(core))
			}
		})
	}
}

// TestLegacyCheckingSubtypeIsRead: an account whose subtype is
// CHECKINGS_ACCOUNT (old pluggy-js, agent-skills) is read like one saying
// CHECKING_ACCOUNT (pluggy-api.md, accounts: "accept both"): emitted with
// its subtype as sent, and every row of its transactions read.
func TestLegacyCheckingSubtypeIsRead(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 30, LegacyCheckingSubtype: true})
	r := e.read(e.catalog(true, "accounts", "transactions"))
	e.allTransactions(r)
	subtypes := map[string]string{}
	for _, raw := range r.Records()["accounts"] {
		var a struct{ ID, Subtype string }
		st.Must(t, json.Unmarshal(raw, &a), "account")
		subtypes[a.ID] = a.Subtype
	}
	legacy, current := e.fake.AccountIDs(e.fake.ItemIDs()[0])[0], e.fake.AccountIDs(e.fake.ItemIDs()[1])[0]
	if subtypes[legacy] != "CHECKINGS_ACCOUNT" || subtypes[current] != "CHECKING_ACCOUNT" {
		t.Fatalf("subtypes %v: want %s CHECKINGS_ACCOUNT and %s CHECKING_ACCOUNT", subtypes, legacy, current)
	}
	want := 0
	for _, item := range e.fake.ItemIDs() {
		want += len(e.fake.AccountIDs(item))
	}
	if len(subtypes) != want {
		t.Fatalf("%d accounts emitted, want %d", len(subtypes), want)
	}
	got := 0
	for _, x := range rows(t, r.Records()["transactions"]) {
		if x.AccountID == legacy {
			got++
		}
	}
	if n := len(e.fake.Transactions(legacy)); got != n || n == 0 {
		t.Fatalf("%d transactions of the CHECKINGS_ACCOUNT account emitted, the fake serves %d", got, n)
	}
}
