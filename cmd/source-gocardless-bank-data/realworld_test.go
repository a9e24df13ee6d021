package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// The answers real GoCardless gives that the first fake did not (reference
// gocardless-api.md §5, "Real-world variants"), each switched on in the
// fake and read through the binary.

// TestProcessingAccountIsSkippedNotSuspended: 409 "Account is Processing"
// is temporary: the account is skipped this run with a WARN, called once,
// never reported as suspended, and the read succeeds.
func TestProcessingAccountIsSkippedNotSuspended(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	busy := e.accounts()[0]
	e.fake.SetProcessing(busy, true)
	// Without pending_transactions: a full-refresh stream missing an account
	// ends INCOMPLETE (TestQuotaSkipLeavesFullRefreshIncomplete).
	r := e.read(e.catalog(true, "requisitions", "accounts", "balances", "transactions")) // exit 0
	if !warned(r, busy, "processing") {
		t.Fatalf("no WARN that account %s is being processed", busy)
	}
	if len(errorsMention(r, "suspended")) != 0 {
		t.Fatalf("a processing account was reported suspended: %+v", r.ErrorTraces())
	}
	s := e.fake.Stats()
	if n := dataCalls(s, fake.RouteDetails, 409) + dataCalls(s, fake.RouteBalances, 409) + dataCalls(s, fake.RouteTransactions, 409); n != 1 {
		t.Errorf("the processing account was called %d times; once tells", n)
	}
	rows := map[string]int{}
	for _, raw := range r.Records()["transactions"] {
		rows[decode(t, raw).AccountID]++
	}
	if rows[busy] != 0 || len(rows) != len(e.accounts())-1 {
		t.Errorf("rows per account %v; want every account but %s", rows, busy)
	}
	if _, ok := decodeTxState(t, r.FinalStates()["transactions"]).Accounts[busy]; ok {
		t.Error("the skipped account got a place in the state")
	}

	// Once processed, the next run reads it.
	e.fake.SetProcessing(busy, false)
	r2 := e.read(e.catalog(true, "transactions"), "--state", r.StateFile(t))
	n := 0
	for _, raw := range r2.Records()["transactions"] {
		if decode(t, raw).AccountID == busy {
			n++
		}
	}
	if n != 20 {
		t.Errorf("after processing, %d rows of %s, want 20", n, busy)
	}
}

// TestUntypedPerAccountLimitIsTheAccountsQuota: GoCardless's own
// per-account limit answers 429 without a type and "Please try again in N
// seconds". It is the account's quota: asked once, never retried, skipped
// with a WARN, its reset kept in the state; the stream completes.
func TestUntypedPerAccountLimitIsTheAccountsQuota(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20, QuotaAnswer: fake.QuotaGoCardless})
	spent := e.accounts()[1]
	e.fake.ExhaustQuota(spent, fake.EndpointTransactions)
	r := e.read(e.catalog(true, "transactions")) // exit 0: not a company-wide limit
	if !warned(r, spent, "transactions", "until") {
		t.Fatalf("no WARN naming %s and its reset", spent)
	}
	// The account is named once, first, though both the account's logger
	// and the WARN's call site name it (ValidateProtocol checks every LOG).
	if !warned(r, "reads it account="+spent+" requisition=") {
		t.Errorf("the WARN does not begin its attributes with account=%s once:\n%s", spent, st.Tail(r.Stdout))
	}
	if n := dataCalls(e.fake.Stats(), fake.RouteTransactions, 429); n != 1 {
		t.Errorf("the per-account 429 was asked %d times, want once", n)
	}
	q := decodeTxState(t, r.FinalStates()["transactions"]).Quota[spent]
	reset, err := time.Parse(time.RFC3339, q.ResetAt)
	if q.Remaining != 0 || err != nil || reset.Before(e.fake.Now().Add(23*time.Hour)) {
		t.Errorf("quota of the spent account in state: %+v", q)
	}
	if st := r.Statuses()["transactions"]; st[len(st)-1] != protocol.Complete {
		t.Errorf("transactions ended %v, want COMPLETE", st)
	}
}

