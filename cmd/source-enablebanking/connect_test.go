package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source/browsertest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests run `source-enablebanking connect` as a user would, against
// the fake Enable Banking API, and drive the bank's page in a real headless
// Chromium: the ASPSP list, POST /auth with the local redirect, the bank's
// consent page, the redirect back with code and state, POST /sessions, the
// result line and --write.

func (e *env) connectConfig(over map[string]any) string {
	p := e.config(over)
	st.Must(e.t, os.Chmod(p, 0o600), "chmod")
	return p
}

func TestConnectInBrowser(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 10})
	cfg := e.connectConfig(nil)
	before := e.fake.SessionIDs()
	b := browsertest.New(t)

	p := st.Start(t, e.bin, "connect", "--config", cfg, "--country", "se", "--search", "swed", "--no-open", "--write")
	url := p.WaitLine(st.OpenURL)[1]
	b.Navigate(url)
	b.WaitVisible("#authorise")
	b.Click("#authorise")
	b.WaitVisible("#status")
	if !strings.Contains(b.Text("#status"), "Authorised") {
		t.Errorf("callback page says %q", b.Text("#status"))
	}
	out, code := p.Wait()
	if code != 0 {
		t.Fatalf("connect exited %d\nstdout: %s\nstderr: %s", code, out, p.Stderr())
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout must be one JSON line, got %q", out)
	}
	var res struct {
		SessionID string `json:"session_id"`
		ASPSP     struct {
			Name, Country string
		} `json:"aspsp"`
		ValidUntil string `json:"valid_until"`
		Accounts   []struct {
			UID  string `json:"uid"`
			Hash string `json:"identification_hash"`
		} `json:"accounts"`
	}
	st.Must(t, json.Unmarshal([]byte(lines[0]), &res), "result line")
	after := e.fake.SessionIDs()
	if slices.Contains(before, res.SessionID) || !slices.Contains(after, res.SessionID) {
		t.Fatalf("session_id %s is not the session the flow created (before %v, after %v)", res.SessionID, before, after)
	}
	if res.ASPSP.Name != "Swedbank" || res.ASPSP.Country != "SE" || len(res.Accounts) != 2 || res.Accounts[0].Hash == "" || res.ValidUntil == "" {
		t.Errorf("result %s", lines[0])
	}

	// --write added the session and kept the rest, and the file's mode.
	raw, _ := os.ReadFile(cfg)
	var written map[string]any
	st.Must(t, json.Unmarshal(raw, &written), "config after --write")
	ids, _ := written["session_ids"].([]any)
	if len(ids) != 2 || ids[0] != before[0] || ids[1] != res.SessionID {
		t.Errorf("session_ids after --write: %v", written["session_ids"])
	}
	if written["private_key"] != e.fake.PrivateKeyPEM() || written["base_url"] != e.srv.URL {
		t.Error("--write lost other fields")
	}
	if info, _ := os.Stat(cfg); info.Mode().Perm() != 0o600 {
		t.Errorf("--write changed the mode to %v", info.Mode().Perm())
	}
	// Nothing the browser sent, nor stderr, carried the key or a token.
	for _, r := range b.Requests() {
		hdr, _ := json.Marshal(r.Headers)
		text := r.URL + string(hdr) + r.Body
		if jwtPattern.MatchString(text) || strings.Contains(text, "PRIVATE KEY") {
			t.Errorf("a browser request to %s carried a credential", r.URL)
		}
	}
	if jwtPattern.MatchString(p.Stderr()) {
		t.Error("stderr holds a token")
	}

	// The written config works: check passes and a read reads the new
	// session's accounts.
	if cs := st.Check(t, e.bin, cfg); cs.Status != protocol.StatusSucceeded {
		t.Errorf("check of the written config: %s %s", cs.Status, cs.Message)
	}
	e.cfg["session_ids"] = ids
	r := e.read(e.catalog(false, "transactions"))
	if n := len(byUID(t, r.Records()["transactions"])[res.Accounts[0].UID]); n == 0 {
		t.Error("the new session's account was not read")
	}
}

