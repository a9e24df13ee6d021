package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestExpiredRequisitionTellsToRelink: a requisition that is not LN fails
// the streams that need its accounts with a config_error naming it and
// telling to re-link, calls none of its accounts' bank endpoints (that
// would count towards suspension), and the other requisition is read.
func TestExpiredRequisitionTellsToRelink(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 30})
	expired, good := e.fake.RequisitionIDs()[0], e.fake.RequisitionIDs()[1]
	e.fake.ExpireRequisition(expired)
	r := e.run(e.catalog(true), nil)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	errs := errorsMention(r, expired, "Re-link")
	if len(errs) == 0 {
		t.Fatalf("no error trace naming %s and telling to re-link: %+v", expired, r.ErrorTraces())
	}
	for _, e := range errs {
		if e.StreamDescriptor != nil && e.FailureType != protocol.ConfigError {
			t.Errorf("stream %s: failure type %s, want config_error", e.StreamDescriptor.Name, e.FailureType)
		}
	}
	if !warned(r, expired) {
		t.Error("the requisitions stream did not warn about the expired requisition")
	}
	if st := r.Statuses()["requisitions"]; st[len(st)-1] != protocol.Complete {
		t.Errorf("requisitions stream ended %v; it reports link status and should complete", st)
	}
	s := e.fake.Stats()
	for _, route := range []string{fake.RouteDetails, fake.RouteBalances, fake.RouteTransactions} {
		if n := s.Requests[route][401]; n != 0 {
			t.Errorf("%d calls to %s on expired access", n, route)
		}
	}
	// The good requisition's accounts were read and checkpointed.
	rows := map[string]int{}
	for _, raw := range r.Records()["transactions"] {
		rows[decode(t, raw).AccountID]++
	}
	state := decodeTxState(t, r.FinalStates()["transactions"])
	for _, a := range e.fake.AccountIDs(good) {
		if rows[a] == 0 {
			t.Errorf("account %s of the good requisition not read", a)
		}
		if state.Accounts[a].BookedThrough == "" {
			t.Errorf("account %s of the good requisition has no state", a)
		}
	}
	for _, a := range e.fake.AccountIDs(expired) {
		if rows[a] != 0 {
			t.Errorf("rows of expired account %s", a)
		}
	}
}

// TestAccessExpiredMidRun: a 401 AccessExpiredError on a data call (the
// requisition expired after it was looked up) is a config_error naming the
// requisition; its accounts are not called again in the run.
func TestAccessExpiredMidRun(t *testing.T) {
	e, expired := newEnvExpiringMidRun(t, fake.Options{TransactionsPerAccount: 20})
	r := e.run(e.catalog(true, "transactions", "pending_transactions"), nil)
	if r.Code != 1 || len(errorsMention(r, expired, "Re-link", "AccessExpiredError")) == 0 {
		t.Fatalf("exit %d, errors %+v; want a re-link error naming %s", r.Code, r.ErrorTraces(), expired)
	}
	if n := e.fake.Stats().Requests[fake.RouteTransactions][401]; n == 0 || n > 2 {
		t.Errorf("%d transactions calls answered 401; want one per account of the requisition at most", n)
	}
}

// newEnvExpiringMidRun expires the first requisition right after the
// connector has looked its agreement up, so the expiry meets it on the
// data calls.
func newEnvExpiringMidRun(t *testing.T, o fake.Options) (e *env, expired string) {
	var once sync.Once
	e = newEnvWith(t, o, func(f *fake.Server, h http.Handler) http.Handler {
		expired = f.RequisitionIDs()[0]
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			if strings.Contains(r.URL.Path, "/agreements/") {
				once.Do(func() { f.ExpireRequisition(expired) })
			}
		})
	})
	return e, expired
}