// TestInstitutionLimitWithoutSecondsWaitsADay: the bank's own limit has a
// type and no seconds: the account is skipped for the rolling day.
func TestInstitutionLimitWithoutSecondsWaitsADay(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20, QuotaAnswer: fake.QuotaInstitution})
	spent := e.accounts()[0]
	e.fake.ExhaustQuota(spent, fake.EndpointTransactions)
	r := e.read(e.catalog(true, "transactions"))
	if !warned(r, spent, "daily limit") {
		t.Fatalf("no WARN about %s", spent)
	}
	if n := dataCalls(e.fake.Stats(), fake.RouteTransactions, 429); n != 1 {
		t.Errorf("the institution's 429 was asked %d times, want once", n)
	}
}

// TestUntypedExpiredAgreementIsNotATokenProblem: an expired end-user
// agreement answering 401 without a type is a config_error naming the
// requisition, reached without a token refresh and without a second bank
// call per account (failed calls count towards suspension).
func TestUntypedExpiredAgreementIsNotATokenProblem(t *testing.T) {
	e, expired := newEnvExpiringMidRun(t, fake.Options{TransactionsPerAccount: 20, UntypedExpiry: true})
	r := e.run(e.catalog(true, "transactions"), nil)
	errs := errorsMention(r, expired, "Re-link", "End User Agreement")
	if r.Code != 1 || len(errs) == 0 || errs[0].FailureType != protocol.ConfigError {
		t.Fatalf("exit %d, errors %+v; want a re-link config_error naming %s", r.Code, r.ErrorTraces(), expired)
	}
	s := e.fake.Stats()
	if n := s.Count(fake.RouteTokenRefresh); n != 0 {
		t.Errorf("%d token refreshes spent on an expired agreement", n)
	}
	// Accounts are read in parallel: each may meet the 401 once, never twice.
	if n := s.Requests[fake.RouteTransactions][401]; n == 0 || n > len(e.fake.AccountIDs(expired)) {
		t.Errorf("%d transactions calls answered 401; want one per account of the requisition at most", n)
	}
}

// TestLateBookedRowsAreEmitted: the API matches date_from on bookingDate OR
// valueDate, so a card row booked three weeks ago arrives now with today's
// valueDate. The incremental read emits it although its bookingDate is far
// before the state's window.
func TestLateBookedRowsAreEmitted(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 30})
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	acc := e.accounts()[0]
	late := e.fake.AddLateBooked(acc, 2, 21)
	r2 := e.read(cat, "--state", r1.StateFile(t))
	got := map[string]bool{}
	for _, raw := range r2.Records()["transactions"] {
		got[decode(t, raw).InternalID] = true
	}
	for _, id := range late {
		if !got[id] {
			t.Errorf("late row %s (booked 21 days ago, valueDate today) was not emitted", id)
		}
	}
}

// TestUndatedRowsAreEmittedAndKeepTheirKeys: booked rows without the
// dates a client sorts by (none at all, which Actual drops; only
// valueDateTime, as ABN AMRO; only bookingDateTime) are emitted, each
// read, under their internalTransactionId, so a destination merging by
// key holds each once; they do not block the account, and Parquet takes
// them too.
func TestUndatedRowsAreEmittedAndKeepTheirKeys(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 30})
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	acc := e.accounts()[0]
	undated := e.fake.AddUndated(acc)
	prev := r1
	for run := 2; run <= 3; run++ {
		r := e.read(cat, "--state", prev.StateFile(t), "--parquet-dir", t.TempDir())
		keys := map[string]string{}
		for _, raw := range r.Records()["transactions"] {
			if x := decode(t, raw); x.AccountID == acc {
				keys[x.InternalID] = x.TransactionKey
			}
		}
		for _, id := range undated {
			if keys[id] != id {
				t.Errorf("run %d: undated row %s emitted under key %q, want its internalTransactionId", run, id, keys[id])
			}
		}
		prev = r
	}
}

// legacyKeys is the rule versions before internalTransactionId-first used:
// the bank's transactionId when usable and unique in the answer (and the
// account never repeated one), else internalTransactionId.
func legacyKeys(t *testing.T, booked []json.RawMessage) map[string]string {
	count := map[string]int{}
	repeats := false
	rows := make([]row, len(booked))
	for i, raw := range booked {
		rows[i] = decode(t, raw)
		if id := strings.TrimSpace(rows[i].TransactionID); id != "" && !strings.EqualFold(id, "NOTPROVIDED") {
			count[id]++
			repeats = repeats || count[id] > 1
		}
	}
	out := map[string]string{}
	for _, r := range rows {
		id := strings.TrimSpace(r.TransactionID)
		if id != "" && !strings.EqualFold(id, "NOTPROVIDED") && !repeats {
			out[r.InternalID] = id
		} else {
			out[r.InternalID] = r.InternalID
		}
	}
	return out
}

