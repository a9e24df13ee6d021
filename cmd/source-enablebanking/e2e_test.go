package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking"
	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

func TestSpec(t *testing.T) {
	e := newEnv(t, fake.Options{})
	bin := e.bin
	r := st.Run(t, bin, "spec")
	st.ValidateProtocol(t, r)
	specs := r.OfType(protocol.TypeSpec)
	if r.Code != 0 || len(specs) != 1 || len(r.Messages) != 1 {
		t.Fatalf("spec: exit %d, %d messages", r.Code, len(r.Messages))
	}
	spec := specs[0].Spec
	st.CheckSpecRules(t, spec.ConnectionSpecification)
	// The config every test reads the fake with is one the spec's form
	// accepts, as the acceptance tests check of theirs.
	st.CheckConfigMatchesSpec(t, spec.ConnectionSpecification, e.cfg)
	var s struct {
		Properties map[string]struct {
			Secret  bool `json:"airbyte_secret"`
			Default any  `json:"default"`
		} `json:"properties"`
	}
	st.Must(t, json.Unmarshal(spec.ConnectionSpecification, &s), "spec")
	if !s.Properties["private_key"].Secret {
		t.Error("private_key must be airbyte_secret")
	}
	for name, want := range map[string]any{"lookback_days": 7.0, "include_pending": false, "daily_limit": 4.0, "attended": false, "base_url": enablebanking.DefaultBaseURL, "http_timeout_seconds": float64(enablebanking.DefaultHTTPTimeout)} {
		if got := s.Properties[name].Default; got != want {
			t.Errorf("%s default %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"application_id", "private_key", "private_key_path", "session_ids", "account_uids", "base_url", "start_date", "lookback_days", "include_pending", "daily_limit", "attended", "psu_ip_address", "psu_user_agent", "http_timeout_seconds"} {
		if _, ok := s.Properties[name]; !ok {
			t.Errorf("spec lacks %s", name)
		}
	}
}

// otherKey is an RSA key that is not the application's.
func otherKey(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	st.Must(t, err, "key")
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func TestCheck(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 3})
	ids := e.fake.SessionIDs()
	expired := ids[2]
	e.fake.ExpireSession(expired)
	good := ids[:2]
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	st.Must(t, os.WriteFile(keyFile, []byte(e.fake.PrivateKeyPEM()), 0o600), "key file")
	wrong := otherKey(t)
	wrongFile := filepath.Join(t.TempDir(), "other.pem")
	st.Must(t, os.WriteFile(wrongFile, []byte(wrong), 0o600), "other key file")
	closed := st.ClosedPort(t)
	hash := e.fake.IdentificationHash(e.fake.AccountUIDs(good[0])[0])
	for _, c := range []struct {
		name    string
		over    map[string]any
		status  string
		mention []string
	}{
		{"good", map[string]any{"session_ids": good}, protocol.StatusSucceeded, nil},
		{"comma string", map[string]any{"session_ids": strings.Join(good, " , ")}, protocol.StatusSucceeded, nil},
		{"key file", map[string]any{"session_ids": good, "private_key": nil, "private_key_path": keyFile}, protocol.StatusSucceeded, nil},
		{"key with escaped newlines", map[string]any{"session_ids": good, "private_key": strings.ReplaceAll(e.fake.PrivateKeyPEM(), "\n", `\n`)}, protocol.StatusSucceeded, nil},
		{"account by uid", map[string]any{"session_ids": good, "account_uids": e.fake.AccountUIDs(good[1])[:1]}, protocol.StatusSucceeded, nil},
		{"account by hash", map[string]any{"session_ids": good, "account_uids": []string{hash}}, protocol.StatusSucceeded, nil},
		{"key of another application", map[string]any{"session_ids": good, "private_key": wrong}, protocol.StatusFailed, []string{"UNAUTHORIZED_ACCESS", "config.application_id", "config.private_key"}},
		// The refused key came from private_key_path: the message names that field.
		{"key file of another application", map[string]any{"session_ids": good, "private_key": nil, "private_key_path": wrongFile}, protocol.StatusFailed, []string{"UNAUTHORIZED_ACCESS", "config.application_id", "config.private_key_path"}},
		// The key pasted into the path field, or a path into the key field:
		// the message says to swap them and never quotes the key.
		{"key contents in private_key_path", map[string]any{"private_key": nil, "private_key_path": e.fake.PrivateKeyPEM()}, protocol.StatusFailed, []string{"config.private_key_path holds a PEM key itself, not a file's path", "put the key in private_key"}},
		{"key file path in private_key", map[string]any{"private_key": keyFile}, protocol.StatusFailed, []string{"config.private_key holds a file path, not a PEM key", "private_key_path"}},
		{"unknown application id", map[string]any{"session_ids": good, "application_id": "00000000-0000-4000-8000-000000000000"}, protocol.StatusFailed, []string{"config.application_id"}},
		{"malformed key", map[string]any{"private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"}, protocol.StatusFailed, []string{"config.private_key", "not a PEM-encoded RSA private key"}},
		{"no key", map[string]any{"private_key": nil}, protocol.StatusFailed, []string{"config.private_key", "private_key_path"}},
		{"both keys", map[string]any{"private_key_path": keyFile}, protocol.StatusFailed, []string{"both set"}},
		{"missing key file", map[string]any{"private_key": nil, "private_key_path": filepath.Join(t.TempDir(), "absent.pem")}, protocol.StatusFailed, []string{"config.private_key_path", "absent.pem"}},
		// A relative path is the working directory's: a cron job run from
		// elsewhere fails, and the message says why.
		{"relative key file", map[string]any{"private_key": nil, "private_key_path": "keys/absent.pem"}, protocol.StatusFailed, []string{"config.private_key_path", `"keys/absent.pem" is relative`, "working directory", "absolute path"}},
		// The command to run names the session's bank (the fake's third
		// session is at DNB, Norway), not --country CC.
		{"expired session", nil, protocol.StatusFailed, []string{expired, "EXPIRED", "Authorise again", "source-enablebanking connect --config ", " --country NO --aspsp DNB --write"}},
		{"unknown session", map[string]any{"session_ids": []string{"00000000-0000-4000-8000-000000000001"}}, protocol.StatusFailed, []string{"00000000-0000-4000-8000-000000000001", "SESSION_DOES_NOT_EXIST", "Authorise again"}},
		{"foreign account", map[string]any{"session_ids": good, "account_uids": []string{"nope"}}, protocol.StatusFailed, []string{"config.account_uids", "nope"}},
		{"unreachable", map[string]any{"base_url": "http://127.0.0.1:" + closed}, protocol.StatusFailed, []string{"cannot reach"}},
		{"missing session_ids", map[string]any{"session_ids": nil}, protocol.StatusFailed, []string{"config.session_ids"}},
		{"not a uuid", map[string]any{"session_ids": []string{"abc"}}, protocol.StatusFailed, []string{"config.session_ids.0"}},
		{"bad start_date", map[string]any{"start_date": "2025-13-45"}, protocol.StatusFailed, []string{"config.start_date"}},
		// A first sync from a future date reads nothing and leaves a
		// state that starts there.
		{"future start_date", map[string]any{"session_ids": good, "start_date": "2099-01-01"}, protocol.StatusFailed, []string{"config.start_date", "after today"}},
		{"plain http", map[string]any{"base_url": "http://api.enablebanking.com"}, protocol.StatusFailed, []string{"config.base_url"}},
		{"attended without ip", map[string]any{"attended": true}, protocol.StatusFailed, []string{"config.psu_ip_address"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs, r := st.CheckRun(t, e.bin, e.config(c.over))
			if cs.Status != c.status {
				t.Fatalf("check = %s %q, want %s", cs.Status, cs.Message, c.status)
			}
			for _, m := range c.mention {
				if !strings.Contains(cs.Message, m) {
					t.Fatalf("check message %q does not mention %q", cs.Message, m)
				}
			}
			e.noSecrets(r)
			for _, line := range strings.Split(wrong, "\n") {
				if len(line) > 20 && strings.Contains(string(r.Stdout)+string(r.Stderr), line) {
					t.Fatal("check output contains a line of the wrong key")
				}
			}
		})
	}
	// A check spends no daily limit.
	s := e.fake.Stats()
	for _, route := range []string{fake.RouteDetails, fake.RouteBalances, fake.RouteTransactions} {
		if n := s.Count(route); n != 0 {
			t.Errorf("checks made %d calls to %s", n, route)
		}
	}

	// An application not activated yet answers "active": false (the
	// reference, §1): the check names it and how to activate it.
	inactive := newEnv(t, fake.Options{Sessions: 1, Inactive: true})
	cs, r := st.CheckRun(t, inactive.bin, inactive.config(nil))
	if cs.Status != protocol.StatusFailed || !strings.Contains(cs.Message, inactive.fake.ApplicationID()+" is not active") || !strings.Contains(cs.Message, "Activate by linking accounts") {
		t.Errorf("check of an inactive application = %s %q, want FAILED naming it and how to activate it", cs.Status, cs.Message)
	}
	inactive.noSecrets(r)
}

func TestDiscover(t *testing.T) {
	e := newEnv(t, fake.Options{})
	cat := e.discover()
	st.CheckCatalog(t, cat, map[string]bool{"sessions": false, "accounts": true, "balances": true, "transactions": true, "pending_transactions": false})
	st.CheckPrimaryKeys(t, cat, map[string]string{
		"sessions":             `[["session_id"]]`,
		"accounts":             `[["account_key"]]`,
		"balances":             `[["account_key"],["balance_key"]]`,
		"transactions":         `[["account_key"],["transaction_key"]]`,
		"pending_transactions": `[["account_key"],["pending_key"]]`,
	})
	if len(e.fake.Stats().Requests) != 0 {
		t.Error("discover called the API")
	}
}

func TestFullReadEqualsFakeData(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 2, TransactionsPerAccount: 70})
	r := e.read(e.catalog(false))
	recs := r.Records()
	accounts := e.accounts()

	checkDeclared(t, e.discover(), recs)
	if n := len(recs["sessions"]); n != 2 {
		t.Errorf("%d sessions", n)
	}
	for _, raw := range recs["accounts"] {
		var a struct {
			Key      string  `json:"account_key"`
			Hash     string  `json:"identification_hash"`
			Currency string  `json:"currency"`
			Fetched  *string `json:"details_fetched_at"`
			Extra    any     `json:"x_bank_field"`
		}
		st.Must(t, json.Unmarshal(raw, &a), "account")
		if a.Key == "" || a.Key != a.Hash || a.Currency == "" || a.Fetched == nil || a.Extra == nil {
			t.Errorf("account record %s", raw)
		}
	}
	if len(recs["accounts"]) != len(accounts) {
		t.Errorf("%d account records for %d accounts", len(recs["accounts"]), len(accounts))
	}

	// Booked rows: every row of the fake, once, equal but for the added
	// fields, under distinct keys, with the right signed amount.
	got := byUID(t, recs["transactions"])
	quirks := map[string]bool{}
	for _, a := range accounts {
		served := e.fake.Booked(a)
		want := map[string]int{}
		for _, raw := range served {
			want[canonical(t, raw)]++
			s := string(raw)
			switch {
			case strings.Contains(s, `"entry_reference":null`):
				quirks["null reference"] = true
			case !strings.Contains(s, `"entry_reference"`):
				quirks["no reference"] = true
			case strings.Contains(s, `"entry_reference":"0"`):
				quirks["placeholder"] = true
			case strings.Contains(s, `-0","status"`) || strings.Contains(s, `"entry_reference":"20`):
				quirks["positional"] = true
			}
		}
		if len(got[a]) != len(served) {
			t.Fatalf("account %s: %d booked rows, fake has %d", a, len(got[a]), len(served))
		}
		keys := map[string]bool{}
		for _, raw := range got[a] {
			c := without(t, raw, txAdded...)
			if want[c] == 0 {
				t.Fatalf("account %s: a row the fake did not serve (or served differently):\n%s", a, raw)
			}
			want[c]--
			x := decodeTx(t, raw)
			if keys[x.Key] {
				t.Errorf("account %s: key %q twice", a, x.Key)
			}
			keys[x.Key] = true
			if !strings.HasPrefix(x.Key, "ref:") && !strings.HasPrefix(x.Key, "fp:") {
				t.Errorf("key %q", x.Key)
			}
			wantSigned := x.Amount.Amount
			if x.Indicator == "DBIT" {
				wantSigned = "-" + wantSigned
			}
			if x.Signed == nil || *x.Signed != wantSigned {
				t.Errorf("signed_amount %v for %s %s", x.Signed, x.Indicator, x.Amount.Amount)
			}
		}
	}
	for _, q := range []string{"null reference", "no reference", "placeholder", "positional"} {
		if !quirks[q] {
			t.Errorf("the fake served no row with %s; the test proves less than it says", q)
		}
	}

	// Pending rows: the fake's, keyed by content.
	pend := byUID(t, recs["pending_transactions"])
	for _, a := range accounts {
		served := e.fake.Pending(a)
		if len(pend[a]) != len(served) {
			t.Fatalf("account %s: %d pending rows, fake has %d", a, len(pend[a]), len(served))
		}
		for i := range served {
			if without(t, pend[a][i], "account_key", "account_uid", "session_id", "pending_key", "signed_amount") != canonical(t, served[i]) {
				t.Errorf("pending row differs:\n%s\n%s", pend[a][i], served[i])
			}
		}
	}
	if n := len(recs["balances"]); n != 3*len(accounts) {
		t.Errorf("%d balances for %d accounts", n, len(accounts))
	}

	// The budget: one call of each endpoint per account, pages aside; no
	// PSU headers, since the run is not attended.
	s := e.fake.Stats()
	if s.Chains != len(accounts) {
		t.Errorf("%d transactions calls for %d accounts", s.Chains, len(accounts))
	}
	for _, route := range []string{fake.RouteDetails, fake.RouteBalances} {
		if n := s.Count(route); n != len(accounts) {
			t.Errorf("%s: %d calls for %d accounts", route, n, len(accounts))
		}
	}
	if s.WithPSUHeaders != 0 {
		t.Errorf("%d requests carried PSU headers in an unattended run", s.WithPSUHeaders)
	}
	if s.Count(fake.RouteTransactions) <= s.Chains {
		t.Error("no continuation page was followed; the test proves less than it says")
	}
}

