package main

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source/browsertest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests run `source-gocardless-bank-data connect` against the fake GoCardless
// API and drive the fake bank's consent page in a real headless Chromium:
// agreement, requisition, consent, the redirect to the command's loopback
// callback with ?ref=, the requisition turning LN, --write and --reconnect.

type connectResult struct {
	RequisitionID string `json:"requisition_id"`
	Status        string `json:"status"`
	InstitutionID string `json:"institution_id"`
	Accounts      []struct {
		ID, IBAN, Name string
	} `json:"accounts"`
	Reconnect *struct {
		Replaces string `json:"replaces"`
		Mapping  []struct {
			Old, New, By string
		} `json:"mapping"`
		UnmatchedOld []string `json:"unmatched_old"`
		UnmatchedNew []string `json:"unmatched_new"`
	} `json:"reconnect"`
}

func (e *env) configFile() string {
	p := e.config(nil)
	st.Must(e.t, os.Chmod(p, 0o600), "chmod")
	return p
}

func (e *env) noSecretsIn(where, text string) {
	e.t.Helper()
	for _, s := range append(e.fake.Tokens(), e.fake.SecretKey(), e.fake.SecretID()) {
		if strings.Contains(text, s) {
			e.t.Errorf("%s contains a secret (%.12s…)", where, s)
		}
	}
}

// link runs connect with args, approves (or refuses) in the browser after
// prepare, and returns the process once it ended.
func (e *env) link(b *browsertest.Browser, prepare func(), button string, args ...string) *st.Process {
	e.t.Helper()
	p := st.Start(e.t, e.bin, append([]string{"connect", "--no-open"}, args...)...)
	b.Navigate(p.WaitLine(st.OpenURL)[1])
	b.WaitVisible("#approve")
	e.noSecretsIn("the consent page", b.HTML())
	if prepare != nil {
		prepare()
	}
	b.Click(button)
	b.WaitVisible("#result")
	p.Wait()
	return p
}

func parseResult(t *testing.T, p *st.Process) connectResult {
	t.Helper()
	out, _ := p.Wait()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r connectResult
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &r) != nil {
		t.Fatalf("stdout must be one JSON line, got %q\nstderr: %s", out, p.Stderr())
	}
	return r
}

func TestConnectLinkBankInBrowser(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 10})
	cfg := e.configFile()
	before := e.fake.RequisitionIDs()
	b := browsertest.New(t)

	p := e.link(b, nil, "#approve", "--config", cfg, "--country", "ee", "--search", "lhv", "--write")
	if _, code := p.Wait(); code != 0 {
		t.Fatalf("connect exited %d: %s", code, p.Stderr())
	}
	if got := b.Text("#result"); !strings.Contains(got, "Bank linked") {
		t.Errorf("callback page says %q", got)
	}
	r := parseResult(t, p)
	if r.Status != "LN" || r.InstitutionID != "LHV_LHVBEE22" || !slices.Contains(e.fake.Linked(), r.RequisitionID) {
		t.Fatalf("result %+v, want a linked LHV requisition", r)
	}
	if len(r.Accounts) != 2 {
		t.Fatalf("accounts %+v, want the 2 the consent granted", r.Accounts)
	}
	if a := r.Accounts[0]; len(a.IBAN) < 8 || !strings.HasPrefix(a.IBAN, "****") || strings.Trim(a.IBAN[len(a.IBAN)-4:], "*") != a.IBAN[len(a.IBAN)-4:] || a.Name == "" {
		t.Errorf("account %+v: want its IBAN masked but for the last 4, and its name", a)
	}
	if a := r.Accounts[1]; a.IBAN != "" || a.Name != "Credit card" {
		t.Errorf("card account %+v: want no IBAN and its name", a)
	}
	// LHV has separate_continuous_history_consent: 90 days of history, not
	// its 730; access for its maximum.
	agr := e.fake.AgreementOf(r.RequisitionID)
	if agr["max_historical_days"] != 90.0 || agr["access_valid_for_days"] != 90.0 || agr["institution_id"] != "LHV_LHVBEE22" {
		t.Errorf("agreement %v, want 90 days of history and access at LHV", agr)
	}

	var written map[string]any
	raw, _ := os.ReadFile(cfg)
	st.Must(t, json.Unmarshal(raw, &written), "config after --write")
	ids, _ := written["requisition_ids"].([]any)
	if len(ids) != len(before)+1 || ids[len(ids)-1] != r.RequisitionID || written["secret_key"] != e.fake.SecretKey() || written["start_date"] != "2000-01-01" {
		t.Errorf("config after --write:\n%s", raw)
	}
	if info, _ := os.Stat(cfg); info.Mode().Perm() != 0o600 {
		t.Errorf("--write changed the mode to %v", info.Mode().Perm())
	}
	b.CheckNoSecrets(append(e.fake.Tokens(), e.fake.SecretKey(), e.fake.SecretID())...)
	e.noSecretsIn("stderr", p.Stderr())
	if cs := st.Check(t, e.bin, cfg); cs.Status != protocol.StatusSucceeded {
		t.Errorf("check of the written config: %+v", cs)
	}
}