// TestKeyMigrationDoesNotRekeyDeliveredRows: a transactions state written by
// a version that keyed rows by transactionId first is migrated: rows
// already delivered (dated up to its booked_through) keep their keys when
// the lookback window re-reads them, new rows are keyed by
// internalTransactionId, and the migrated state keeps the rule.
func TestKeyMigrationDoesNotRekeyDeliveredRows(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 40})
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	// The state an older version would have written: no key_rule.
	var old struct {
		Version  int                       `json:"version"`
		Accounts map[string]map[string]any `json:"accounts"`
		Quota    json.RawMessage           `json:"quota"`
	}
	st.Must(t, json.Unmarshal(r1.FinalStates()["transactions"], &old), "state")
	through := map[string]string{}
	for id, a := range old.Accounts {
		delete(a, "key_rule")
		// An account whose bank repeats transactionIds was keyed by
		// internalTransactionId already: nothing to keep.
		if repeats, _ := a["transaction_ids_repeat"].(bool); !repeats {
			through[id], _ = a["booked_through"].(string)
		}
	}
	legacyState := st.StreamStateFile(t, "transactions", old)

	added := map[string]bool{}
	for _, a := range e.accounts() {
		for _, id := range e.fake.AddBooked(a, 2) {
			added[id] = true
		}
	}
	e.fake.AdvanceClock(24 * time.Hour)
	r2 := e.read(cat, "--state", legacyState)
	legacy := map[string]map[string]string{}
	for _, a := range e.accounts() {
		legacy[a] = legacyKeys(t, e.fake.Booked(a))
	}
	rekeyed, kept, fresh := 0, 0, 0
	for _, raw := range r2.Records()["transactions"] {
		x := decode(t, raw)
		var d struct {
			BookingDate string `json:"bookingDate"`
			ValueDate   string `json:"valueDate"`
		}
		_ = json.Unmarshal(raw, &d)
		date := d.BookingDate
		if date == "" {
			date = d.ValueDate
		}
		switch {
		case added[x.InternalID]:
			fresh++
			if x.TransactionKey != x.InternalID {
				t.Errorf("new row %s keyed %q, want its internalTransactionId", x.InternalID, x.TransactionKey)
			}
		case through[x.AccountID] != "" && date[:10] <= through[x.AccountID]:
			kept++
			if want := legacy[x.AccountID][x.InternalID]; x.TransactionKey != want {
				rekeyed++
				t.Errorf("delivered row %s re-keyed %q, was %q", x.InternalID, x.TransactionKey, want)
			}
		}
	}
	if kept == 0 || fresh != len(added) || rekeyed != 0 {
		t.Errorf("%d re-read rows kept their keys, %d of %d new rows, %d re-keyed", kept, fresh, len(added), rekeyed)
	}
	var migrated struct {
		Accounts map[string]struct {
			KeyRule           string `json:"key_rule"`
			LegacyKeysThrough string `json:"legacy_keys_through"`
		} `json:"accounts"`
	}
	st.Must(t, json.Unmarshal(r2.FinalStates()["transactions"], &migrated), "state")
	for a, pos := range migrated.Accounts {
		if pos.KeyRule != "internal_transaction_id" || pos.LegacyKeysThrough != through[a] {
			t.Errorf("account %s migrated to %+v; want the rule and legacy_keys_through %s", a, pos, through[a])
		}
	}
}