func TestConnectDeniedAndBadFlags(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	cfg := e.connectConfig(nil)
	orig := e.mustRead(cfg)
	b := browsertest.New(t)
	p := st.Start(t, e.bin, "connect", "--config", cfg, "--country", "FI", "--aspsp", "nordea", "--no-open", "--write")
	open := p.WaitLine(regexp.MustCompile(`^Open (\S+) .* back to (\S+)$`))
	// Callbacks without this run's state (forged, or a bank tab of an
	// earlier run on the same port) are refused with what to do, and do
	// not end the run.
	for _, q := range []string{"?code=x", "?state=guessed&code=x", "?state=guessed&error=access_denied"} {
		resp, err := http.Get(open[2] + q)
		st.Must(t, err, "forged callback")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "run connect again") {
			t.Errorf("callback %s: %d %s, want 400 saying what to do", q, resp.StatusCode, body)
		}
	}
	b.Navigate(open[1])
	b.Click("#deny")
	out, code := p.Wait()
	// The message says what became of it and what to do.
	if code != 1 || out != "" || !p.StderrHas("did not authorise") || !p.StderrHas("nothing was written: run connect again") {
		t.Fatalf("denied: exit %d, stdout %q, stderr %s", code, out, p.Stderr())
	}
	if got := b.Text("#status"); !strings.Contains(got, "access_denied") || strings.Contains(got, "Authorised") {
		t.Errorf("the callback page of a denial says %q", got)
	}
	if string(e.mustRead(cfg)) != string(orig) {
		t.Error("a denied connect changed the config")
	}

	for _, c := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"--aspsp", "Nordea"}, 2, "--country"},
		{[]string{"--country", "FI", "--aspsp", "No Such Bank"}, 2, "no bank in FI is named"},
		{[]string{"--country", "FI", "--aspsp", "x", "--search", "y"}, 2, "both given"},
		{[]string{"--country", "DE", "--search", "zzz"}, 2, "no bank in DE matches"},
		{[]string{"--country", "FI", "--aspsp", "Nordea", "--listen", "0.0.0.0:0"}, 2, "loopback"},
	} {
		stdout, stderr, code := st.Exec(t, e.bin, append([]string{"connect", "--config", cfg, "--no-open"}, c.args...)...)
		if code != c.code || !strings.Contains(string(stderr), c.say) || len(stdout) != 0 {
			t.Errorf("connect %v: exit %d, stderr %s", c.args, code, stderr)
		}
	}
}

// TestConnectCodeExchangeRefused: the bank sends the browser back with a
// code, but POST /sessions refuses it: expired (the user took too long),
// already exchanged (a reloaded callback) or unknown. connect exits 1
// naming the code and telling to run connect again, prints no result and
// writes nothing; the callback page says the same (it once said
// "Authorised" before the exchange), without a secret. The bank's page is
// posted with net/http (no browser): its redirect leads the client to the
// command's callback like a browser.
func TestConnectCodeExchangeRefused(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	cfg := e.connectConfig(nil)
	orig := e.mustRead(cfg)
	for _, c := range []struct {
		status int
		code   string
		says   string
	}{
		{400, "EXPIRED_AUTHORIZATION_CODE", "took too long"},
		{422, "ALREADY_AUTHORIZED", "exchanged already"},
		{400, "WRONG_AUTHORIZATION_CODE", "does not know the code"},
	} {
		t.Run(c.code, func(t *testing.T) {
			before := e.fake.SessionIDs()
			p := st.Start(t, e.bin, "connect", "--config", cfg, "--country", "FI", "--aspsp", "nordea", "--no-open", "--write")
			bankPage := p.WaitLine(st.OpenURL)[1]
			e.fake.FailNextCodeExchange(c.status, c.code)
			resp, err := http.PostForm(bankPage, url.Values{"decision": {"authorise"}})
			st.Must(t, err, "consent at the bank")
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(resp.Request.URL.Path, "/enablebanking/callback") {
				t.Fatalf("the bank's redirect ended at %s: %s", resp.Request.URL, page)
			}
			if strings.Contains(string(page), "Authorised") {
				t.Errorf("the callback page claims success though the exchange failed:\n%s", page)
			}
			for _, want := range []string{"Not connected", c.code, "run connect again"} {
				if !strings.Contains(string(page), want) {
					t.Errorf("the callback page does not say %q:\n%s", want, page)
				}
			}
			if jwtPattern.Match(page) || strings.Contains(string(page), "PRIVATE KEY") {
				t.Error("the callback page holds a credential")
			}
			out, code := p.Wait()
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q, want 1 and nothing\nstderr: %s", code, out, p.Stderr())
			}
			for _, want := range []string{c.code, c.says, "run connect again", "nothing was written"} {
				if !p.StderrHas(want) {
					t.Errorf("stderr does not say %q:\n%s", want, p.Stderr())
				}
			}
			if jwtPattern.MatchString(p.Stderr()) {
				t.Error("stderr holds a token")
			}
			if string(e.mustRead(cfg)) != string(orig) {
				t.Error("a refused code exchange changed the config")
			}
			if after := e.fake.SessionIDs(); len(after) != len(before) {
				t.Errorf("sessions %v after a refused exchange, want %v", after, before)
			}
		})
	}
}