// TestConnectReconnect replaces an expired requisition: the new accounts
// are matched to the old by IBAN, each matched account's state moves to
// its new id, and the next read continues from there instead of reading
// the whole history again. An account the user did not grant again, and a
// new one, are reported and not guessed.
func TestConnectReconnect(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 60})
	old := e.fake.RequisitionIDs()[0]
	oldAccounts := e.fake.AccountIDs(old)
	cfg := e.configFile()
	first := e.run(e.catalog(true, "accounts", "transactions"), nil)
	if first.Code != 0 {
		t.Fatalf("first read exited %d", first.Code)
	}
	fullRead := 0
	for _, raw := range first.Records()["transactions"] {
		if strings.Contains(string(raw), oldAccounts[0]) {
			fullRead++
		}
	}
	state := first.StateFile(t)
	e.fake.ExpireRequisition(old)

	b := browsertest.New(t)
	p := e.link(b, func() {
		b.Click("#account-1")   // the user does not grant the second account again
		b.Click("#new-account") // and grants a new one
	}, "#approve", "--config", cfg, "--reconnect", old, "--state", state, "--write")
	if _, code := p.Wait(); code != 0 {
		t.Fatalf("connect --reconnect exited %d: %s", code, p.Stderr())
	}
	r := parseResult(t, p)
	out, _ := p.Wait()
	t.Logf("stdout: %s\nstderr: %s", out, p.Stderr())
	rc := r.Reconnect
	if rc == nil || rc.Replaces != old || len(rc.Mapping) != 1 || rc.Mapping[0].Old != oldAccounts[0] || rc.Mapping[0].By != "iban" {
		t.Fatalf("reconnect %+v, want %s mapped by IBAN", rc, oldAccounts[0])
	}
	newAccount := rc.Mapping[0].New
	if !slices.Equal(rc.UnmatchedOld, []string{oldAccounts[1]}) || len(rc.UnmatchedNew) != 1 {
		t.Errorf("unmatched old %v (want %s), new %v (want the new account)", rc.UnmatchedOld, oldAccounts[1], rc.UnmatchedNew)
	}
	if !p.StderrHas(oldAccounts[1]) {
		t.Errorf("the unmatched old account is not reported on stderr:\n%s", p.Stderr())
	}

	var written map[string]any
	raw, _ := os.ReadFile(cfg)
	st.Must(t, json.Unmarshal(raw, &written), "config")
	if ids, _ := written["requisition_ids"].([]any); len(ids) != 1 || ids[0] != r.RequisitionID {
		t.Errorf("requisition_ids after --reconnect --write: %v, want [%s]", written["requisition_ids"], r.RequisitionID)
	}
	stRaw, _ := os.ReadFile(state)
	// The old id is no key any more; the transactions entry names it as
	// the account it replaced.
	if !strings.Contains(string(stRaw), newAccount) || strings.Contains(string(stRaw), `"`+oldAccounts[0]+`":`) || !strings.Contains(string(stRaw), oldAccounts[1]) ||
		!strings.Contains(string(stRaw), `"id": "`+oldAccounts[0]+`"`) {
		t.Errorf("state after --reconnect: want %s's entries moved to %s (naming it as replaced) and %s's kept:\n%.2000s", oldAccounts[0], newAccount, oldAccounts[1], stRaw)
	}

	// The next read continues the matched account from its carried state.
	e.cfg["requisition_ids"] = []string{r.RequisitionID}
	next := e.run(e.catalog(true, "accounts", "transactions"), nil, "--state", state)
	if next.Code != 0 {
		t.Fatalf("read after reconnect exited %d: %v", next.Code, next.ErrorTraces())
	}
	continued := 0
	for _, raw := range next.Records()["transactions"] {
		if strings.Contains(string(raw), newAccount) {
			continued++
		}
	}
	if continued >= fullRead || fullRead == 0 {
		t.Errorf("after reconnect the matched account read %d rows, the first full read %d: its state was not carried over", continued, fullRead)
	}

	// The rows the lookback reads again keep the id they were delivered
	// under: keyed on (account_id, transaction_key), none is there twice.
	type row struct {
		Account string `json:"account_id"`
		Key     string `json:"transaction_key"`
	}
	delivered := map[string]bool{} // the old account's keys
	for _, raw := range first.Records()["transactions"] {
		var r row
		st.Must(t, json.Unmarshal(raw, &r), "record")
		if r.Account == oldAccounts[0] {
			delivered[r.Key] = true
		}
	}
	again, dup := 0, 0
	for _, raw := range next.Records()["transactions"] {
		var r row
		st.Must(t, json.Unmarshal(raw, &r), "record")
		if delivered[r.Key] {
			again++
			if r.Account != oldAccounts[0] {
				dup++
			}
		}
	}
	if again == 0 {
		t.Fatal("the read after reconnect read none of the old account's rows again: the lookback window is not exercised")
	}

	if dup > 0 {
		t.Errorf("%d of the %d rows read again came under the new account id %s: a destination keyed on (account_id, transaction_key) holds them twice", dup, again, newAccount)
	}
}

