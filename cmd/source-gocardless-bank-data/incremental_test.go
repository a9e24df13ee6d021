package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestIncrementalReadsNewRowsForOneCallPerAccount: after a first sync, a
// run reads the rows booked since (and the pending rows as they are now)
// with one transactions call per account, reuses the day-old details, and
// asks for one token.
func TestIncrementalReadsNewRowsForOneCallPerAccount(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 100})
	cat := e.catalog(true)
	r1 := e.read(cat)
	first := len(r1.Records()["transactions"])
	accounts := e.accounts()

	added := map[string]bool{}
	for _, a := range accounts {
		for _, id := range e.fake.AddBooked(a, 3) {
			added[id] = true
		}
	}
	e.fake.ChangePending(accounts[0])
	e.fake.ResetStats()

	r2 := e.read(cat, "--state", r1.StateFile(t))
	seen := map[string]bool{}
	for _, raw := range r2.Records()["transactions"] {
		seen[decode(t, raw).InternalID] = true
	}
	for id := range added {
		if !seen[id] {
			t.Errorf("new row %s not in the second read", id)
		}
	}
	// The row the bank booked from pending is new too.
	booked := e.fake.Booked(accounts[0])
	if id := decode(t, booked[0]).InternalID; !seen[id] {
		t.Errorf("the row booked from pending (%s) is not in the second read", id)
	}
	if n := len(r2.Records()["transactions"]); n >= first/2 {
		t.Errorf("second read re-read too much: %d rows after %d", n, first)
	}
	// The pending snapshot is the fake's as it is now.
	var pending int
	for _, a := range accounts {
		pending += len(e.fake.Pending(a))
	}
	if n := len(r2.Records()["pending_transactions"]); n != pending {
		t.Errorf("%d pending rows, the fake now has %d", n, pending)
	}
	s := e.fake.Stats()
	if s.TokenNew != 1 {
		t.Errorf("token/new called %d times in one run", s.TokenNew)
	}
	if n := s.Count(fake.RouteTransactions); n != len(accounts) {
		t.Errorf("%d transactions calls for %d accounts", n, len(accounts))
	}
	if n := s.Count(fake.RouteDetails); n != 0 {
		t.Errorf("%d details calls within a day of the last", n)
	}
	// Details came from the state: still there.
	for _, raw := range r2.Records()["accounts"] {
		if strings.Contains(string(raw), `"details":null`) {
			t.Errorf("account emitted without its kept details: %s", raw)
		}
	}

	// Nothing changed: one call per account again, and only the lookback.
	e.fake.ResetStats()
	r3 := e.read(cat, "--state", r2.StateFile(t))
	if n := e.fake.Stats().Count(fake.RouteTransactions); n != len(accounts) {
		t.Errorf("unchanged run: %d transactions calls for %d accounts", n, len(accounts))
	}
	if n := len(r3.Records()["transactions"]); n >= first/2 {
		t.Errorf("unchanged run re-read %d rows", n)
	}
}

// TestQuotaSpentAccountIsSkippedThenReadAfterReset: an account whose daily
// transactions quota is spent is called once (the 429 is not retried),
// skipped with a WARN naming it and its reset, the stream completes and the
// run succeeds; the next run does not call it at all; a run after the reset
// reads it from its state.
func TestQuotaSpentAccountIsSkippedThenReadAfterReset(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 60})
	cat := e.catalog(true)
	r1 := e.read(cat)
	accounts := e.accounts()
	spent := accounts[1]
	before := decodeTxState(t, r1.FinalStates()["transactions"]).Accounts[spent]
	e.fake.AddBooked(spent, 2)
	newest := e.fake.AddBooked(spent, 1)
	e.fake.ExhaustQuota(spent, fake.EndpointTransactions)
	e.fake.ResetStats()

	// Incremental streams complete (a skip is not a failure); the
	// full-refresh pending_transactions cannot (see
	// TestQuotaSkipLeavesFullRefreshIncomplete).
	r2 := e.run(cat, nil, "--state", r1.StateFile(t))
	onlyPendingIncomplete(t, r2, spent)
	if !warned(r2, spent, "transactions", "until") {
		t.Fatalf("no WARN naming %s and its reset", spent)
	}
	// The WARN says what the skip means to the stream being read, which
	// is incremental: not what it would mean to a full-refresh one too.
	if !warned(r2, spent, "the stream completes and keeps this account's state") || warned(r2, spent, "full-refresh") {
		t.Errorf("the incremental stream's WARN does not say, or not only, what the skip means to it:\n%s", r2.Stdout)
	}
	for _, raw := range r2.Records()["transactions"] {
		if decode(t, raw).AccountID == spent {
			t.Fatal("rows of the skipped account emitted")
		}
	}
	s := e.fake.Stats()
	if n := dataCalls(s, fake.RouteTransactions, 429); n != 1 {
		t.Errorf("the bank-level 429 was asked %d times, want once (never retried)", n)
	}
	st2 := decodeTxState(t, r2.FinalStates()["transactions"])
	if st2.Accounts[spent] != before {
		t.Errorf("the skipped account's place moved: %+v, was %+v", st2.Accounts[spent], before)
	}
	q := st2.Quota[spent]
	reset, err := time.Parse(time.RFC3339, q.ResetAt)
	if q.Remaining != 0 || err != nil || reset.Before(e.fake.Now().Add(23*time.Hour)) {
		t.Errorf("quota of the spent account in state: %+v", q)
	}

	// Known to fail: the next run does not call it.
	e.fake.ResetStats()
	r3 := e.run(cat, nil, "--state", r2.StateFile(t))
	onlyPendingIncomplete(t, r3, spent)
	if n := dataCalls(e.fake.Stats(), fake.RouteTransactions, 429); n != 0 {
		t.Errorf("a call known to fail was made %d times", n)
	}
	if n := e.fake.Stats().Count(fake.RouteTransactions); n != len(accounts)-1 {
		t.Errorf("%d transactions calls, want one per account with quota (%d)", n, len(accounts)-1)
	}
	if !warned(r3, spent) {
		t.Error("no WARN about the skipped account in the second run")
	}

	// A day later the window has rolled: the account is read from its state.
	e.fake.AdvanceClock(25 * time.Hour)
	r4 := e.read(cat, "--state", r3.StateFile(t))
	got := map[string]bool{}
	for _, raw := range r4.Records()["transactions"] {
		if x := decode(t, raw); x.AccountID == spent {
			got[x.InternalID] = true
		}
	}
	if !got[newest[0]] {
		t.Fatalf("after the reset the account's new row %s was not read", newest[0])
	}
	if warned(r4, spent, "spent") {
		t.Error("still warned about the spent quota after its reset")
	}
	if len(got) > 20 {
		t.Errorf("the account was re-read from scratch (%d rows), not from its state", len(got))
	}
}