// TestEveryPendingStatusIsKept: rows the bank has not booked come with any
// of the statuses the reference lists (PDNG, HOLD, SCHD, CNCL, RJCT, OTHR),
// or one no document lists. Each is a pending_transactions row, once, with
// its status as sent; none is taken for a booked row, none is lost, and
// the typed sinks take them too.
func TestEveryPendingStatusIsKept(t *testing.T) {
	statuses := []string{"PDNG", "HOLD", "SCHD", "CNCL", "RJCT", "OTHR", "ACSC"}
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 10, PendingStatuses: statuses})
	r := e.read(e.catalog(true, "transactions", "pending_transactions"), "--parquet-dir", t.TempDir())
	recs := r.Records()
	seen := map[string]int{}
	booked, pend := byUID(t, recs["transactions"]), byUID(t, recs["pending_transactions"])
	for _, a := range e.accounts() {
		if n, want := len(booked[a]), len(e.fake.Booked(a)); n != want {
			t.Errorf("account %s: %d booked rows, the fake booked %d", a, n, want)
		}
		want := map[string]int{}
		for _, raw := range e.fake.Pending(a) {
			want[canonical(t, raw)]++
		}
		if len(pend[a]) != len(e.fake.Pending(a)) {
			t.Errorf("account %s: %d pending rows, the fake has %d", a, len(pend[a]), len(e.fake.Pending(a)))
		}
		for _, raw := range pend[a] {
			c := without(t, raw, "account_key", "account_uid", "session_id", "pending_key", "signed_amount")
			if want[c] == 0 {
				t.Errorf("account %s: a pending row the fake did not serve:\n%s", a, raw)
			}
			want[c]--
			var row struct {
				Status string `json:"status"`
			}
			st.Must(t, json.Unmarshal(raw, &row), "pending row")
			seen[row.Status]++
		}
	}
	for _, s := range statuses {
		if seen[s] == 0 {
			t.Errorf("no pending row with status %s", s)
		}
	}
}