// TestConnectReconnectCard matches a card account, which has no IBAN, by
// its masked PAN and currency: the old card's from the details the
// accounts stream cached in the state, the new card's from one details call.
func TestConnectReconnectCard(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 20})
	cfg := e.configFile()
	b := browsertest.New(t)
	p := e.link(b, nil, "#approve", "--config", cfg, "--institution", "LHV_LHVBEE22")
	if _, code := p.Wait(); code != 0 {
		t.Fatalf("first link exited %d: %s", code, p.Stderr())
	}
	first := parseResult(t, p)
	e.cfg["requisition_ids"] = []string{first.RequisitionID}
	read := e.read(e.catalog(true, "accounts"))
	state := read.StateFile(t)
	// A re-link comes when access has expired, days later: the cached
	// details are due for a refresh by then.
	e.fake.AdvanceClock(30 * time.Hour)
	e.fake.ExpireRequisition(first.RequisitionID)

	p = e.link(b, nil, "#approve", "--config", e.config(nil), "--reconnect", first.RequisitionID, "--state", state, "--write")
	if _, code := p.Wait(); code != 0 {
		t.Fatalf("connect --reconnect exited %d: %s", code, p.Stderr())
	}
	rc := parseResult(t, p).Reconnect
	if rc == nil || len(rc.Mapping) != 2 || len(rc.UnmatchedOld) != 0 || len(rc.UnmatchedNew) != 0 {
		t.Fatalf("reconnect %+v, want both accounts matched", rc)
	}
	by := map[string]string{}
	for _, m := range rc.Mapping {
		by[m.Old] = m.By
	}
	if by[first.Accounts[0].ID] != "iban" || by[first.Accounts[1].ID] != "masked_pan+currency" {
		t.Errorf("matched by %v, want the current account by iban and the card by masked_pan+currency", by)
	}

	// Matching read the new accounts' details; the moved state keeps
	// them, so the next read spends none of the new ids' daily details
	// calls on them again.
	e.cfg["requisition_ids"] = []string{parseResult(t, p).RequisitionID}
	e.fake.ResetStats()
	next := e.read(e.catalog(true, "accounts"), "--state", state)
	if n := e.fake.Stats().Requests[fake.RouteDetails][200]; n != 0 {
		t.Errorf("the read after reconnect made %d details calls; connect had read them", n)
	}
	if len(next.Records()["accounts"]) != 2 {
		t.Errorf("%d accounts after reconnect, want the 2 matched", len(next.Records()["accounts"]))
	}
}

func TestConnectConsentRefused(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	cfg := e.configFile()
	orig, _ := os.ReadFile(cfg)
	b := browsertest.New(t)
	// Before the user answers, a callback with another reference (another
	// local process guessing) is refused and does not end the run.
	prepare := func() {
		link := b.Location() // …/psd2/start/{requisition}/{institution}/
		parts := strings.Split(strings.Trim(link, "/"), "/")
		redirect := e.fake.RequisitionRedirect(parts[len(parts)-2])
		if !strings.HasPrefix(redirect, "http://127.0.0.1:") || !strings.HasSuffix(redirect, "/callback") {
			t.Fatalf("requisition redirect %q is not the command's loopback callback", redirect)
		}
		resp, err := http.Get(redirect + "?ref=guessed")
		st.Must(t, err, "forged callback")
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a callback with a wrong ref answered %d, want 400", resp.StatusCode)
		}
	}
	// LHV: the config's requisitions link other banks (a second link of one
	// of them with --write is refused before the consent).
	p := e.link(b, prepare, "#refuse", "--config", cfg, "--institution", "LHV_LHVBEE22", "--write")
	// The message says what became of it and what to do.
	if _, code := p.Wait(); code != 1 || !p.StderrHas("UserCancelledSession") || !p.StderrHas("nothing was written: run connect again") {
		t.Errorf("a refused consent: exit %d, stderr:\n%s", code, p.Stderr())
	}
	if got := b.Text("#result"); !strings.Contains(got, "not linked") || !strings.Contains(got, "UserCancelledSession") {
		t.Errorf("the callback page of a refused consent says %q", got)
	}
	if now, _ := os.ReadFile(cfg); string(now) != string(orig) {
		t.Errorf("the config changed after a refused consent:\n%s", now)
	}
}

func TestConnectGoCardlessBadInput(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	cfg := e.configFile()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	st.Must(t, err, "listen")
	defer busy.Close()
	cases := []st.ExitCase{
		{Name: "no credentials", Args: []string{"--config", e.config(map[string]any{"secret_key": nil}), "--country", "DE", "--search", "ing"}, Code: 1, Stderr: "secret_key"},
		{Name: "no requisitions yet", Args: []string{"--config", e.config(map[string]any{"requisition_ids": nil, "secret_key": "wrong"}), "--country", "DE", "--search", "ing"}, Code: 1, Stderr: "secret_id/secret_key"},
		{Name: "unknown country", Args: []string{"--config", cfg, "--country", "ZZ", "--search", "x"}, Code: 1, Stderr: "--country ZZ"},
		{Name: "bad country", Args: []string{"--config", cfg, "--country", "Germany"}, Code: 2, Stderr: "--country"},
		{Name: "no match", Args: []string{"--config", cfg, "--country", "DE", "--search", "nosuchbank"}, Code: 1, Stderr: `--search "nosuchbank"`},
		{Name: "list", Args: []string{"--config", cfg, "--country", "DE"}, Code: 2, Stderr: "ING_INGDDEFF"},
		{Name: "unknown institution", Args: []string{"--config", cfg, "--institution", "NOPE_XXXX"}, Code: 1, Stderr: "--institution NOPE_XXXX"},
		{Name: "wrong country", Args: []string{"--config", cfg, "--institution", "ING_INGDDEFF", "--country", "GB"}, Code: 1, Stderr: "not --country GB"},
		{Name: "no bank", Args: []string{"--config", cfg}, Code: 2, Stderr: "--country"},
		{Name: "unknown requisition", Args: []string{"--config", cfg, "--reconnect", "00000000-0000-4000-8000-000000000000"}, Code: 1, Stderr: "--reconnect 00000000-0000-4000-8000-000000000000: no such requisition"},
		{Name: "state without reconnect", Args: []string{"--config", cfg, "--country", "DE", "--state", "x.json"}, Code: 2, Stderr: "--state"},
		{Name: "port in use", Args: []string{"--config", cfg, "--institution", "ING_INGDDEFF", "--listen", busy.Addr().String()}, Code: 2, Stderr: "in use"},
		{Name: "timeout", Args: []string{"--config", cfg, "--institution", "ING_INGDDEFF", "--timeout", "1s"}, Code: 1, Stderr: "--timeout"},
	}
	st.ExpectExits(t, e.bin, []string{"connect", "--no-open"}, cases, func(t *testing.T, stderr string) {
		e.noSecretsIn("stderr", stderr)
	})
}