// TestHeaderSpellings: the per-account headers are read in both spellings.
func TestHeaderSpellings(t *testing.T) {
	for name, style := range map[string]fake.HeaderStyle{"HTTP_X_RATELIMIT": fake.HeadersHTTPPrefix, "x-ratelimit": fake.HeadersXPrefix} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, fake.Options{HeaderStyle: style, TransactionsPerAccount: 20})
			r := e.read(e.catalog(true, "transactions"))
			q := decodeTxState(t, r.FinalStates()["transactions"]).Quota
			for _, a := range e.accounts() {
				want := e.fake.QuotaRemaining(a, fake.EndpointTransactions)
				if got, ok := q[a]; !ok || got.Remaining != want || got.ResetAt == "" {
					t.Errorf("account %s: quota in state %+v, fake has %d left", a, got, want)
				}
			}
		})
	}
}

func TestFutureStateReadsNothing(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	accts := map[string]any{}
	for _, a := range e.accounts() {
		accts[a] = map[string]any{"booked_through": "2999-01-01", "synced_at": "2999-01-01T00:00:00Z"}
	}
	state := st.StreamStateFile(t, "transactions", map[string]any{"version": 1, "accounts": accts})
	r := e.read(e.catalog(true, "transactions"), "--state", state)
	st.CheckFutureState(t, r, "transactions")
	// Nothing read, and no error to say why: a WARN does, per account.
	for _, a := range e.accounts() {
		if !r.Warned(a, "after today") {
			t.Errorf("no WARN that account %s's state is in the future", a)
		}
	}
}

// TestOptions: include_pending=false and balances=false read nothing for
// those streams and spend no call on them; account_ids restricts the read.
func TestOptions(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	only := e.accounts()[0]
	cat := e.catalog(false)
	r := e.run(cat, map[string]any{"include_pending": false, "balances": false, "account_ids": []string{strings.ToUpper(only)}})
	if r.Code != 0 {
		t.Fatalf("exit %d: %v", r.Code, r.ErrorTraces())
	}
	recs := r.Records()
	if len(recs["pending_transactions"]) != 0 || len(recs["balances"]) != 0 {
		t.Errorf("%d pending rows and %d balances despite the options", len(recs["pending_transactions"]), len(recs["balances"]))
	}
	for _, raw := range append(recs["transactions"], recs["accounts"]...) {
		var x struct {
			ID        string `json:"id"`
			AccountID string `json:"account_id"`
		}
		_ = json.Unmarshal(raw, &x)
		if x.AccountID != only && x.ID != only {
			t.Fatalf("record of another account: %s", raw)
		}
	}
	s := e.fake.Stats()
	if s.Count(fake.RouteBalances) != 0 || s.Count(fake.RouteTransactions) != 1 || s.Count(fake.RouteDetails) != 1 {
		t.Errorf("calls: balances %d, transactions %d, details %d", s.Count(fake.RouteBalances), s.Count(fake.RouteTransactions), s.Count(fake.RouteDetails))
	}
}