// TestFailingAccountsLetOthersFinish: a suspended account (409), an
// institution that is down (503) and one that fails (500, which counts
// towards suspension) each get a clear error; the 500 account is tried
// twice at most in the whole run; the healthy account is read and its state
// emitted; the run exits 1.
func TestFailingAccountsLetOthersFinish(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 30})
	accts := e.accounts()
	suspended, down, failing, healthy := accts[0], accts[1], accts[2], accts[3]
	e.fake.SuspendAccount(suspended)
	e.fake.SetInstitutionError(down, http.StatusServiceUnavailable)
	e.fake.SetInstitutionError(failing, http.StatusInternalServerError)

	r := e.run(e.catalog(true), nil)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	for what, parts := range map[string][]string{
		"suspended": {suspended, "suspended", "re-link"},
		"down":      {down, "unavailable", "run again later"},
		"failing":   {failing, "failed 2 calls", "suspends"},
	} {
		if len(errorsMention(r, parts...)) == 0 {
			t.Errorf("%s account: no error trace mentioning %q: %+v", what, parts, r.ErrorTraces())
		}
	}
	s := e.fake.Stats()
	fails := 0
	for _, route := range []string{fake.RouteDetails, fake.RouteBalances, fake.RouteTransactions} {
		fails += s.Requests[route][500]
	}
	if fails > 2 {
		t.Errorf("the failing institution was called %d times; at most 2 in a run", fails)
	}
	if n := s.Requests[fake.RouteDetails][409] + s.Requests[fake.RouteBalances][409] + s.Requests[fake.RouteTransactions][409]; n != 1 {
		t.Errorf("the suspended account was called %d times; once tells", n)
	}
	if n := s.Requests[fake.RouteBalances][503] + s.Requests[fake.RouteTransactions][503]; n != 0 {
		t.Errorf("the institution that is down was called %d more times after its first endpoint failed", n)
	}
	rows := 0
	for _, raw := range r.Records()["transactions"] {
		if decode(t, raw).AccountID == healthy {
			rows++
		}
	}
	if rows == 0 {
		t.Fatal("the healthy account was not read")
	}
	state := decodeTxState(t, r.FinalStates()["transactions"])
	if state.Accounts[healthy].BookedThrough == "" {
		t.Error("no state for the healthy account")
	}
	for _, a := range []string{suspended, down, failing} {
		if _, ok := state.Accounts[a]; ok {
			t.Errorf("state for failed account %s", a)
		}
	}
	if st := r.Statuses()["transactions"]; st[len(st)-1] != protocol.Incomplete {
		t.Errorf("transactions ended %v, want INCOMPLETE", st)
	}
}

// agreementExpiry asks the fake, as a client would, when a requisition's
// end-user agreement ends: accepted + access_valid_for_days.
func (e *env) agreementExpiry(reqID string) time.Time {
	e.t.Helper()
	call := func(method, path string, body any, token string, v any) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, e.srv.URL+"/api/v2"+path, rd)
		st.Must(e.t, err, path)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		st.Must(e.t, err, path)
		defer resp.Body.Close()
		st.Must(e.t, json.NewDecoder(resp.Body).Decode(v), path)
	}
	var tok struct{ Access string }
	call("POST", "/token/new/", map[string]string{"secret_id": e.fake.SecretID(), "secret_key": e.fake.SecretKey()}, "", &tok)
	var req struct{ Agreement string }
	call("GET", "/requisitions/"+reqID+"/", nil, tok.Access, &req)
	var agr struct {
		Accepted           time.Time `json:"accepted"`
		AccessValidForDays int       `json:"access_valid_for_days"`
	}
	call("GET", "/agreements/enduser/"+req.Agreement+"/", nil, tok.Access, &agr)
	return agr.Accepted.AddDate(0, 0, agr.AccessValidForDays)
}