// TestConnectRequisitionStatusesAfterConsent: after the consent the
// requisition passes through the identity check (ID) before LN, which
// connect waits through, or ends in ER (error) or SU (suspended), where
// connect stops with exit 1 naming the status, its meaning and the fix,
// printing no result and writing nothing; the callback page says the same
// (it once said "Bank linked" before the requisition was looked at). The
// consent form is posted with net/http (no browser): its redirect leads to
// the command's callback.
func TestConnectRequisitionStatusesAfterConsent(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	for _, c := range []struct {
		script []string
		code   int
		says   []string
	}{
		{[]string{"ID", "ID", "LN"}, 0, nil},
		{[]string{"ID", "ER"}, 1, []string{"is ER (failed with an error)", "run connect again", "ask GoCardless support"}},
		{[]string{"SU"}, 1, []string{"is SU (suspended)", "run connect again", "ask GoCardless support"}},
	} {
		t.Run(strings.Join(c.script, "-"), func(t *testing.T) {
			cfg := e.configFile()
			orig, _ := os.ReadFile(cfg)
			e.fake.ScriptLinking(c.script...)
			// --timeout: waiting on past ER or SU fails in seconds, not hangs.
			p := st.Start(t, e.bin, "connect", "--no-open", "--timeout", "30s", "--config", cfg, "--institution", "LHV_LHVBEE22", "--write")
			link := p.WaitLine(st.OpenURL)[1]
			resp, err := http.PostForm(link, url.Values{"action": {"approve"}, "account": {"0", "1"}})
			st.Must(t, err, "consent at the bank")
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if linked := strings.Contains(string(page), "Bank linked"); linked != (c.code == 0) {
				t.Errorf("the callback page says %s", page)
			}
			for _, want := range c.says {
				if !strings.Contains(string(page), want) {
					t.Errorf("the callback page does not say %q: %s", want, page)
				}
			}
			out, code := p.Wait()
			e.noSecretsIn("stderr", p.Stderr())
			e.noSecretsIn("the callback page", string(page))
			now, _ := os.ReadFile(cfg)
			if c.code == 0 {
				if code != 0 {
					t.Fatalf("connect exited %d through %v: %s", code, c.script, p.Stderr())
				}
				r := parseResult(t, p)
				var written map[string]any
				st.Must(t, json.Unmarshal(now, &written), "config after --write")
				ids, _ := written["requisition_ids"].([]any)
				if r.Status != "LN" || len(r.Accounts) != 2 || len(ids) == 0 || ids[len(ids)-1] != r.RequisitionID {
					t.Errorf("result %+v, requisition_ids %v: want the LN requisition written", r, ids)
				}
				return
			}
			if code != c.code || out != "" {
				t.Fatalf("exit %d, stdout %q, want %d and nothing\nstderr: %s", code, out, c.code, p.Stderr())
			}
			for _, want := range c.says {
				if !p.StderrHas(want) {
					t.Errorf("stderr does not say %q:\n%s", want, p.Stderr())
				}
			}
			if string(now) != string(orig) {
				t.Errorf("the config changed:\n%s", now)
			}
		})
	}
	e.fake.ScriptLinking()
}