// TestBankGivingFullHistoryOnceLosesNoRow: a bank that gives its full
// history only on the first access after consent and the last 90 days
// after that (gocardless-api.md §3.4), clipping an older date_from
// silently. check and discover make no transactions call, so the first
// read's call is the one that gets every row; the incremental read after
// it asks for its lookback, inside the 90 days, and a destination merging
// both by primary key holds every booked row the bank has, each once.
func TestBankGivingFullHistoryOnceLosesNoRow(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 200, HistoryAfterFirstCall: 90})
	accounts := e.accounts()
	cutoff := e.fake.Now().AddDate(0, 0, -90).Format("2006-01-02")
	older := 0
	for _, raw := range e.fake.Booked(accounts[0]) {
		var r struct {
			Booking string `json:"bookingDate"`
			Value   string `json:"valueDate"`
		}
		st.Must(t, json.Unmarshal(raw, &r), "booked row")
		if d := max(r.Booking, r.Value); d != "" && d < cutoff {
			older++
		}
	}
	if older == 0 {
		t.Fatalf("the fake's rows are all within 90 days of %s: nothing to lose", cutoff)
	}
	if r := st.Run(t, e.bin, "check", "--config", e.config(nil)); r.Code != 0 {
		t.Fatalf("check: exit %d\n%s", r.Code, r.Stderr)
	}
	e.discover()
	if n := e.fake.Stats().Count(fake.RouteTransactions); n != 0 {
		t.Fatalf("check and discover made %d transactions calls: a bank giving its history once had it spent", n)
	}
	cat := e.catalog(true, "transactions", "pending_transactions")
	r1 := e.read(cat)
	for _, a := range accounts {
		e.fake.AddBooked(a, 2)
	}
	r2 := e.read(cat, "--state", r1.StateFile(t))
	merged := map[string]map[string]bool{} // account → transaction_key
	for _, r := range []*st.Result{r1, r2} {
		for _, raw := range r.Records()["transactions"] {
			x := decode(t, raw)
			if merged[x.AccountID] == nil {
				merged[x.AccountID] = map[string]bool{}
			}
			merged[x.AccountID][x.TransactionKey] = true
		}
	}
	all := 0
	for _, a := range accounts {
		bank := e.fake.Booked(a)
		all += len(bank)
		for _, raw := range bank {
			if id := decode(t, raw).InternalID; !merged[a][id] {
				t.Errorf("account %s: the bank's row %s is not in the destination", a, id)
			}
		}
		if got := len(merged[a]); got != len(bank) {
			t.Errorf("account %s: the destination holds %d rows, the bank %d", a, got, len(bank))
		}
	}

	// The fake does play the bank: a read without state is clipped now.
	if got := len(e.read(cat).Records()["transactions"]); got >= all {
		t.Fatalf("a read without state after the first emitted %d rows of %d: the fake served the full history again", got, all)
	}
}

// TestFrozenHistoryWarns: an institution that needs separate consent for
// continuous access, with an agreement over 90 days of history, serves a
// frozen answer: the read warns and says how to fix it.
func TestFrozenHistoryWarns(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20, SeparateHistoryConsent: true})
	r := e.read(e.catalog(true, "transactions"))
	if !warned(r, "max_historical_days 90 or less") {
		t.Fatal("no WARN about the frozen history")
	}
	plain := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	if warned(plain.read(plain.catalog(true, "transactions")), "frozen") {
		t.Error("warned about frozen history at institutions that do not freeze it")
	}
}

// TestReconfirmedAgreementIsNotExpired: an agreement reconfirmed by the end
// user runs another access_valid_for_days from the reconfirmation, so the
// requisition is read past the agreement's first expiry.
func TestReconfirmedAgreementIsNotExpired(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	first := e.fake.RequisitionIDs()[0]
	ends := e.agreementExpiry(first)
	e.fake.AdvanceClock(ends.Add(24 * time.Hour).Sub(e.fake.Now()))
	e.fake.ReconfirmAgreement(first)
	r := e.read(e.catalog(true, "transactions"))
	rows := map[string]int{}
	for _, raw := range r.Records()["transactions"] {
		rows[decode(t, raw).AccountID]++
	}
	for _, a := range e.fake.AccountIDs(first) {
		if rows[a] == 0 {
			t.Errorf("account %s of the reconfirmed requisition not read", a)
		}
	}
}

// TestAccountsFutureStateEmitsNothing: Airbyte's acceptance test of a state
// from the far future. Each account skipped is named in a WARN, as
// transactions does: its details and balances stopped coming without a
// word before.
func TestAccountsFutureStateEmitsNothing(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 10})
	for _, stream := range []string{"accounts", "balances"} {
		accts := map[string]any{}
		for _, a := range e.accounts() {
			accts[a] = map[string]any{"synced_at": "2999-01-01T00:00:00Z"}
		}
		state := st.StreamStateFile(t, stream, map[string]any{"version": 1, "accounts": accts})
		e.fake.ResetStats()
		r := e.read(e.catalog(true, stream), "--state", state)
		st.CheckFutureState(t, r, stream)
		s := e.fake.Stats()
		if n := s.Count(fake.RouteDetails) + s.Count(fake.RouteBalances); n != 0 {
			t.Errorf("%s: %d bank calls for a state from the future", stream, n)
		}
		for a := range accts {
			if !r.Warned(stream+":", a, "after now", "synced_at=2999-01-01T00:00:00Z") {
				t.Errorf("%s: no WARN that account %s's state is from the future", stream, a)
			}
		}
	}
}