// TestAgreementExpiry: a week before a requisition's end-user agreement
// ends, reads warn (and check still prints one message); once it has
// ended, the requisition is a re-link config_error and its accounts get no
// bank call, even while GoCardless still reports it LN.
func TestAgreementExpiry(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	reqs := e.fake.RequisitionIDs()
	first := reqs[0]
	if e.agreementExpiry(reqs[1]).Before(e.agreementExpiry(first)) {
		first = reqs[1]
	}
	ends := e.agreementExpiry(first)
	e.fake.ResetStats()

	e.fake.AdvanceClock(ends.Add(-3 * 24 * time.Hour).Sub(e.fake.Now()))
	r := e.read(e.catalog(false, "requisitions"))
	if !warned(r, first, "access ends", "access_ends="+ends.Format(time.DateOnly)) || !warned(r, first, "connect --config ", " --reconnect "+first) {
		t.Fatalf("no WARN that requisition %s's access ends on %s", first, ends.Format(time.DateOnly))
	}
	// One WARN a requisition in a read of every stream: each stream that
	// looked at it (requisitions, then the accounts') logged it again.
	all := e.read(e.catalog(true))
	n := 0
	for _, m := range all.OfType(protocol.TypeLog) {
		if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, "access ends") && strings.Contains(m.Log.Message, first) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("a read of every stream warned %d times that requisition %s's access ends, want once", n, first)
	}
	ck := st.Run(t, e.bin, "check", "--config", e.config(nil))
	if len(ck.Messages) != 1 || ck.Messages[0].ConnectionStatus == nil || ck.Messages[0].ConnectionStatus.Status != protocol.StatusSucceeded {
		t.Fatalf("check near expiry: %s", ck.Stdout)
	}

	e.fake.AdvanceClock(4 * 24 * time.Hour)
	e.fake.ResetStats()
	r = e.run(e.catalog(true, "transactions"), nil)
	if r.Code != 1 || len(errorsMention(r, first, "end-user agreement", "expired", "Re-link")) == 0 {
		t.Fatalf("exit %d, errors %+v; want a re-link error naming %s", r.Code, r.ErrorTraces(), first)
	}
	expired := map[string]bool{}
	for _, a := range e.fake.AccountIDs(first) {
		expired[a] = true
	}
	for _, raw := range r.Records()["transactions"] {
		if expired[decode(t, raw).AccountID] {
			t.Fatal("rows of an account whose agreement expired")
		}
	}
	if n := e.fake.Stats().Count(fake.RouteTransactions); n != len(e.accounts())-len(expired) {
		t.Errorf("%d transactions calls; want one per account of the live requisition only", n)
	}
}

// TestRefusedTokenIsRenewedNotReissued: an access token refused mid-run
// (401 without a type) is renewed once through /token/refresh/, the call
// goes through, and token/new (100 an hour) is still called once.
func TestRefusedTokenIsRenewedNotReissued(t *testing.T) {
	var once sync.Once
	e := newEnvWith(t, fake.Options{TransactionsPerAccount: 20}, func(f *fake.Server, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			refused := false
			if strings.HasSuffix(r.URL.Path, "/transactions/") {
				once.Do(func() { refused = true })
			}
			if refused {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"summary":"Invalid token","detail":"Token is invalid or expired","status_code":401}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	r := e.read(e.catalog(true, "transactions"))
	if n := len(r.Records()["transactions"]); n != 20*len(e.accounts()) {
		t.Errorf("%d rows after the renewal, want %d", n, 20*len(e.accounts()))
	}
	s := e.fake.Stats()
	if s.TokenNew != 1 || s.Count(fake.RouteTokenRefresh) != 1 {
		t.Errorf("token/new %d, token/refresh %d; want 1 and 1", s.TokenNew, s.Count(fake.RouteTokenRefresh))
	}
}

// TestExpiredRequisitionKeepsItsAccountsState: the read that finds a
// requisition expired between two reads emits, for its accounts, the
// state the last read left: the state --reconnect --state then moves to
// the new ids. A state without them would make the next read after the
// re-link read every account's whole history again.
func TestExpiredRequisitionKeepsItsAccountsState(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 30})
	expired := e.fake.RequisitionIDs()[0]
	cat := e.catalog(true, "accounts", "balances", "transactions")
	first := e.read(cat)
	e.fake.ExpireRequisition(expired)
	r := e.run(cat, nil, "--state", first.StateFile(t))
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	st.AccountStatesKept(t, first.FinalStates(), r.FinalStates(), []string{"accounts", "balances", "transactions"}, e.fake.AccountIDs(expired))
}