// TestConnectWriteRefusesASecondLinkOfALinkedBank: connect --write run a
// second time for a bank the config already links (the first run thought
// to have failed, or an expired requisition re-linked without
// --reconnect) would add a requisition whose accounts are the same ones
// under new ids: every read would read them twice. It exits 2 before
// anything is created at GoCardless, naming the requisition and the two
// ways on (--reconnect, or without --write); the config is unchanged.
func TestConnectWriteRefusesASecondLinkOfALinkedBank(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	cfg := e.configFile()
	p := st.Start(t, e.bin, "connect", "--no-open", "--timeout", "30s", "--config", cfg, "--country", "EE", "--search", "lhv", "--write")
	resp, err := http.PostForm(p.WaitLine(st.OpenURL)[1], url.Values{"action": {"approve"}, "account": {"0", "1"}})
	st.Must(t, err, "consent at the bank")
	resp.Body.Close()
	if _, code := p.Wait(); code != 0 {
		t.Fatalf("first connect exited %d: %s", code, p.Stderr())
	}
	first := parseResult(t, p)
	orig, _ := os.ReadFile(cfg)
	agreements := e.fake.Stats().Count(fake.RouteCreateAgreement)

	for _, args := range [][]string{
		{"--country", "EE", "--search", "lhv"},
		{"--institution", "LHV_LHVBEE22"},
		{"--institution", "ING_INGDDEFF"}, // a bank the fake's seeded requisitions link
	} {
		o, se, code := st.Exec(t, e.bin, append(append([]string{"connect", "--no-open", "--config", cfg, "--write"}, args...), "--timeout", "3s")...)
		out, stderr := string(o), string(se)
		if code != 2 || out != "" {
			t.Errorf("connect --write %v a second time: exit %d, stdout %q, want 2 and nothing\nstderr: %s", args, code, out, stderr)
		}
		want := []string{"already links", "--reconnect", "without --write", "read them twice"}
		if args[1] != "ING_INGDDEFF" {
			want = append(want, first.RequisitionID, "LHV Pank", "status LN, linked")
		}
		for _, w := range want {
			if !strings.Contains(stderr, w) {
				t.Errorf("connect --write %v a second time: stderr does not say %q:\n%s", args, w, stderr)
			}
		}
		e.noSecretsIn("stderr", stderr)
	}
	if n := e.fake.Stats().Count(fake.RouteCreateAgreement); n != agreements {
		t.Errorf("the refused runs created %d end-user agreements", n-agreements)
	}
	if now, _ := os.ReadFile(cfg); string(now) != string(orig) {
		t.Errorf("the config changed:\n%s", now)
	}
}

// TestConnectWriteAddsTheAccountsToAccountIDs: a config that reads only
// the accounts in account_ids would not read the accounts of a bank
// connect --write links: it added the requisition alone, and the next
// read passed its accounts over without a word. Their ids are added too,
// and stderr says so.
func TestConnectWriteAddsTheAccountsToAccountIDs(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	only := e.fake.AccountIDs(e.fake.RequisitionIDs()[0])[:1]
	cfg := e.config(map[string]any{"account_ids": only})
	p := st.Start(t, e.bin, "connect", "--no-open", "--timeout", "30s", "--config", cfg, "--institution", "LHV_LHVBEE22", "--write")
	resp, err := http.PostForm(p.WaitLine(st.OpenURL)[1], url.Values{"action": {"approve"}, "account": {"0", "1"}})
	st.Must(t, err, "consent at the bank")
	resp.Body.Close()
	if _, code := p.Wait(); code != 0 {
		t.Fatalf("connect exited %d: %s", code, p.Stderr())
	}
	r := parseResult(t, p)
	raw, err := os.ReadFile(cfg)
	st.Must(t, err, "config after --write")
	var written struct {
		AccountIDs []string `json:"account_ids"`
	}
	st.Must(t, json.Unmarshal(raw, &written), "config after --write")
	want := append([]string{}, only...)
	for _, a := range r.Accounts {
		want = append(want, a.ID)
	}
	if len(r.Accounts) != 2 || !slices.Equal(written.AccountIDs, want) {
		t.Errorf("account_ids after --write: %v, want %v", written.AccountIDs, want)
	}
	if !p.StderrHas("account_ids") {
		t.Errorf("stderr does not say the accounts were added to account_ids:\n%s", p.Stderr())
	}
}

// consent runs connect with args and approves at the fake bank's consent
// page with form (which accounts: "account" indexes, "new" for a new one),
// as the browser would post it; it fails the test unless connect exits 0.
func (e *env) consent(form url.Values, args ...string) *st.Process {
	e.t.Helper()
	p := st.Start(e.t, e.bin, append([]string{"connect", "--no-open", "--timeout", "30s"}, args...)...)
	form.Set("action", "approve")
	resp, err := http.PostForm(p.WaitLine(st.OpenURL)[1], form)
	st.Must(e.t, err, "consent at the bank")
	resp.Body.Close()
	if _, code := p.Wait(); code != 0 {
		e.t.Fatalf("connect %v exited %d: %s", args, code, p.Stderr())
	}
	return p
}