// TestBalancesIncrementalReadsLess: Airbyte's acceptance test that an
// incremental stream reads less from a checkpoint than from scratch: a
// second run emits only the balances that changed.
func TestBalancesIncrementalReadsLess(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 10})
	cat := e.catalog(true, "balances")
	r1 := e.read(cat)
	r2 := e.read(cat, "--state", r1.StateFile(t))
	n1, n2 := len(r1.Records()["balances"]), len(r2.Records()["balances"])
	if n1 == 0 || n2 >= n1 {
		t.Fatalf("from scratch %d balances, from the checkpoint %d; want fewer", n1, n2)
	}
	// A booked row moves the balances of its account: they are emitted again.
	acc := e.accounts()[1]
	e.fake.AddBooked(acc, 1)
	r3 := e.read(cat, "--state", r2.StateFile(t))
	moved := 0
	for _, raw := range r3.Records()["balances"] {
		if decode(t, raw).AccountID == acc {
			moved++
		}
	}
	if moved == 0 {
		t.Error("the balances of an account with a new booked row were not emitted")
	}
	// full_refresh emits every balance every time.
	if r := e.read(e.catalog(false, "balances")); len(r.Records()["balances"]) != n1 {
		t.Errorf("full refresh emitted %d balances, want %d", len(r.Records()["balances"]), n1)
	}
}

// rowsByAccount counts a stream's records per account_id.
func rowsByAccount(t *testing.T, r *st.Result, stream string) map[string]int {
	t.Helper()
	rows := map[string]int{}
	for _, raw := range r.Records()[stream] {
		rows[decode(t, raw).AccountID]++
	}
	return rows
}

// TestBadRequestExpiredAgreementTellsToRelink: the 400 form of an expired
// end-user agreement (actualbudget/actual#3826: no type, "EUA was valid for
// 90 days and it expired at …") is the same re-link config_error as the
// 401 forms, not a bad-input bug: one call per account of the requisition
// at most, no token refresh, and the other requisition is read.
func TestBadRequestExpiredAgreementTellsToRelink(t *testing.T) {
	e, expired := newEnvExpiringMidRun(t, fake.Options{TransactionsPerAccount: 20, BadRequestExpiry: true})
	r := e.run(e.catalog(true, "transactions"), nil)
	errs := errorsMention(r, expired, "Re-link", "EUA was valid for 90 days", "--reconnect "+expired)
	if r.Code != 1 || len(errs) == 0 || errs[0].FailureType != protocol.ConfigError {
		t.Fatalf("exit %d, errors %+v; want a re-link config_error naming %s", r.Code, r.ErrorTraces(), expired)
	}
	s := e.fake.Stats()
	if n := s.Requests[fake.RouteTransactions][400]; n == 0 || n > len(e.fake.AccountIDs(expired)) {
		t.Errorf("%d transactions calls answered 400; want one per account of the requisition at most", n)
	}
	if n := s.Count(fake.RouteTokenRefresh); n != 0 {
		t.Errorf("%d token refreshes spent on an expired agreement", n)
	}
	rows := rowsByAccount(t, r, "transactions")
	for _, req := range e.fake.RequisitionIDs() {
		for _, a := range e.fake.AccountIDs(req) {
			if req != expired && rows[a] != 20 {
				t.Errorf("account %s of the good requisition: %d rows, want 20", a, rows[a])
			}
		}
	}
}