// TestRelinkNamesTheStateFile: the WARN a week before a requisition's
// access ends and the re-link error once it has give the connect command
// with the read's own state file (--state-file, else a --state file), not
// the placeholder STATE the user must work out; a read whose state is kept
// elsewhere or nowhere (none passed here) keeps STATE and says what to put
// there, --no-state included for reads that keep none: the WARN gave a bare
// "--state STATE", which a read keeping no state has no file for.
func TestRelinkNamesTheStateFile(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	reqs := e.fake.RequisitionIDs()
	first := reqs[0]
	if e.agreementExpiry(reqs[1]).Before(e.agreementExpiry(first)) {
		first = reqs[1]
	}
	ends := e.agreementExpiry(first)
	dir := t.TempDir()
	kept := filepath.Join(dir, "kept state.json")
	e.fake.AdvanceClock(ends.Add(-3 * 24 * time.Hour).Sub(e.fake.Now()))
	r := e.read(e.catalog(true), "--state-file", kept)
	if want := "--reconnect " + first + " --state '" + kept + "' --write"; !warned(r, first, "access ends", want) {
		t.Errorf("no WARN giving %q:\n%s", want, r.Stdout)
	}
	if r := e.read(e.catalog(false, "requisitions")); !warned(r, first, "access ends", "--state STATE --write", "state=\"STATE: your reads' state file", "--no-state in place of --state STATE") {
		t.Errorf("a read keeping no state file: no WARN saying what STATE is, --no-state included:\n%s", r.Stdout)
	}
	raw, err := os.ReadFile(kept)
	if err != nil {
		t.Fatal(err)
	}
	saved := st.WriteFile(t, "state.json", raw)

	e.fake.AdvanceClock(4 * 24 * time.Hour)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"--state-file", []string{"--state-file", kept}, "--state '" + kept + "' --write`, which"},
		{"--state", []string{"--state", saved}, "--state " + saved + " --write`, which"},
		{"--state and --state-file", []string{"--state", saved, "--state-file", kept}, "--state '" + kept + "' --write`, which"},
		{"no state", nil, "--state STATE --write`, which"},
		{"no state, STATE said", nil, "over to its new id; STATE: your reads' state file"},
		{"no state, --no-state", nil, "reads that keep no state (full refresh only): --no-state in place of --state STATE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.run(e.catalog(true, "transactions"), nil, c.args...)
			if r.Code != 1 || len(errorsMention(r, first, "Re-link", c.want)) == 0 {
				t.Errorf("exit %d; no re-link error giving %q: %+v", r.Code, c.want, r.ErrorTraces())
			}
		})
	}
}