// TestReconnectWriteKeepsAccountIDsInStep: connect --reconnect --write on
// a config that reads only the accounts in account_ids. A matched account
// takes its old one's place there (or stays out with it); a new account
// that matches no old one is added, as a plain --write adds a new link's
// accounts, unless it may be an old account account_ids leaves out (no
// IBAN, masked PAN or currency tells them apart): then it is left out, and
// stderr names it and how to add it. An old account listed there that no
// new account continues leaves account_ids with its requisition. The
// reconnect used to rename the matched ids alone: a new account was passed
// over without a word, and a listed old account left behind failed every
// later read (it is in no configured requisition).
func TestReconnectWriteKeepsAccountIDsInStep(t *testing.T) {
	type outcome struct{ ids, stderr []string }
	for _, c := range []struct {
		name string
		// listed are the indexes of the old accounts in account_ids;
		// granted, those the user grants again; new: and a new account.
		listed, granted []string
		new             bool
		// want builds the expected account_ids from the old ids, the
		// result's mapping (old id → new id) and its unmatched new ids.
		want func(old []string, to map[string]string, fresh []string) outcome
	}{{
		name: "new account added, excluded one stays out", listed: []string{"0"}, granted: []string{"0", "1"}, new: true,
		want: func(old []string, to map[string]string, fresh []string) outcome {
			return outcome{[]string{to[old[0]], fresh[0]}, []string{"Added new account " + fresh[0]}}
		},
	}, {
		name: "listed account not granted again leaves", listed: []string{"0", "1"}, granted: []string{"1"}, new: true,
		want: func(old []string, to map[string]string, fresh []string) outcome {
			return outcome{[]string{to[old[1]], fresh[0]}, []string{"Removed old account " + old[0], "Added new account " + fresh[0]}}
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 30})
			old := e.fake.RequisitionIDs()[0]
			oldAccounts := e.fake.AccountIDs(old)
			var listed []string
			for _, i := range c.listed {
				listed = append(listed, oldAccounts[map[string]int{"0": 0, "1": 1}[i]])
			}
			e.cfg["account_ids"] = listed
			state := e.read(e.catalog(true, "accounts", "transactions")).StateFile(t)
			e.fake.ExpireRequisition(old)

			cfg := e.config(nil)
			form := url.Values{"account": c.granted}
			if c.new {
				form.Set("new", "1")
			}
			p := e.consent(form, "--config", cfg, "--reconnect", old, "--state", state, "--write")
			r := parseResult(t, p)
			to := map[string]string{}
			for _, m := range r.Reconnect.Mapping {
				to[m.Old] = m.New
			}
			want := c.want(oldAccounts, to, r.Reconnect.UnmatchedNew)
			var written struct {
				RequisitionIDs []string `json:"requisition_ids"`
				AccountIDs     []string `json:"account_ids"`
			}
			raw, err := os.ReadFile(cfg)
			st.Must(t, err, "config after --write")
			st.Must(t, json.Unmarshal(raw, &written), "config after --write")
			if !slices.Equal(written.AccountIDs, want.ids) {
				t.Errorf("account_ids after --reconnect --write: %v, want %v (mapping %v, unmatched new %v)\nstderr: %s", written.AccountIDs, want.ids, to, r.Reconnect.UnmatchedNew, p.Stderr())
			}
			for _, w := range want.stderr {
				if !p.StderrHas(w) {
					t.Errorf("stderr does not say %q:\n%s", w, p.Stderr())
				}
			}

			e.cfg["requisition_ids"], e.cfg["account_ids"] = written.RequisitionIDs, written.AccountIDs
			next := e.run(e.catalog(true, "accounts", "transactions"), nil, "--state", state)
			if next.Code != 0 {
				t.Fatalf("the read after --reconnect --write exited %d: %v", next.Code, next.ErrorTraces())
			}
			read := map[string]bool{}
			for _, raw := range next.Records()["accounts"] {
				var a struct {
					ID string `json:"id"`
				}
				st.Must(t, json.Unmarshal(raw, &a), "accounts record")
				read[a.ID] = true
			}
			for _, id := range want.ids {
				if !read[id] {
					t.Errorf("the read after --reconnect --write did not read account %s (read %v)", id, read)
				}
			}
			if len(read) != len(want.ids) {
				t.Errorf("the read after --reconnect --write read accounts %v, want %v", read, want.ids)
			}
		})
	}
}

// TestReconnectWriteLeavesOutANewAccountThatMayBeAnExcludedOne: a card
// account_ids leaves out has no IBAN, and no details in the state (reads
// pass it over), so the new card matches no old account, yet may be it:
// --reconnect --write does not add it (a read of an account the user
// excluded), and stderr names it, the old card and how to add it.
func TestReconnectWriteLeavesOutANewAccountThatMayBeAnExcludedOne(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 10})
	first := parseResult(t, e.consent(url.Values{"account": {"0", "1"}}, "--config", e.config(nil), "--institution", "LHV_LHVBEE22"))
	current, card := first.Accounts[0].ID, first.Accounts[1].ID
	e.cfg["requisition_ids"], e.cfg["account_ids"] = []string{first.RequisitionID}, []string{current}
	state := e.read(e.catalog(true, "accounts")).StateFile(t)
	e.fake.ExpireRequisition(first.RequisitionID)

	cfg := e.config(nil)
	p := e.consent(url.Values{"account": {"0", "1"}}, "--config", cfg, "--reconnect", first.RequisitionID, "--state", state, "--write")
	rc := parseResult(t, p).Reconnect
	if len(rc.Mapping) != 1 || rc.Mapping[0].Old != current || len(rc.UnmatchedNew) != 1 {
		t.Fatalf("reconnect %+v, want the current account matched and the new card unmatched", rc)
	}
	newCard := rc.UnmatchedNew[0]
	var written struct {
		AccountIDs []string `json:"account_ids"`
	}
	raw, err := os.ReadFile(cfg)
	st.Must(t, err, "config after --write")
	st.Must(t, json.Unmarshal(raw, &written), "config after --write")
	if want := []string{rc.Mapping[0].New}; !slices.Equal(written.AccountIDs, want) {
		t.Errorf("account_ids after --reconnect --write: %v, want %v", written.AccountIDs, want)
	}
	for _, w := range []string{"New account " + newCard, "may be old account " + card, "NOT added", "add " + newCard + " to account_ids"} {
		if !p.StderrHas(w) {
			t.Errorf("stderr does not say %q:\n%s", w, p.Stderr())
		}
	}
}