// TestEmptyBalancesListIsNoError: a bank answering an account's balances
// with an empty list (Actual's client errors on it) gives that account no
// balance row and no error; the others' balances are read.
func TestEmptyBalancesListIsNoError(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	accounts := e.accounts()
	e.fake.NoBalances(accounts[0])
	for _, incremental := range []bool{false, true} {
		r := e.read(e.catalog(incremental, "balances"))
		got := byUID(t, r.Records()["balances"])
		if n := len(got[accounts[0]]); n != 0 {
			t.Errorf("%d balances of the account whose bank listed none", n)
		}
		if len(got[accounts[1]]) == 0 {
			t.Errorf("no balance of account %s", accounts[1])
		}
	}
}

func TestAttendedSendsPSUHeaders(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, DailyLimit: 1})
	over := map[string]any{"attended": true, "psu_ip_address": "192.0.2.7", "psu_user_agent": "Mozilla/5.0"}
	cat := e.catalog(true, "transactions")
	for range 2 { // twice: attended reads are not limited
		r := e.run(cat, over)
		if r.Code != 0 || r.Warned("limit") {
			t.Fatalf("attended read: exit %d, %v", r.Code, r.ErrorTraces())
		}
	}
	if s := e.fake.Stats(); s.WithPSUHeaders == 0 {
		t.Error("an attended run sent no PSU headers")
	}
}