// TestRelinkUnderAirbyte: under Airbyte every sync after the first is
// given --state as a file the platform writes for that sync, which the
// user cannot run connect on; the state is the connection's. The messages
// that name a --state (the WARN a week ahead, the re-link error, the
// not-found account's error) go on to say what to do there: copy the
// connection's state out of its settings, run connect on it and the
// source's settings, and paste the rewritten state back. Each ERROR says
// it once, at its end, however many accounts failed, each of them
// pointing there: the run's closing summary said it once per failing
// account, and a stream's internal_message still did. check, which has no state, says so too (the STATE hint); a
// --state-file, the user's own file, gets no such note, nor does a --state
// given by hand: the platform's launcher sets WORKER_JOB_ID, which a read
// run by hand has not.
func TestRelinkUnderAirbyte(t *testing.T) {
	t.Setenv("WORKER_JOB_ID", "") // the hand-run reads' environment; PlatformRead sets the platform's
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	reqs := e.fake.RequisitionIDs()
	first, other := reqs[0], reqs[1]
	if e.agreementExpiry(other).Before(e.agreementExpiry(first)) {
		first, other = other, first
	}
	airbyte := []string{"under Airbyte, --config and --state are files it writes for one sync", "with the connection disabled",
		"the state copied from the connection's Settings → Advanced → Connection state", "paste the rewritten state back there"}
	cfg, cat := e.config(nil), e.catalog(true)
	sync := func() *st.Result {
		t.Helper()
		r := st.PlatformRead(t, e.bin, cfg, cat, st.PlatformState(t, st.PlatformRead(t, e.bin, cfg, cat, "")))
		st.ValidateProtocol(t, r)
		e.noSecrets(r)
		return r
	}

	e.fake.AdvanceClock(e.agreementExpiry(first).Add(-3 * 24 * time.Hour).Sub(e.fake.Now()))
	r := sync()
	if !warned(r, first, "access ends", "--state /", "airbyte=\"--config and --state are files it writes for one sync", "Connection state", "paste the rewritten state back there") {
		t.Errorf("the WARN a week ahead of a sync given the platform's --state does not say what to do under Airbyte:\n%s", r.Stdout)
	}

	e.fake.AdvanceClock(4 * 24 * time.Hour)
	gone := e.fake.AccountIDs(other)[0]
	e.fake.DeleteAccount(gone)
	r = sync()
	if errs := errorsMention(r, append([]string{first, "Re-link the bank", "--state /"}, airbyte...)...); r.Code != 1 || len(errs) == 0 {
		t.Errorf("exit %d; the re-link error of a sync given the platform's --state does not say what to do under Airbyte: %+v", r.Code, r.ErrorTraces())
	}
	if errs := errorsMention(r, append([]string{gone, "was not found", "config.account_ids"}, airbyte...)...); len(errs) == 0 {
		t.Errorf("the not-found account's error of a sync given the platform's --state does not say what to do under Airbyte: %+v", r.ErrorTraces())
	}
	summaries := errorsMention(r, "During the sync", first, gone)
	if len(summaries) != 1 {
		t.Errorf("want one closing summary naming %s and %s, got %+v", first, gone, r.ErrorTraces())
	}
	for _, e := range r.ErrorTraces() {
		if n := strings.Count(e.Message, airbyte[0]); strings.Contains(e.Message, first) && n != 1 {
			t.Errorf("an ERROR naming both failures says the Airbyte note %d times, want once at its end: %s", n, e.Message)
		}
		if strings.Contains(e.Message, first) && strings.Contains(e.Message, gone) && strings.Count(e.Message, "(under Airbyte: see the end of this message)") < 2 {
			t.Errorf("each failure of an ERROR naming both should point at the note at its end: %s", e.Message)
		}
		// The internal_message, each failure's error a line, says it once
		// too: each line ended with it.
		if n := strings.Count(e.InternalMessage, airbyte[0]); strings.Contains(e.InternalMessage, first) && n != 1 {
			t.Errorf("an ERROR's internal_message naming both failures says the Airbyte note %d times, want once at its end: %s", n, e.InternalMessage)
		}
	}

	hand := e.run(cat, nil, "--state", st.PlatformState(t, st.PlatformRead(t, e.bin, cfg, cat, "")))
	if errs := errorsMention(hand, first, "Re-link the bank", "--state /"); len(errs) == 0 || len(errorsMention(hand, "under Airbyte")) > 0 {
		t.Errorf("a read given --state by hand (no WORKER_JOB_ID): want the re-link error naming the file without the Airbyte note: %+v", hand.ErrorTraces())
	}

	ck := st.Run(t, e.bin, "check", "--config", cfg)
	if len(ck.Messages) != 1 || ck.Messages[0].ConnectionStatus == nil {
		t.Fatalf("check: %s", ck.Stdout)
	}
	for _, part := range append([]string{"--state STATE --write"}, airbyte...) {
		if msg := ck.Messages[0].ConnectionStatus.Message; !strings.Contains(msg, part) {
			t.Errorf("check's re-link message does not say %q: %s", part, msg)
		}
	}

	r = e.run(cat, nil, "--state-file", filepath.Join(t.TempDir(), "state.json"))
	if errs := errorsMention(r, first, "Re-link the bank"); len(errs) == 0 || len(errorsMention(r, "under Airbyte")) > 0 {
		t.Errorf("a read keeping its state in a --state-file: want the re-link error without the Airbyte note: %+v", r.ErrorTraces())
	}
}

// TestRelinkNoteOnceInStreamsThatDiffer: under Airbyte, a requisition to
// re-link that every stream met, one of them beside a failure of its own
// (the bank failing another requisition's account), gives the closing
// summary two groups of streams; the Airbyte note ends it once, each group
// pointing there. Each group's message ended with the note, so the summary
// said it twice.
func TestRelinkNoteOnceInStreamsThatDiffer(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	reqs := e.fake.RequisitionIDs()
	cfg, cat := e.config(nil), e.catalog(true)
	state := st.PlatformState(t, st.PlatformRead(t, e.bin, cfg, cat, ""))
	e.fake.ExpireRequisition(reqs[0])
	e.fake.SetInstitutionError(e.fake.AccountIDs(reqs[1])[0], 500)
	r := st.PlatformRead(t, e.bin, cfg, cat, state)
	st.ValidateProtocol(t, r)
	e.noSecrets(r)
	summaries := errorsMention(r, "During the sync", reqs[0], "Institution error")
	if len(summaries) != 1 {
		t.Fatalf("want one closing summary naming %s and the bank's failure, got %+v", reqs[0], r.ErrorTraces())
	}
	msg := summaries[0].Message
	if n := strings.Count(msg, "under Airbyte, --config and --state are files it writes for one sync"); n != 1 {
		t.Errorf("the closing summary says the Airbyte note %d times, want once at its end: %s", n, msg)
	}
	if n := strings.Count(msg, "(under Airbyte: see the end of this message)"); n < 2 {
		t.Errorf("each group of streams should point at the note at the summary's end (%d do): %s", n, msg)
	}
}