// TestInactiveAccountTellsToRelink: 401 AccountInactiveError is, as
// docs/gocardless.md says, a config_error naming the requisition and
// telling to re-link; the account is called once in the whole run (each
// failed call counts towards suspension) and the other requisition is read.
func TestInactiveAccountTellsToRelink(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	bad := e.fake.RequisitionIDs()[0]
	inactive := e.fake.AccountIDs(bad)[0]
	e.fake.SetAccountInactive(inactive, true)
	r := e.run(e.catalog(true, "accounts", "balances", "transactions"), nil)
	errs := errorsMention(r, bad, "Re-link", "AccountInactiveError", inactive)
	if r.Code != 1 || len(errs) == 0 {
		t.Fatalf("exit %d, errors %+v; want a re-link error naming %s and %s", r.Code, r.ErrorTraces(), bad, inactive)
	}
	for _, e := range errs {
		if e.StreamDescriptor != nil && e.FailureType != protocol.ConfigError {
			t.Errorf("stream %s: failure type %s, want config_error", e.StreamDescriptor.Name, e.FailureType)
		}
	}
	s := e.fake.Stats()
	if n := s.Requests[fake.RouteDetails][401] + s.Requests[fake.RouteBalances][401] + s.Requests[fake.RouteTransactions][401]; n != 1 {
		t.Errorf("the inactive account answered 401 %d times; once tells", n)
	}
	if n := s.Count(fake.RouteTokenRefresh); n != 0 {
		t.Errorf("%d token refreshes spent on an inactive account", n)
	}
	rows := rowsByAccount(t, r, "transactions")
	for _, a := range e.fake.AccountIDs(e.fake.RequisitionIDs()[1]) {
		if rows[a] != 20 {
			t.Errorf("account %s of the good requisition: %d rows, want 20", a, rows[a])
		}
	}
	if rows[inactive] != 0 {
		t.Errorf("%d rows of the inactive account", rows[inactive])
	}
}

// TestIPNotOnAllowListFailsClearly: GoCardless answers 403 to an address
// not on the allow-list, token/new first. check FAILS and read ends with a
// config_error that names the allow-list, not the secret (copying the
// secret again would not help), after one token/new.
func TestIPNotOnAllowListFailsClearly(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5, AllowedIPs: []string{"203.0.113.7"}})
	c := st.Run(t, e.bin, "check", "--config", e.config(nil))
	st.ValidateProtocol(t, c)
	if c.Code != 0 || len(c.Messages) != 1 || c.Messages[0].ConnectionStatus == nil {
		t.Fatalf("check: exit %d, messages %s", c.Code, c.Stdout)
	}
	if cs := c.Messages[0].ConnectionStatus; cs.Status != protocol.StatusFailed || !strings.Contains(cs.Message, "IP allow-list") || strings.Contains(cs.Message, "copy both") {
		t.Errorf("check = %s %q; want FAILED naming the IP allow-list", cs.Status, cs.Message)
	}
	r := e.run(e.catalog(true, "transactions"), nil)
	errs := errorsMention(r, "IP allow-list", "403")
	if r.Code != 1 || len(errs) == 0 || errs[0].FailureType != protocol.ConfigError {
		t.Fatalf("exit %d, errors %+v; want a config_error naming the IP allow-list", r.Code, r.ErrorTraces())
	}
	if n := e.fake.Stats().Count(fake.RouteTokenNew); n != 2 {
		t.Errorf("%d token/new calls for a check and a read; want one each (a 403 is not retried)", n)
	}
}

// TestCompanyRateLimitWaitsAndCompletes: the company-level per-minute 429
// (no type, "Please try again in N seconds") is waited out and retried: a
// read far over the limit completes with every row, and the retries spend
// no bank-level quota (each endpoint of each account is called
// successfully once, nothing is taken as the account's daily limit). To
// keep the test short, the fake's window is 2 seconds, so a 429 asks for
// about 2: the clock is not moved under calls in flight, which made an
// earlier version of this test wait a whole minute per 429 when a call
// was refused just before the jump (it ran past its two minutes once, in
// CI under -race).
func TestCompanyRateLimitWaitsAndCompletes(t *testing.T) {
	const perMinute, rows = 5, 15
	e := newEnv(t, fake.Options{TransactionsPerAccount: rows, AccountsPerMinute: perMinute, AccountsWindow: 2 * time.Second})
	r := e.read(e.catalog(true, "accounts", "balances", "transactions"))
	s := e.fake.Stats()
	limited := 0
	for _, route := range []string{fake.RouteAccount, fake.RouteDetails, fake.RouteBalances, fake.RouteTransactions} {
		limited += s.Requests[route][429]
	}
	if limited == 0 {
		t.Fatal("no company-level 429 was served; the test did not test the wait")
	}
	t.Logf("%d company-level 429s served", limited)
	got := rowsByAccount(t, r, "transactions")
	for _, a := range e.accounts() {
		if got[a] != rows {
			t.Errorf("account %s: %d rows, want %d", a, got[a], rows)
		}
		for _, ep := range []string{fake.EndpointDetails, fake.EndpointBalances, fake.EndpointTransactions} {
			if n := e.fake.QuotaRemaining(a, ep); n != 3 {
				t.Errorf("account %s %s: %d of 4 daily calls left, want 3", a, ep, n)
			}
		}
	}
	if n := len(r.Records()["accounts"]); n != len(e.accounts()) {
		t.Errorf("%d accounts records, want %d", n, len(e.accounts()))
	}
	if warned(r, "daily limit") {
		t.Error("a company-level 429 was taken as an account's daily limit")
	}
	for a, q := range decodeTxState(t, r.FinalStates()["transactions"]).Quota {
		if q.Remaining == 0 {
			t.Errorf("account %s: the state's ledger says the transactions quota is spent", a)
		}
	}
	for name, sts := range r.Statuses() {
		if sts[len(sts)-1] != protocol.Complete {
			t.Errorf("stream %s ended %v", name, sts)
		}
	}
}