func TestFutureStateReadsNothing(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	accounts := map[string]any{}
	for _, uid := range e.accounts() {
		accounts[e.fake.IdentificationHash(uid)] = map[string]any{"booked_through": "2999-12-31", "synced_at": "2999-12-31T00:00:00Z"}
	}
	state := st.StreamStateFile(t, "transactions", map[string]any{"version": 1, "accounts": accounts})
	r := e.read(e.catalog(true, "transactions"), "--state", state)
	st.CheckFutureState(t, r, "transactions")
	// Nothing read, and no error to say why: a WARN does, per account.
	for _, uid := range e.accounts() {
		if !r.Warned(e.fake.IdentificationHash(uid), "after today") {
			t.Errorf("no WARN that account %s's state is in the future", uid)
		}
	}
	if n := e.fake.Stats().Chains; n != 0 {
		t.Errorf("a future state made %d transactions calls", n)
	}
	var got struct {
		Accounts map[string]struct {
			BookedThrough string `json:"booked_through"`
		} `json:"accounts"`
	}
	st.Must(t, json.Unmarshal(r.FinalStates()["transactions"], &got), "state")
	for k, a := range got.Accounts {
		if a.BookedThrough != "2999-12-31" {
			t.Errorf("account %s: booked_through moved to %s", k, a.BookedThrough)
		}
	}
}

// TestIncrementalAfterMutationsLosesNothing reads, lets the banks do what
// they do (book new rows, book a pending row under a new reference, change
// the references of recent rows, renumber a positional day), reads again
// from the state, and merges both reads as a destination does (by primary
// key, last wins): the result must be exactly the fake's rows now, none
// lost and none twice.
func TestIncrementalAfterMutationsLosesNothing(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 2, TransactionsPerAccount: 50})
	cat := e.catalog(true)
	r1 := e.read(cat)
	accounts := e.accounts()
	for _, a := range accounts {
		e.fake.AddBooked(a, 2)
	}
	e.fake.BookPending(accounts[0])
	e.fake.ChangeReferences(accounts[0], 5)
	e.fake.ChangeReferences(accounts[3], 2)
	e.fake.ResetStats()
	r2 := e.read(cat, "--state", r1.StateFile(t))

	checkMergedEqualsBank(t, e, []*st.Result{r1, r2})
	// An unchanged account costs one call: every account one chain.
	if s := e.fake.Stats(); s.Chains != len(accounts) {
		t.Errorf("second read: %d transactions calls for %d accounts", s.Chains, len(accounts))
	}
	// The booked twin of the pending row is in transactions; the pending
	// snapshot no longer has the row.
	if n, want := len(byUID(t, r2.Records()["pending_transactions"])[accounts[0]]), len(e.fake.Pending(accounts[0])); n != want {
		t.Errorf("pending snapshot of %s: %d rows, fake has %d", accounts[0], n, want)
	}
}

func TestQuotaSkippedAndRecoveredAfterReset(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 2, TransactionsPerAccount: 30})
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	accounts := e.accounts()
	spent := accounts[1]
	hash := e.fake.IdentificationHash(spent)
	added := e.fake.AddBooked(spent, 2)
	e.fake.ExhaustQuota(spent, fake.EndpointTransactions)

	// The bank refuses: a WARN, the stream completes, the other accounts
	// are read, the refusal is kept in the state and not retried.
	e.fake.ResetStats()
	r2 := e.read(cat, "--state", r1.StateFile(t))
	if !r2.Warned(hash, "ASPSP_RATE_LIMIT_EXCEEDED") {
		t.Fatalf("no WARN about the refused account")
	}
	if got := e.fake.Stats().Requests[fake.RouteTransactions][429]; got != 1 {
		t.Errorf("the refusal was asked %d times; a bank-level 429 is never retried", got)
	}
	if n := len(byUID(t, r2.Records()["transactions"])[spent]); n != 0 {
		t.Errorf("%d rows of the refused account", n)
	}
	var s2 struct {
		Quota map[string]map[string]any `json:"quota"`
	}
	st.Must(t, json.Unmarshal(r2.FinalStates()["transactions"], &s2), "state")
	if s2.Quota[hash]["blocked_until"] == nil {
		t.Fatalf("the state does not keep the refusal: %s", r2.FinalStates()["transactions"])
	}

	// The next run knows: no call is made for the account.
	e.fake.ResetStats()
	r3 := e.read(cat, "--state", r2.StateFile(t))
	// Named by the stream that met it, as every stream's LOG begins.
	if !r3.Warned("transactions: the bank's daily limit", hash) {
		t.Errorf("no WARN of the transactions stream about the skipped account:\n%s", r3.Stdout)
	}
	// The account is named once, first, though both the account's logger
	// and the WARN's call site name it (ValidateProtocol checks every LOG).
	if !r3.Warned("reads it account=" + hash + " uid=") {
		t.Errorf("the WARN does not begin its attributes with account=%s once:\n%s", hash, r3.Stdout)
	}
	if s := e.fake.Stats(); s.Chains != len(accounts)-1 {
		t.Errorf("%d transactions calls, want %d (the spent account skipped)", s.Chains, len(accounts)-1)
	}

	// A day later the account is read again, the rows booked meanwhile
	// with it.
	e.fake.AdvanceClock(25 * 60 * 60 * 1e9)
	r4 := e.read(cat, "--state", r3.StateFile(t))
	got := map[string]bool{}
	for _, raw := range byUID(t, r4.Records()["transactions"])[spent] {
		got[without(t, raw, txAdded...)] = true
	}
	for _, raw := range added {
		if !got[canonical(t, json.RawMessage(raw))] {
			t.Errorf("a row booked while the account was skipped is missing after the reset: %s", raw)
		}
	}
	if r4.Warned(hash) {
		t.Error("still warned after the reset")
	}
}