// TestUnreachableAPISaidOnceAStream: a read whose base_url does not answer
// fails each stream with the token call's failure said once, blaming no
// requisition, where each requisition's accounts repeated it
// ("requisition A: getting an access token: ...; requisition B: getting
// an access token: ...") as if they were the cause.
func TestUnreachableAPISaidOnceAStream(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	closed := st.ClosedPort(t)
	r := e.run(e.catalog(true, "requisitions", "transactions"), map[string]any{"base_url": "http://127.0.0.1:" + closed + "/api/v2"})
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	for _, et := range r.ErrorTraces() {
		if et.StreamDescriptor == nil {
			continue
		}
		if n := strings.Count(et.Message, "getting an access token"); n != 1 || strings.Contains(et.Message, "requisition ") || et.FailureType != protocol.TransientError {
			t.Errorf("%s: %s error says the token call failed %d times (want once, naming no requisition): %s", et.StreamDescriptor.Name, et.FailureType, n, et.Message)
		}
	}
}

// TestDeletedAccountIsNamed: an account GoCardless no longer has while its
// requisition still lists it answers 404 on every call: the read fails
// with a config error naming the account, its requisition, the cause and
// both fixes (re-link the bank with connect --reconnect, saying what to
// give for STATE when the read has no state file, as the re-link error
// does, where it pointed at docs/connect.md only; or leave the account out
// with config.account_ids); once its metadata confirms
// GoCardless no longer knows it, it is not called again in the run, and
// every other account is read.
func TestDeletedAccountIsNamed(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 20})
	accts := e.accounts()
	gone := accts[0]
	e.fake.DeleteAccount(gone)
	r := e.run(e.catalog(true), nil)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	found := false
	for _, tr := range r.ErrorTraces() {
		found = found || tr.FailureType == protocol.ConfigError && strings.Contains(tr.Message, gone) && strings.Contains(tr.Message, "was not found")
		if tr.FailureType == protocol.ConfigError && strings.Contains(tr.Message, "was not found") {
			// A read with no state file: STATE is said, --no-state too.
			for _, fix := range []string{"source-gocardless-bank-data connect --config ", " --reconnect ", "config.account_ids", "--state STATE --write` (docs/connect.md)", "STATE: your reads' state file", "--no-state in place of --state STATE"} {
				if !strings.Contains(tr.Message, fix) {
					t.Errorf("the not-found error does not say %q (the fix): %s", fix, tr.Message)
				}
			}
		}
	}
	if !found {
		t.Errorf("no config_error naming account %s as not found: %+v", gone, r.ErrorTraces())
	}
	s := e.fake.Stats()
	n := 0
	for _, route := range []string{fake.RouteAccount, fake.RouteDetails, fake.RouteBalances, fake.RouteTransactions} {
		n += s.Requests[route][404]
	}
	if n > 2 {
		t.Errorf("the deleted account was called %d times; a call and the metadata lookup that confirms it tell", n)
	}
	read := map[string]int{}
	for _, raw := range r.Records()["transactions"] {
		read[decode(t, raw).AccountID]++
	}
	for _, a := range accts[1:] {
		if read[a] == 0 {
			t.Errorf("account %s was not read", a)
		}
	}
}

