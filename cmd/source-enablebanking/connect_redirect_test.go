package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// freePort is a loopback port nothing listens on (just now).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	st.Must(t, err, "listen")
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	st.Must(t, ln.Close(), "close")
	return port
}

// TestConnectRedirectRefused: Enable Banking takes only the redirect URLs
// registered with the application, and answers any other POST /auth with
// 400 REDIRECT_URI_NOT_ALLOWED (the reference, §1); some applications may
// take only https ones (UNCERTAIN). The fake registers a list
// (Options.RedirectURLs). connect, whose redirect is its own loopback
// server, exits 1 naming the redirect it sent, the refusal and the fix
// the application's registered URLs point to (the --listen that makes
// connect send a registered one; for an https-only list, the http URL to
// register), prints no result and writes nothing; with that --listen it
// authorises.
func TestConnectRedirectRefused(t *testing.T) {
	port := freePort(t)
	registered := "http://127.0.0.1:" + port + "/enablebanking/callback"
	sent := regexp.MustCompile(`http://127\.0\.0\.1:(\d+)/enablebanking/callback`)
	for _, c := range []struct {
		name       string
		registered []string
		says       []string
	}{
		{"another port registered", []string{"https://example.com/callback", registered}, []string{"REDIRECT_URI_NOT_ALLOWED", registered, "--listen 127.0.0.1:" + port}},
		{"https only", []string{"https://127.0.0.1:" + port + "/enablebanking/callback"}, []string{"REDIRECT_URI_NOT_ALLOWED", "https", "plain http", "register http://127.0.0.1:PORT/enablebanking/callback", "--listen 127.0.0.1:PORT"}},
		{"nothing registered", []string{}, []string{"REDIRECT_URI_NOT_ALLOWED", "register http://127.0.0.1:PORT/enablebanking/callback", "--listen 127.0.0.1:PORT"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fake.Options{Sessions: 1, RedirectURLs: c.registered})
			cfg := e.connectConfig(nil)
			orig := e.mustRead(cfg)
			stdout, stderr, code := st.Exec(t, e.bin, "connect", "--config", cfg, "--country", "FI", "--aspsp", "Nordea", "--no-open")
			if code != 1 || len(stdout) != 0 {
				t.Fatalf("exit %d, stdout %q, want 1 and nothing\nstderr: %s", code, stdout, stderr)
			}
			m := sent.FindStringSubmatch(string(stderr))
			if m == nil || m[1] == port {
				t.Errorf("stderr does not name the redirect connect sent:\n%s", stderr)
			}
			for _, want := range c.says {
				if !strings.Contains(string(stderr), want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr)
				}
			}
			if string(e.mustRead(cfg)) != string(orig) {
				t.Error("a refused redirect changed the config")
			}
			if n := len(e.fake.SessionIDs()); n != 1 {
				t.Errorf("%d sessions after a refused redirect, want 1", n)
			}
		})
	}

	// The advice works: with --listen on the registered port the
	// authorisation starts and ends in a session.
	e := newEnv(t, fake.Options{Sessions: 1, RedirectURLs: []string{registered}})
	p := st.Start(t, e.bin, "connect", "--config", e.connectConfig(nil), "--country", "FI", "--aspsp", "Nordea", "--no-open", "--listen", "127.0.0.1:"+port)
	resp, err := http.PostForm(p.WaitLine(st.OpenURL)[1], url.Values{"decision": {"authorise"}})
	st.Must(t, err, "consent at the bank")
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if out, code := p.Wait(); code != 0 || !strings.Contains(out, `"session_id"`) {
		t.Errorf("with --listen on the registered port: exit %d, stdout %q\nstderr: %s", code, out, p.Stderr())
	}
}