func TestDailyLimitCountedWithoutAsking(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, DailyLimit: 2})
	cat := e.catalog(true, "balances")
	over := map[string]any{"daily_limit": 2}
	var state string
	for i := range 3 {
		args := []string{}
		if state != "" {
			args = append(args, "--state", state)
		}
		e.fake.ResetStats()
		r := e.run(cat, over, args...)
		if r.Code != 0 {
			t.Fatalf("read %d exited %d: %v", i+1, r.Code, r.ErrorTraces())
		}
		state = r.StateFile(t)
		calls := e.fake.Stats().Count(fake.RouteBalances)
		if i < 2 && calls != len(e.accounts()) {
			t.Errorf("read %d: %d balances calls", i+1, calls)
		}
		if i == 2 {
			if calls != 0 {
				t.Errorf("read 3: %d balances calls past config.daily_limit; they would only be refused", calls)
			}
			if !r.Warned("daily_limit") {
				t.Error("read 3: no WARN")
			}
		}
	}
}

// TestDeadSessionFailsItsAccountsOnly: a session the user must authorise
// again, expired or revoked at the bank (REVOKED_SESSION is in the
// reference's list of re-auth errors), fails its own accounts with the fix
// and no call to them, and the other session's accounts are read.
func TestDeadSessionFailsItsAccountsOnly(t *testing.T) {
	for _, c := range []struct {
		name string
		kill func(*fake.Server, string)
	}{{"expired", (*fake.Server).ExpireSession}, {"revoked", (*fake.Server).RevokeSession}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fake.Options{Sessions: 2})
			dead := e.fake.SessionIDs()[1]
			c.kill(e.fake, dead)
			r := e.run(e.catalog(true), nil)
			if r.Code == 0 {
				t.Fatalf("read with a %s session exited 0", c.name)
			}
			traces := r.ErrorTraces()
			if !r.Warned(dead, "Authorise again") {
				t.Errorf("the sessions stream did not warn about the %s session", c.name)
			}
			found := false
			for _, tr := range traces {
				found = found || tr.FailureType == protocol.ConfigError && strings.Contains(tr.Message, dead) && strings.Contains(tr.Message, "Authorise again")
			}
			if !found {
				t.Error("no error names the session and the fix")
			}
			live := byUID(t, r.Records()["transactions"])
			for _, uid := range e.fake.AccountUIDs(e.fake.SessionIDs()[0]) {
				if len(live[uid]) == 0 {
					t.Errorf("account %s of the live session was not read", uid)
				}
			}
			for _, uid := range e.fake.AccountUIDs(dead) {
				if len(live[uid]) != 0 {
					t.Errorf("account %s of the %s session was read", uid, c.name)
				}
			}
			if e.fake.Stats().Requests[fake.RouteTransactions][401] != 0 {
				t.Errorf("the connector called accounts of a session it knew %s", c.name)
			}
		})
	}
}

func TestASPSPErrorFailsOneAccount(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	uids := e.accounts()
	e.fake.SetASPSPError(uids[0], true)
	cat := e.catalog(true, "transactions")
	r := e.run(cat, nil)
	if r.Code == 0 {
		t.Fatal("exit 0 with a failing bank")
	}
	ok := false
	for _, tr := range r.ErrorTraces() {
		ok = ok || strings.Contains(tr.Message, "ASPSP_ERROR") && strings.Contains(tr.Message, uids[0])
	}
	if !ok {
		t.Errorf("no error names the account and ASPSP_ERROR: %v", r.ErrorTraces())
	}
	if n := len(byUID(t, r.Records()["transactions"])[uids[1]]); n == 0 {
		t.Error("the other account was not read")
	}
	var state struct {
		Accounts map[string]any `json:"accounts"`
	}
	st.Must(t, json.Unmarshal(r.FinalStates()["transactions"], &state), "state")
	if _, ok := state.Accounts[e.fake.IdentificationHash(uids[0])]; ok {
		t.Error("the failed account got a state entry")
	}
	if !slices.Contains(maps(state.Accounts), e.fake.IdentificationHash(uids[1])) {
		t.Error("the good account has no state entry")
	}
}

func maps(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestWrongKeyIsAConfigError: a key Enable Banking refuses fails the read
// with a config_error naming config.private_key; every session meets the
// refusal, but it is the application's, so each trace says it once, in
// its message and its internal_message, and blames no session.
func TestWrongKeyIsAConfigError(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 2})
	wrong := otherKey(t)
	r := e.run(e.catalog(false), map[string]any{"private_key": wrong})
	if r.Code == 0 {
		t.Fatal("exit 0 with the wrong key")
	}
	ok := false
	for _, tr := range r.ErrorTraces() {
		ok = ok || tr.FailureType == protocol.ConfigError && strings.Contains(tr.Message, "config.private_key") && strings.Contains(tr.Message, "UNAUTHORIZED_ACCESS")
		if tr.StreamDescriptor == nil {
			continue
		}
		for what, text := range map[string]string{"message": tr.Message, "internal_message": tr.InternalMessage} {
			if n := strings.Count(text, "Check config.application_id and config.private_key"); n != 1 {
				t.Errorf("stream %s: its %s says the fix %d times, want 1: %.600q", tr.StreamDescriptor.Name, what, n, text)
			}
			for _, id := range e.fake.SessionIDs() {
				if strings.Contains(text, id) {
					t.Errorf("stream %s: its %s blames session %s for the application's key: %.600q", tr.StreamDescriptor.Name, what, id, text)
				}
			}
		}
	}
	if !ok {
		t.Errorf("no config_error trace names config.private_key: %v", r.ErrorTraces())
	}
	out := string(r.Stdout) + string(r.Stderr)
	for _, line := range strings.Split(wrong, "\n") {
		if len(line) > 20 && strings.Contains(out, line) {
			t.Fatal("output contains a line of the key")
		}
	}
}

