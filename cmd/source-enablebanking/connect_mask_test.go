package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectMasksAccountIdentifiers: connect's result line (stdout) and
// its progress lines (stderr) end up in terminals, logs and CI output, so
// they never hold an account's full IBAN, BBAN or PAN: the result says
// each IBAN masked but for its last 4 characters, as GoCardless's connect
// does. The written config holds the session id and none of them. The
// identifiers are the ones the fake serves for the new session's accounts,
// read back through the binary (the accounts stream). The bank's page is
// posted with net/http, as in TestConnectCodeExchangeRefused.
func TestConnectMasksAccountIdentifiers(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	cfg := e.connectConfig(nil)
	out, stderr := e.authoriseAtNordea(cfg, "--write")
	var res struct {
		SessionID string `json:"session_id"`
		Accounts  []struct {
			UID  string `json:"uid"`
			IBAN string `json:"iban"`
		} `json:"accounts"`
	}
	st.Must(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &res), "result line")

	// The new session's identifiers, as the bank gives them.
	e.cfg["session_ids"] = []string{res.SessionID}
	ibans := map[string]string{} // uid -> IBAN
	var ids []string
	for _, raw := range e.read(e.catalog(false, "accounts")).Records()["accounts"] {
		var a struct {
			UID       string `json:"uid"`
			Holder    string `json:"name"` // the holder's name(s)
			AccountID struct {
				IBAN  string `json:"iban"`
				Other struct {
					Identification string `json:"identification"`
				} `json:"other"`
			} `json:"account_id"`
			All []struct {
				Identification string `json:"identification"`
			} `json:"all_account_ids"`
		}
		st.Must(t, json.Unmarshal(raw, &a), "accounts record")
		if a.AccountID.IBAN != "" {
			ibans[a.UID] = a.AccountID.IBAN
		}
		ids = append(ids, a.AccountID.IBAN, a.AccountID.Other.Identification, a.Holder)
		for _, x := range a.All {
			ids = append(ids, x.Identification)
		}
	}
	if len(ibans) == 0 || len(res.Accounts) != 2 {
		t.Fatalf("the fake's new session has accounts %v with IBANs %v; want two, one with an IBAN", res.Accounts, ibans)
	}

	written := string(e.mustRead(cfg))
	if !strings.Contains(written, res.SessionID) {
		t.Errorf("--write did not add session %s", res.SessionID)
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		if len(id) <= 4 {
			continue
		}
		for name, text := range map[string]string{"stdout": out, "stderr": stderr, "the written config": written} {
			if strings.Contains(text, id) {
				t.Errorf("%s holds the full account identifier or holder name %s:\n%s", name, id, text)
			}
		}
	}
	for _, a := range res.Accounts {
		iban, ok := ibans[a.UID]
		if !ok {
			if a.IBAN != "" {
				t.Errorf("account %s has no IBAN at the bank, but the result says %q", a.UID, a.IBAN)
			}
			continue
		}
		if want := strings.Repeat("*", len(iban)-4) + iban[len(iban)-4:]; a.IBAN != want {
			t.Errorf("account %s: iban %q, want %q (masked but for the last 4)", a.UID, a.IBAN, want)
		}
	}
}

// authoriseAtNordea runs connect for Nordea FI with config cfg and extra
// flags, posts the authorisation at the fake bank's page (net/http, no
// browser) and returns connect's stdout and stderr; it fails the test
// unless connect exits 0.
func (e *env) authoriseAtNordea(cfg string, extra ...string) (stdout, stderr string) {
	e.t.Helper()
	return e.authoriseAtNordeaWith(url.Values{}, cfg, extra...)
}

// authoriseAtNordeaWith is authoriseAtNordea posting form beside the
// decision (leave=N: the holder does not authorise the Nth account of the
// session being re-authorised again).
func (e *env) authoriseAtNordeaWith(form url.Values, cfg string, extra ...string) (stdout, stderr string) {
	e.t.Helper()
	p := st.Start(e.t, e.bin, append([]string{"connect", "--config", cfg, "--country", "FI", "--aspsp", "nordea", "--no-open"}, extra...)...)
	bankPage := p.WaitLine(st.OpenURL)[1]
	form.Set("decision", "authorise")
	resp, err := http.PostForm(bankPage, form)
	st.Must(e.t, err, "consent at the bank")
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	out, code := p.Wait()
	if code != 0 {
		e.t.Fatalf("connect exited %d\nstdout: %s\nstderr: %s", code, out, p.Stderr())
	}
	return out, p.Stderr()
}