func TestBadStateFailsClearly(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 10})
	bad := st.StreamStateFile(t, "transactions", map[string]any{"version": 1, "accounts": map[string]any{"x": map[string]any{"booked_through": "yesterday"}}})
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true), "--state", bad)
	st.ValidateProtocol(t, r)
	errs := r.ErrorTraces()
	if r.Code != 1 || len(errs) == 0 || errs[0].FailureType != protocol.ConfigError || !strings.Contains(errs[0].Message, "booked_through") {
		t.Fatalf("exit %d, errors %+v; want a config_error about booked_through", r.Code, errs)
	}
	if len(r.Records()) != 0 || len(e.fake.Stats().Requests) != 0 {
		t.Fatal("read or called anything despite the bad state")
	}
}

// TestBookedAloneReadsOnlyItsLookback: the shared transactions call is
// widened to 30 days back for pending rows only when the run reads them.
// A catalog of transactions alone (include_pending on, its default) asked
// every incremental run for 30 days of history where lookback_days (7)
// was all it emitted: the rows before its date_from were fetched and
// dropped.
func TestBookedAloneReadsOnlyItsLookback(t *testing.T) {
	e, asked := newEnvAskedFrom(t, fake.Options{TransactionsPerAccount: 100})
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	var st1 struct {
		Accounts map[string]struct {
			BookedThrough string `json:"booked_through"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(r1.FinalStates()["transactions"], &st1); err != nil || len(st1.Accounts) == 0 {
		t.Fatalf("first read's transactions state: %v\n%s", err, r1.FinalStates()["transactions"])
	}
	asked()
	e.fake.ResetStats()
	e.read(cat, "--state", r1.StateFile(t))
	second := asked()
	if n, want := e.fake.Stats().Count(fake.RouteTransactions), len(st1.Accounts); n != want {
		t.Errorf("%d transactions calls for %d accounts", n, want)
	}
	for a, pos := range st1.Accounts {
		through, err := time.Parse(time.DateOnly, pos.BookedThrough)
		if err != nil {
			t.Fatalf("account %s: booked_through %q", a, pos.BookedThrough)
		}
		want := through.AddDate(0, 0, -7).Format(time.DateOnly)
		if got := second[a]; got != want {
			t.Errorf("account %s (booked through %s, lookback_days 7): the second read asked date_from=%s, want %s", a, pos.BookedThrough, got, want)
		}
	}
}

// newEnvAskedFrom is newEnv with a record of the date_from of each
// account's transactions calls: asked returns the last one per account
// since its previous call, and forgets them.
func newEnvAskedFrom(t *testing.T, o fake.Options) (e *env, asked func() map[string]string) {
	var mu sync.Mutex
	got := map[string]string{}
	e = newEnvWith(t, o, func(f *fake.Server, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p := strings.TrimSuffix(r.URL.Path, "/transactions/"); p != r.URL.Path {
				mu.Lock()
				got[path.Base(p)] = r.URL.Query().Get("date_from")
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	})
	return e, func() map[string]string {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = map[string]string{}
		return out
	}
}

// TestPendingFirstAsksTheBookedWindow: with pending_transactions before
// transactions in the catalog, the pending stream asked first for every
// account's whole history (the oldest day allowed, up to two years), every
// run, since it could not know the booked stream's state; a catalog of
// pending_transactions alone did the same for a 30-day snapshot. The call
// now asks what the other order asks: the booked stream's window widened
// to 30 days back, or 30 days for pending rows alone.
func TestPendingFirstAsksTheBookedWindow(t *testing.T) {
	e, asked := newEnvAskedFrom(t, fake.Options{TransactionsPerAccount: 100, DailyLimit: 100})
	cat := e.catalog(true, "transactions", "pending_transactions")
	state := e.read(cat).StateFile(t)
	asked()
	e.read(cat, "--state", state)
	want := asked()
	if len(want) == 0 {
		t.Fatal("the transactions-first read made no transactions call")
	}
	var c protocol.ConfiguredCatalog
	raw, err := os.ReadFile(cat)
	st.Must(t, err, "catalog")
	st.Must(t, json.Unmarshal(raw, &c), "catalog")
	slices.Reverse(c.Streams)
	first := e.read(st.WriteFile(t, "catalog.json", c), "--state", state)
	got := asked()
	pendingAlone := e.catalog(true, "pending_transactions")
	alone := e.read(pendingAlone, "--state", state)
	gotAlone := asked()
	for a, from := range want {
		if got[a] != from {
			t.Errorf("account %s: pending_transactions first asked date_from=%s, transactions first %s", a, got[a], from)
		}
		if gotAlone[a] != from {
			t.Errorf("account %s: pending_transactions alone asked date_from=%s, want %s (30 days back)", a, gotAlone[a], from)
		}
	}
	if a, b := len(first.Records()["pending_transactions"]), len(alone.Records()["pending_transactions"]); a != b {
		t.Errorf("%d pending rows read first, %d alone", a, b)
	}
}