// TestReconnectWriteStateChoices: --reconnect --write carries the state
// over only through --state, so it is refused without one (exit 2, in
// TestConnectBadFlagsCostNoAPICall): once the requisition is replaced,
// nothing can move it any more, and the next read read every account's
// whole history again under its new id. Reads that keep no state say so
// with --no-state. With --state, stderr says the next read must start from
// the moved file: reads whose state is kept elsewhere (--postgres) would
// otherwise start from theirs, which names the old ids.
func TestReconnectWriteStateChoices(t *testing.T) {
	for _, noState := range []bool{true, false} {
		e := newEnv(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 5})
		old := e.fake.RequisitionIDs()[0]
		state := e.read(e.catalog(true, "transactions")).StateFile(t)
		e.fake.ExpireRequisition(old)
		cfg := e.config(nil)
		args := []string{"--config", cfg, "--reconnect", old, "--write", "--state", state}
		if noState {
			args = []string{"--config", cfg, "--reconnect", old, "--write", "--no-state"}
		}
		p := e.consent(url.Values{"account": {"0", "1"}}, args...)
		r := parseResult(t, p)
		var written struct {
			RequisitionIDs []string `json:"requisition_ids"`
		}
		raw, err := os.ReadFile(cfg)
		st.Must(t, err, "config after --write")
		st.Must(t, json.Unmarshal(raw, &written), "config after --write")
		if !slices.Equal(written.RequisitionIDs, []string{r.RequisitionID}) {
			t.Errorf("%v: requisition_ids %v, want [%s]", args, written.RequisitionIDs, r.RequisitionID)
		}
		if moved := p.StderrHas("Moved the state"); moved == noState {
			t.Errorf("%v: stderr says it moved the state: %v\n%s", args, moved, p.Stderr())
		}
		if !noState && !p.StderrHas("give that read --state "+state) {
			t.Errorf("stderr does not say the next read must take --state %s:\n%s", state, p.Stderr())
		}
	}
}

// TestReconnectWaitsForTheReadHoldingTheState: a read of --state-file
// rewrites the file at every checkpoint with the state it holds, the old
// account ids included, so one running while connect --reconnect --write
// moved the file put the old ids back, and the next read read every
// account's history again under its new id. connect takes the file's lock
// (the one reads take, FILE.lock) before any API call: while a read holds
// it, connect exits 1 naming that read, and nothing is created.
//
// The lock is the file's, whatever path names it: the cron job reads the
// state in its volume, the user gives connect the link to it in their home
// (state.json -> volume/state.json). connect locked the link's
// state.json.lock where the read locked volume/state.json.lock, went on
// while the read ran, and its moved state was overwritten at the read's
// next checkpoint. Once the read is done, connect through the link moves
// the state in the file the link names, and the link stays one.
func TestReconnectWaitsForTheReadHoldingTheState(t *testing.T) {
	for _, viaLink := range []bool{false, true} {
		name := "file"
		if viaLink {
			name = "link"
		}
		t.Run(name, func(t *testing.T) {
			e, hold, entered, release := newEnvHoldingTransactions(t)
			old := e.fake.RequisitionIDs()[0]
			dir := t.TempDir()
			state := filepath.Join(dir, "state.json") // the read's
			given := state                            // connect's --state
			if viaLink {
				st.Must(t, os.Mkdir(filepath.Join(dir, "volume"), 0o700), "volume")
				state = filepath.Join(dir, "volume", "state.json")
				given = filepath.Join(dir, "state.json")
				st.Must(t, os.Symlink(filepath.Join("volume", "state.json"), given), "symlink")
			}
			cat := e.catalog(true, "transactions")
			e.read(cat, "--state-file", state)
			e.fake.ExpireRequisition(old)

			hold.Store(true)
			reading := st.Start(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--state-file", state)
			select {
			case <-entered:
			case <-time.After(30 * time.Second):
				t.Fatalf("the read never called transactions: %s", reading.Stderr())
			}
			e.fake.ResetStats()
			_, stderr, code := st.Exec(t, e.bin, "connect", "--no-open", "--timeout", "5s", "--config", e.config(nil), "--reconnect", old, "--state", given, "--write")
			close(release)
			hold.Store(false)
			reading.Wait()
			if code != 1 || !strings.Contains(string(stderr), "--state "+given+" is in use by a read") || !strings.Contains(string(stderr), "lock file "+state+".lock") {
				t.Errorf("connect --reconnect --write while a read holds the state: exit %d, stderr:\n%s\nwant 1, the read and the lock file %s.lock named", code, stderr, state)
			}
			if n := e.fake.Stats().Count(fake.RouteCreateAgreement); n != 0 {
				t.Errorf("connect created %d end-user agreement(s) while a read held the state", n)
			}
			if !viaLink {
				return
			}
			cfg := e.config(nil)
			r := parseResult(t, e.consent(url.Values{"account": {"0", "1"}}, "--config", cfg, "--reconnect", old, "--state", given, "--write"))
			if fi, err := os.Lstat(given); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Fatalf("connect replaced the link %s by a file (%v, %v)", given, fi.Mode(), err)
			}
			raw, err := os.ReadFile(state)
			st.Must(t, err, "the linked state file")
			if r.Reconnect == nil || len(r.Reconnect.Mapping) != 2 || !strings.Contains(string(raw), r.Reconnect.Mapping[0].New) {
				t.Errorf("the file the link names does not hold the moved state (mapping %+v):\n%.1500s", r.Reconnect, raw)
			}
		})
	}
}