// TestWrongApplicationIDIsOneError: a token whose kid is not the key's
// application is refused on every call. The run's first token is signed
// before the API's clock is known, so the connector may sign once more on
// it, but it must not say it recovered (an INFO about signing again) when
// the new token is refused too: the user reads the config error naming
// config.application_id alone. A clock really off the API's is recovered
// from, and that is what the INFO says.
func TestWrongApplicationIDIsOneError(t *testing.T) {
	tokenLogs := func(r *st.Result) []string {
		var out []string
		for _, m := range r.OfType(protocol.TypeLog) {
			if strings.Contains(m.Log.Message, "token") {
				out = append(out, string(m.Log.Level)+" "+m.Log.Message)
			}
		}
		return out
	}
	e := newEnv(t, fake.Options{Sessions: 1})
	r := e.run(e.catalog(false, "sessions"), map[string]any{"application_id": "00000000-0000-4000-8000-000000000000"})
	if r.Code == 0 {
		t.Fatal("exit 0 with another application's id")
	}
	if logs := tokenLogs(r); len(logs) > 0 {
		t.Errorf("a refused application_id logs %q before its error; want its error alone", logs)
	}
	if len(r.ErrorsMentioning("config.application_id", "config.private_key", "UNAUTHORIZED_ACCESS")) == 0 {
		t.Errorf("no error names config.application_id and the key: %v", r.ErrorTraces())
	}
	for _, tr := range r.ErrorTraces() {
		if tr.FailureType != protocol.ConfigError {
			t.Errorf("%s, want config_error: %s", tr.FailureType, tr.Message)
		}
		if strings.Contains(tr.Message, "UNAUTHORIZED_IP") {
			t.Errorf("the error speaks of an IP allow-list the API did not mention: %s", tr.Message)
		}
	}

	// The API's clock three hours ahead of the local one: the first token
	// is refused, the one signed on the API's clock taken.
	ahead := newEnv(t, fake.Options{Sessions: 1, Now: func() time.Time { return time.Now().Add(3 * time.Hour) }})
	r = ahead.read(ahead.catalog(false, "sessions"))
	if logs := tokenLogs(r); len(logs) != 1 || !strings.HasPrefix(logs[0], "INFO ") || !strings.Contains(logs[0], "accepted") {
		t.Errorf("a local clock 3 hours behind the API's logs %q, want one INFO that a token signed on the API's clock was accepted", logs)
	}
}

// TestBadStateIsAConfigError: a state this connector did not write is
// refused before anything is read, naming the field, never taken as a
// first sync.
func TestBadStateIsAConfigError(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	for name, c := range map[string]struct {
		state   map[string]any
		mention string
	}{
		"bad date":      {map[string]any{"version": 1, "accounts": map[string]any{"k": map[string]any{"booked_through": "yesterday"}}}, `accounts["k"].booked_through`},
		"null account":  {map[string]any{"version": 1, "accounts": map[string]any{"k": nil}}, `accounts["k"] is null`},
		"bad quota":     {map[string]any{"version": 1, "quota": map[string]any{"k": map[string]any{"calls": []string{"noon"}}}}, `quota["k"].calls`},
		"other version": {map[string]any{"version": 9}, "version 9"},
	} {
		t.Run(name, func(t *testing.T) {
			e.fake.ResetStats()
			r := e.run(e.catalog(true, "transactions"), nil, "--state", st.StreamStateFile(t, "transactions", c.state))
			if r.Code == 0 || len(r.Records()["transactions"]) != 0 {
				t.Fatalf("exit %d, %d records", r.Code, len(r.Records()["transactions"]))
			}
			if len(r.ErrorsMentioning(c.mention)) == 0 || r.ErrorTraces()[0].FailureType != protocol.ConfigError {
				t.Errorf("no config error mentions %q: %v", c.mention, r.ErrorTraces())
			}
			if n := e.fake.Stats().Chains; n != 0 {
				t.Errorf("%d transactions calls with a bad state", n)
			}
		})
	}
}