// TestConnectWrongApplication: keys Enable Banking refuses (another
// application's id) end connect with exit 1 naming application_id and
// private_key. The client's re-signing after the 401 logs a line, which
// once crashed connect with a nil logger.
func TestConnectWrongApplication(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	cfg := e.connectConfig(map[string]any{"application_id": "00000000-0000-4000-8000-000000000000"})
	stdout, stderr, code := st.Exec(t, e.bin, "connect", "--config", cfg, "--country", "FI", "--aspsp", "Nordea", "--no-open")
	if code != 1 || len(stdout) != 0 || strings.Contains(string(stderr), "crashed") ||
		!strings.Contains(string(stderr), "application_id") || !strings.Contains(string(stderr), "private_key") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 1 naming application_id and private_key", code, stdout, stderr)
	}
	if jwtPattern.Match(stderr) || strings.Contains(string(stderr), "PRIVATE KEY") {
		t.Error("stderr holds a credential")
	}
}

func (e *env) mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	st.Must(e.t, err, "read")
	return b
}

// TestConnectDaysBeyondTheBanksMaximum: --days is at most the bank's
// maximum, however large: a million days once overflowed into a
// valid_until in the past, which Enable Banking refused with a message
// blaming the connector.
func TestConnectDaysBeyondTheBanksMaximum(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 5})
	for _, days := range []string{"1000", "1000000"} {
		out, _ := e.authoriseAtNordea(e.connectConfig(nil), "--days", days)
		if !strings.Contains(out, `"session_id"`) {
			t.Errorf("--days %s: stdout %q", days, out)
		}
	}
}

// TestConnectCodeEchoedIsMasked: a refusal of POST /sessions that quotes
// the request back (an API front end echoing its body, raw and base64)
// does not get the authorisation code printed, on stderr or on the
// callback page: the code is a credential until it is exchanged. It was
// printed in clear in both.
func TestConnectCodeEchoedIsMasked(t *testing.T) {
	var seen sync.Map
	e := newAttackedEnv(t, fake.Options{Sessions: 1}, false, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != "/sessions" {
				h.ServeHTTP(w, r)
				return
			}
			var body struct {
				Code string `json:"code"`
			}
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &body)
			seen.Store(body.Code, true)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"message":"could not exchange code %s (request %s, %s)","error":"UPSTREAM"}`,
				body.Code, strings.ReplaceAll(string(b), `"`, `\"`), base64.StdEncoding.EncodeToString(b))
		})
	})
	cfg := e.connectConfig(nil)
	p := st.Start(t, e.bin, "connect", "--config", cfg, "--country", "FI", "--aspsp", "nordea", "--no-open", "--write")
	bankPage := p.WaitLine(st.OpenURL)[1]
	resp, err := http.PostForm(bankPage, url.Values{"decision": {"authorise"}})
	st.Must(t, err, "consent at the bank")
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out, code := p.Wait()
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q, want 1 and nothing\nstderr: %s", code, out, p.Stderr())
	}
	if !p.StderrHas("could not exchange code") {
		t.Fatalf("the echo was not reached:\n%s", p.Stderr())
	}
	n := 0
	seen.Range(func(k, _ any) bool {
		n++
		for where, text := range map[string]string{"stderr": p.Stderr(), "the callback page": string(page)} {
			if strings.Contains(text, k.(string)) {
				t.Errorf("%s holds the authorisation code %s:\n%s", where, k, text)
			}
		}
		return true
	})
	if n == 0 {
		t.Fatal("no code was exchanged")
	}
}