// TestReconnectKeepsTheStateFilesShape: Meltano keeps a tap's state as
// {"singer_state": {"bookmarks": …}} (meltano state get prints it, state
// set takes it back), and --reconnect --state rewrote such a file as an
// array of Airbyte STREAM states, which Meltano does not take back. The
// moved state keeps the shape it came in, Meltano's, the tap's bookmarks
// or a Singer STATE message; the next read continues from it.
func TestReconnectKeepsTheStateFilesShape(t *testing.T) {
	for _, c := range []struct {
		name string
		wrap func(bookmarks map[string]json.RawMessage) any
		// moved picks the bookmarks out of the rewritten file.
		moved func(raw []byte) (map[string]json.RawMessage, error)
	}{{
		name: "meltano",
		wrap: func(b map[string]json.RawMessage) any {
			return map[string]any{"singer_state": map[string]any{"bookmarks": b, "currently_syncing": nil}}
		},
		moved: func(raw []byte) (map[string]json.RawMessage, error) {
			var v struct {
				SingerState struct {
					Bookmarks map[string]json.RawMessage `json:"bookmarks"`
				} `json:"singer_state"`
			}
			err := json.Unmarshal(raw, &v)
			return v.SingerState.Bookmarks, err
		},
	}, {
		name: "bookmarks",
		wrap: func(b map[string]json.RawMessage) any { return map[string]any{"bookmarks": b} },
		moved: func(raw []byte) (map[string]json.RawMessage, error) {
			var v struct {
				Bookmarks map[string]json.RawMessage `json:"bookmarks"`
			}
			err := json.Unmarshal(raw, &v)
			return v.Bookmarks, err
		},
	}, {
		name: "singer STATE message",
		wrap: func(b map[string]json.RawMessage) any {
			return map[string]any{"type": "STATE", "value": map[string]any{"bookmarks": b}}
		},
		moved: func(raw []byte) (map[string]json.RawMessage, error) {
			var v struct {
				Type  string `json:"type"`
				Value struct {
					Bookmarks map[string]json.RawMessage `json:"bookmarks"`
				} `json:"value"`
			}
			err := json.Unmarshal(raw, &v)
			if err == nil && v.Type != "STATE" {
				err = errors.New("not a STATE message")
			}
			return v.Value.Bookmarks, err
		},
	}, {
		// What Airbyte's UI shows under Connection state, and takes back.
		name: "airbyte connection state",
		wrap: func(b map[string]json.RawMessage) any {
			var out []any
			for _, name := range slices.Sorted(maps.Keys(b)) {
				out = append(out, map[string]any{"streamDescriptor": map[string]any{"name": name}, "streamState": b[name]})
			}
			return out
		},
		moved: func(raw []byte) (map[string]json.RawMessage, error) {
			var v []struct {
				StreamDescriptor struct {
					Name string `json:"name"`
				} `json:"streamDescriptor"`
				StreamState json.RawMessage `json:"streamState"`
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
			out := map[string]json.RawMessage{}
			for _, s := range v {
				out[s.StreamDescriptor.Name] = s.StreamState
			}
			return out, nil
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fake.Options{Requisitions: 1, TransactionsPerAccount: 40})
			old := e.fake.RequisitionIDs()[0]
			oldAccount := e.fake.AccountIDs(old)[0]
			cat := e.catalog(true, "transactions")
			first := e.read(cat)
			raw, err := json.Marshal(c.wrap(first.FinalStates()))
			st.Must(t, err, "state")
			state := filepath.Join(t.TempDir(), "state.json")
			st.Must(t, os.WriteFile(state, raw, 0o600), "state")
			e.fake.ExpireRequisition(old)

			cfg := e.config(nil)
			r := parseResult(t, e.consent(url.Values{"account": {"0", "1"}}, "--config", cfg, "--reconnect", old, "--state", state, "--write"))
			moved, err := os.ReadFile(state)
			st.Must(t, err, "moved state")
			bookmarks, err := c.moved(moved)
			if err != nil || bookmarks["transactions"] == nil {
				t.Fatalf("the moved state lost the shape it came in (%v):\n%.600s", err, moved)
			}
			if tx := string(bookmarks["transactions"]); strings.Contains(tx, `"`+oldAccount+`":`) || !strings.Contains(tx, r.Reconnect.Mapping[0].New) {
				t.Errorf("transactions bookmark not moved to the new ids:\n%.600s", tx)
			}
			e.cfg["requisition_ids"] = []string{r.RequisitionID}
			next := e.read(cat, "--state", state)
			if n1, n2 := len(first.Records()["transactions"]), len(next.Records()["transactions"]); n2 == 0 || 2*n2 > n1 {
				t.Errorf("the read after --reconnect took %d rows of the %d the first took: it did not continue from the moved state", n2, n1)
			}
		})
	}
}