// TestReauthorizedSessionKeepsItsAccountsPlace: every new session mints
// new uids for the same bank accounts (the reference, §3.4), so a user who
// authorises the bank again and puts the new session in session_ids must
// not start the accounts' history over. The state and the records key an
// account by identification_hash: the next read takes up where the old
// session's left off (its re-read window and the new rows only, one call
// an account), under the same account_key and transaction_key, and merged
// by primary key the destination holds the bank's rows exactly once.
func TestReauthorizedSessionKeepsItsAccountsPlace(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60})
	cat := e.catalog(true, "accounts", "transactions")
	r1 := e.read(cat)
	old := e.fake.SessionIDs()[0]
	fresh := e.fake.Reauthorize(old)
	e.fake.ExpireSession(old)
	uids := e.fake.AccountUIDs(fresh)
	for _, uid := range uids {
		if slices.Contains(e.fake.AccountUIDs(old), uid) {
			t.Fatalf("the new session kept uid %s", uid)
		}
		e.fake.AddBooked(uid, 2)
	}
	e.cfg["session_ids"] = []string{fresh}
	e.fake.ResetStats()
	r2 := e.read(cat, "--state", r1.StateFile(t))

	first := map[string]int{}
	for _, raw := range r1.Records()["transactions"] {
		first[decodeTx(t, raw).AccountKey]++
	}
	second := map[string]int{}
	for _, raw := range r2.Records()["transactions"] {
		x := decodeTx(t, raw)
		if !slices.Contains(uids, x.AccountUID) {
			t.Fatalf("a record of uid %s, not of the new session", x.AccountUID)
		}
		second[x.AccountKey]++
	}
	merged := mergeByKey(t, r1, r2)
	for _, uid := range uids {
		hash := e.fake.IdentificationHash(uid)
		if first[hash] == 0 {
			t.Fatalf("account %s: the first read had no rows under account_key %s", uid, hash)
		}
		if second[hash] == 0 || 2*second[hash] > first[hash] {
			t.Errorf("account %s: the read after re-authorising took %d rows of the %d the first read took: it started the history over", uid, second[hash], first[hash])
		}
		n := 0
		for k := range merged {
			if strings.HasPrefix(k, hash+"|") {
				n++
			}
		}
		if want := len(e.fake.Booked(uid)); n != want {
			t.Errorf("account %s: merged by primary key, the destination holds %d rows, the bank %d", uid, n, want)
		}
	}
	if s := e.fake.Stats(); s.Chains != len(uids) {
		t.Errorf("read after re-authorising: %d transactions calls for %d accounts", s.Chains, len(uids))
	}
	var keys []string
	for _, raw := range r2.Records()["accounts"] {
		var a struct {
			Key string `json:"account_key"`
			UID string `json:"account_uid"`
		}
		st.Must(t, json.Unmarshal(raw, &a), "accounts record")
		if !slices.Contains(uids, a.UID) {
			t.Errorf("accounts record of uid %s, not of the new session", a.UID)
		}
		keys = append(keys, a.Key)
	}
	for _, uid := range uids {
		if !slices.Contains(keys, e.fake.IdentificationHash(uid)) {
			t.Errorf("no accounts record keyed %s", e.fake.IdentificationHash(uid))
		}
	}
}

// TestFutureStateReadsNoAccountsOrBalances: the acceptance tests'
// future-state check holds for the two snapshot-like incremental streams
// too. An account whose synced_at is after now is neither called nor
// emitted, and keeps its entry; before, both streams re-read and re-emitted
// every account whatever the state said. Each stream says so in a WARN
// naming the account, as transactions does: the account's rows stopped
// coming without a word before.
func TestFutureStateReadsNoAccountsOrBalances(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	accounts := map[string]any{}
	for _, uid := range e.accounts() {
		accounts[e.fake.IdentificationHash(uid)] = map[string]any{"synced_at": "2999-12-31T00:00:00Z"}
	}
	var states []protocol.State
	for _, stream := range []string{"accounts", "balances"} {
		raw, err := json.Marshal(map[string]any{"version": 1, "accounts": accounts})
		st.Must(t, err, "state")
		states = append(states, protocol.State{Type: protocol.StateStream, Stream: &protocol.StreamState{
			StreamDescriptor: protocol.StreamDescriptor{Name: stream}, StreamState: raw}})
	}
	r := e.read(e.catalog(true, "accounts", "balances"), "--state", st.WriteFile(t, "state.json", states))
	st.CheckFutureState(t, r, "accounts")
	st.CheckFutureState(t, r, "balances")
	if s := e.fake.Stats(); s.Count(fake.RouteDetails)+s.Count(fake.RouteBalances) != 0 {
		t.Errorf("a future state made %d details and %d balances calls", s.Count(fake.RouteDetails), s.Count(fake.RouteBalances))
	}
	for _, stream := range []string{"accounts", "balances"} {
		var got struct {
			Accounts map[string]struct {
				SyncedAt string `json:"synced_at"`
			} `json:"accounts"`
		}
		st.Must(t, json.Unmarshal(r.FinalStates()[stream], &got), "state")
		for k, a := range got.Accounts {
			if a.SyncedAt != "2999-12-31T00:00:00Z" {
				t.Errorf("%s: account %s: synced_at moved to %s", stream, k, a.SyncedAt)
			}
		}
		for key := range accounts {
			if !r.Warned(stream+":", key, "after now", "synced_at=2999-12-31T00:00:00Z") {
				t.Errorf("%s: no WARN that account %s's state is from the future", stream, key)
			}
		}
	}
}

// TestDetailsFetchedInTheFutureAreFetchedAgain: an accounts state whose
// details were fetched "after now" (a state edited by hand, or an abnormal
// state giving the details' time and not the account's synced_at) holds
// details no run can know the age of. They are fetched again, where they
// counted as fresh until a day after that time, so the details froze and
// every record carried that future details_fetched_at.
func TestDetailsFetchedInTheFutureAreFetchedAgain(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	cat := e.catalog(true, "accounts")
	first := e.read(cat)
	var state struct {
		Version  int                       `json:"version"`
		Accounts map[string]map[string]any `json:"accounts"`
		Quota    json.RawMessage           `json:"quota,omitempty"`
	}
	st.Must(t, json.Unmarshal(first.FinalStates()["accounts"], &state), "accounts state")
	if len(state.Accounts) == 0 {
		t.Fatal("no account in the accounts state")
	}
	for _, a := range state.Accounts {
		a["fetched_at"] = "2999-01-01T00:00:00Z"
	}
	e.fake.ResetStats()
	r := e.read(cat, "--state", st.StreamStateFile(t, "accounts", state))
	if n := e.fake.Stats().Count(fake.RouteDetails); n != len(state.Accounts) {
		t.Errorf("%d details calls for %d accounts whose details were fetched in the future", n, len(state.Accounts))
	}
	for _, raw := range r.Records()["accounts"] {
		var a struct {
			Key     string `json:"account_key"`
			Fetched string `json:"details_fetched_at"`
		}
		st.Must(t, json.Unmarshal(raw, &a), "account")
		if strings.HasPrefix(a.Fetched, "2999") || a.Fetched == "" {
			t.Errorf("account %s emitted with details_fetched_at %q", a.Key, a.Fetched)
		}
	}
}