// TestTokenHourlyLimitFailsClearly: POST /token/new/ is limited to 100 an
// hour for the whole company (gocardless-api.md §3.4). A run that meets the
// limit fails at once with a transient error saying so, naming no
// requisition, without waiting the hour out.
func TestTokenHourlyLimitFailsClearly(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 5, TokensPerHour: 1})
	cat := e.catalog(true, "transactions")
	e.read(cat)
	start := time.Now()
	r := e.run(cat, nil)
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the run took %v: it waited for the token limit", took)
	}
	found := false
	for _, tr := range r.ErrorTraces() {
		found = found || tr.FailureType == protocol.TransientError && strings.Contains(tr.Message, "100 new access tokens an hour") && !strings.Contains(tr.Message, e.fake.RequisitionIDs()[0])
	}
	if !found {
		t.Errorf("no transient error about the hourly token limit naming no requisition: %+v", r.ErrorTraces())
	}
	if n := e.fake.Stats().Requests[fake.RouteTokenNew][429]; n != 1 {
		t.Errorf("token/new refused %d times, want 1: the limit is not worth asking again within the run", n)
	}
	// check says the same: the API answered, so not "cannot reach".
	ck := st.Run(t, e.bin, "check", "--config", e.config(nil))
	if len(ck.Messages) != 1 || ck.Messages[0].ConnectionStatus == nil {
		t.Fatalf("check: %s", ck.Stdout)
	}
	if cs := ck.Messages[0].ConnectionStatus; cs.Status != protocol.StatusFailed || !strings.Contains(cs.Message, "100 new access tokens an hour") || strings.Contains(cs.Message, "cannot reach") {
		t.Errorf("check over the token limit: %s %q; want FAILED saying the hourly limit, not that the API cannot be reached", cs.Status, cs.Message)
	}
}

// TestCheckQuotesAnAnswered503: a check whose requisition lookup GoCardless
// answers 503 with its error body says what GoCardless answered, as a
// transient failure, and not that base_url cannot be reached.
func TestCheckQuotesAnAnswered503(t *testing.T) {
	e := newEnvWith(t, fake.Options{Requisitions: 1}, func(_ *fake.Server, h http.Handler) http.Handler {
		c, _ := st.Canned(h, func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/v2/requisitions/") }, 0,
			http.StatusServiceUnavailable, nil, []byte(`{"summary":"Service temporarily unavailable","detail":"Try again later","status_code":503}`))
		return c
	})
	ck := st.Run(t, e.bin, "check", "--config", e.config(nil))
	if len(ck.Messages) != 1 || ck.Messages[0].ConnectionStatus == nil {
		t.Fatalf("check: %s", ck.Stdout)
	}
	if cs := ck.Messages[0].ConnectionStatus; cs.Status != protocol.StatusFailed || !strings.Contains(cs.Message, "Service temporarily unavailable") || strings.Contains(cs.Message, "cannot reach") {
		t.Errorf("check: %s %q; want FAILED quoting GoCardless's 503, not that the API cannot be reached", cs.Status, cs.Message)
	}
}

// TestAgreementExpiryIsTheSameInEveryMachineZone: an agreement accepted
// at 11:59 +00:00 on 15 January ends 90 days later at 11:59 UTC, for a
// machine in London as for one in UTC: at 11:30 UTC that day a read warns
// that access ends and goes on. A time with an offset that London uses
// was parsed into London's zone, and 90 days added there across the
// change to summer time ended it at 10:59 UTC: the requisition was
// reported expired, an hour early, on that machine only.
func TestAgreementExpiryIsTheSameInEveryMachineZone(t *testing.T) {
	_, _ = time.Now().Zone() // this process's zone is loaded before TZ changes: TZ is for the binary
	now := time.Date(2026, 4, 15, 11, 30, 0, 0, time.UTC)
	isAgreement := func(r *http.Request) bool {
		return strings.HasPrefix(r.URL.Path, "/api/v2/agreements/enduser/") && !strings.HasSuffix(r.URL.Path, "/reconfirm/")
	}
	e := newEnvWith(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 5, Now: func() time.Time { return now }}, func(_ *fake.Server, h http.Handler) http.Handler {
		return st.Rewrite(h, isAgreement, func(b []byte) []byte {
			var agr map[string]any
			st.Must(t, json.Unmarshal(b, &agr), "agreement")
			agr["accepted"], agr["access_valid_for_days"] = "2026-01-15T11:59:00+00:00", 90
			out, _ := json.Marshal(agr)
			return out
		})
	})
	req := e.fake.RequisitionIDs()[0]
	for _, zone := range []string{"UTC", "Europe/London"} {
		t.Setenv("TZ", zone)
		r := e.run(e.catalog(false, "requisitions"), nil)
		if r.Code != 0 || !warned(r, req, "access ends", "access_ends=2026-04-15") {
			t.Errorf("TZ=%s: exit %d, errors %v; want a WARN that access ends on 2026-04-15 and the read to go on", zone, r.Code, r.ErrorTraces())
		}
	}
}