// TestInformationBalanceIsKept: American Express reports its balance with
// the non-standard balanceType "information". It is read and emitted as
// it is, keyed like the others, and an unchanged one is not emitted again.
func TestInformationBalanceIsKept(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 10, InformationBalance: true})
	amex := e.accounts()[0]
	cat := e.catalog(true, "balances")
	r := e.read(cat)
	var found []map[string]any
	for _, raw := range r.Records()["balances"] {
		if m := asMap(t, raw); m["account_id"] == amex {
			found = append(found, m)
		}
	}
	if len(found) != 1 || found[0]["balanceType"] != "information" || found[0]["reference_date_key"] != e.fake.Now().Format(time.DateOnly) {
		t.Fatalf("balances of the Amex account: %v; want its one information balance", found)
	}
	if amt, _ := found[0]["balanceAmount"].(map[string]any); amt == nil || amt["amount"] == "" || amt["currency"] != "EUR" {
		t.Errorf("information balance amount %v", found[0]["balanceAmount"])
	}
	if n := len(r.Records()["balances"]); n != 1+3*(len(e.accounts())-1) {
		t.Errorf("%d balances; want the Amex one and three for each other account", n)
	}
	r2 := e.read(cat, "--state", r.StateFile(t))
	if rows := rowsByAccount(t, r2, "balances"); rows[amex] != 0 {
		t.Errorf("the unchanged information balance was emitted again (%d)", rows[amex])
	}
}

// TestUnusualRequisitionStatusesTellToRelink: a requisition in ID, ER or
// SU (statuses the API's type file lists besides the usual ones) cannot be
// read: each gets a config_error naming it, its status with what it means
// and the re-link command; none of their accounts is called (a call would
// count towards suspension); the requisitions stream still emits them; the
// linked requisition is read.
func TestUnusualRequisitionStatusesTellToRelink(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 4, TransactionsPerAccount: 10})
	reqs := e.fake.RequisitionIDs()
	statuses := map[string]string{reqs[0]: "ID", reqs[1]: "ER", reqs[2]: "SU"}
	meaning := map[string]string{"ID": "identity", "ER": "error", "SU": "suspended"}
	for id, status := range statuses {
		e.fake.SetRequisitionStatus(id, status)
	}
	r := e.run(e.catalog(true, "requisitions", "transactions"), nil)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	for id, status := range statuses {
		errs := errorsMention(r, id, "its status is "+status, meaning[status], "Re-link", "--reconnect "+id)
		if len(errs) == 0 {
			t.Errorf("no error naming %s, its status %s and the re-link: %+v", id, status, r.ErrorTraces())
		}
		for _, e := range errs {
			if e.StreamDescriptor != nil && e.FailureType != protocol.ConfigError {
				t.Errorf("%s, stream %s: failure type %s, want config_error", id, e.StreamDescriptor.Name, e.FailureType)
			}
		}
		if !warned(r, id) {
			t.Errorf("the requisitions stream did not warn about %s", id)
		}
	}
	if n := len(r.Records()["requisitions"]); n != 4 {
		t.Errorf("%d requisitions emitted, want 4", n)
	}
	s := e.fake.Stats()
	if n := s.Count(fake.RouteTransactions); n != 2 {
		t.Errorf("%d transactions calls; want one for each account of the linked requisition", n)
	}
	rows := rowsByAccount(t, r, "transactions")
	for _, a := range e.fake.AccountIDs(reqs[3]) {
		if rows[a] != 10 {
			t.Errorf("account %s of the linked requisition: %d rows, want 10", a, rows[a])
		}
	}
}