// checkMergedEqualsBank merges the reads' transactions by primary key, as a
// deduping destination does, and checks every account holds exactly the
// bank's booked rows, each once.
func checkMergedEqualsBank(t *testing.T, e *env, reads []*st.Result) {
	t.Helper()
	checkHoldsBooked(t, e, mergeByKey(t, reads...), func(raw json.RawMessage) string { return without(t, raw, txAdded...) })
}

// checkHoldsBooked checks that merged, a destination's transactions by
// primary key (account_key|transaction_key), holds exactly the bank's
// booked rows of every account, each once. content is what is compared of
// a row, the bank's or the destination's.
func checkHoldsBooked(t *testing.T, e *env, merged map[string]json.RawMessage, content func(json.RawMessage) string) {
	t.Helper()
	for _, uid := range e.accounts() {
		hash := e.fake.IdentificationHash(uid)
		want := map[string]int{}
		n := 0
		for _, raw := range e.fake.Booked(uid) {
			want[content(raw)]++
			n++
		}
		have := 0
		for k, raw := range merged {
			if !strings.HasPrefix(k, hash+"|") {
				continue
			}
			have++
			c := content(raw)
			if want[c] == 0 {
				t.Errorf("account %s: the destination holds a row the bank no longer has, or holds fewer times (a duplicate under another key, a stale copy):\n%s", uid, raw)
				continue
			}
			want[c]--
		}
		if have != n {
			t.Errorf("account %s: the destination holds %d rows, the bank %d", uid, have, n)
		}
	}
}

// TestStartDateOfTheAPIsDayOnASlowClock: the machine's clock a day behind
// the API's (as a clock a few seconds slow is, just past UTC midnight), a
// start_date of the API's today passes check and a read, where it was
// refused before any call for being after the machine's day; two days
// ahead of the machine's is still refused before any call.
func TestStartDateOfTheAPIsDayOnASlowClock(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 5, Now: func() time.Time { return time.Now().Add(24 * time.Hour) }})
	apiDay := map[string]any{"start_date": time.Now().Add(24 * time.Hour).UTC().Format(time.DateOnly)}
	if cs, _ := st.CheckRun(t, e.bin, e.config(apiDay)); cs.Status != protocol.StatusSucceeded {
		t.Errorf("check with start_date the API's today: %s %q, want SUCCEEDED", cs.Status, cs.Message)
	}
	if r := e.run(e.catalog(false, "transactions"), apiDay); r.Code != 0 {
		t.Errorf("read with start_date the API's today: exit %d, errors %v", r.Code, r.ErrorTraces())
	}
	e.fake.ResetStats()
	twoDays := map[string]any{"start_date": time.Now().Add(48 * time.Hour).UTC().Format(time.DateOnly)}
	// The message names the machine's day, the today it judged by, not
	// the day of leeway after it (it said "after today (tomorrow's date)").
	today := "after today (" + time.Now().UTC().Format(time.DateOnly) + ", UTC)"
	if cs, _ := st.CheckRun(t, e.bin, e.config(twoDays)); cs.Status != protocol.StatusFailed || !strings.Contains(cs.Message, "config.start_date") || !strings.Contains(cs.Message, today) {
		t.Errorf("check with start_date two days ahead: %s %q, want FAILED naming config.start_date and %q", cs.Status, cs.Message, today)
	}
	if n := e.fake.Stats().Chains; n != 0 {
		t.Errorf("check with start_date two days ahead made %d transactions calls", n)
	}
}

// TestStartDateAfterTheAPIsDayOnAFastClock: the machine's clock a day
// ahead of the API's (as a clock a few seconds fast is, just past UTC
// midnight), a start_date of the machine's day is after the API's today:
// check fails naming config.start_date, and a read of either transactions
// stream fails with that config_error and makes no transactions call. Open
// judged it by the machine's day alone: check passed, pending_transactions
// sent the date_from (422 DATE_FROM_IN_FUTURE) and transactions read
// nothing and completed.
func TestStartDateAfterTheAPIsDayOnAFastClock(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 5, Now: func() time.Time { return time.Now().Add(-24 * time.Hour) }})
	machineDay := map[string]any{"start_date": time.Now().UTC().Format(time.DateOnly)}
	if cs, _ := st.CheckRun(t, e.bin, e.config(machineDay)); cs.Status != protocol.StatusFailed || !strings.Contains(cs.Message, "config.start_date") {
		t.Errorf("check: %s %q, want FAILED naming config.start_date", cs.Status, cs.Message)
	}
	for _, stream := range []string{"pending_transactions", "transactions"} {
		e.fake.ResetStats()
		r := e.run(e.catalog(false, stream), machineDay)
		if r.Code != 1 || len(r.ErrorTraces()) == 0 {
			t.Fatalf("%s alone: exit %d, errors %v; want exit 1 and the start_date error", stream, r.Code, r.ErrorTraces())
		}
		for _, et := range r.ErrorTraces() {
			if et.FailureType != protocol.ConfigError || !strings.Contains(et.Message, "config.start_date") {
				t.Errorf("%s alone: %s %q, want a config_error naming config.start_date", stream, et.FailureType, et.Message)
			}
		}
		if n := e.fake.Stats().Chains; n != 0 {
			t.Errorf("%s alone: %d transactions calls with a date_from after the API's today", stream, n)
		}
	}
}
