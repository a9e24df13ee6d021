package httpclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// TestRedirectsAreNeverFollowed: whatever the status, the method and where
// it points (another port, the same origin, plain http from https), a
// redirect reaches nobody, is not retried, and comes back as a system error
// naming the route and the target.
func TestRedirectsAreNeverFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte(`{"results":[]}`))
	}))
	defer other.Close()
	var asked atomic.Int32
	var target string
	var status int
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.URL.Path == "/landing" {
			elsewhere.Add(1)
			w.Write([]byte(`{}`))
			return
		}
		http.Redirect(w, r, target, status)
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	tls := httptest.NewTLSServer(handler)
	defer tls.Close()

	for _, tc := range []struct {
		name, base, target, method string
		status                     int
	}{
		{"302 to another port", plain.URL, other.URL + "/items?apiKey=x", "GET", 302},
		{"307 POST to another port", plain.URL, other.URL + "/auth", "POST", 307},
		{"308 POST to localhost", plain.URL, strings.Replace(other.URL, "127.0.0.1", "localhost", 1) + "/token/new/", "POST", 308},
		{"301 same origin", plain.URL, "/landing", "GET", 301},
		{"303 POST same origin", plain.URL, "/landing", "POST", 303},
		{"https to http downgrade", tls.URL, "http://" + strings.TrimPrefix(tls.URL, "https://") + "/landing", "GET", 302},
		{"https to http on another port", tls.URL, other.URL + "/x", "GET", 307},
	} {
		t.Run(tc.name, func(t *testing.T) {
			elsewhere.Store(0)
			asked.Store(0)
			target, status = tc.target, tc.status
			c := fastClient(nil)
			c.HTTP = tls.Client() // trusts the test certificate; its own CheckRedirect is not the one used
			c.HTTP.CheckRedirect = nil
			var body []byte
			if tc.method == "POST" {
				body = []byte(`{"clientSecret":"s3cr3t"}`)
			}
			_, err := c.Do(context.Background(), &Request{Method: tc.method, URL: tc.base + "/start", Route: tc.method + " /start", Body: body, Idempotent: true,
				Header: http.Header{"X-Api-Key": {"k3y"}, "Authorization": {"Bearer t0k3n"}}})
			var re *RedirectError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a *RedirectError", err)
			}
			if n := elsewhere.Load(); n != 0 {
				t.Errorf("the redirect target got %d requests", n)
			}
			if n := asked.Load(); n != 1 {
				t.Errorf("the redirecting server got %d requests, want 1 (no retry)", n)
			}
			msg := err.Error()
			wantTo := strings.SplitN(tc.target, "?", 2)[0]
			if !strings.Contains(msg, tc.method+" /start") || !strings.Contains(msg, wantTo) || strings.Contains(msg, "apiKey") {
				t.Errorf("message does not name the route and the target %s (without its query): %s", wantTo, msg)
			}
			if re.Class() != Permanent {
				t.Errorf("class %s", re.Class())
			}
		})
	}
}

func TestOrigin(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		same     bool
	}{
		{"https://api.pluggy.ai", "https://api.pluggy.ai:443/x", true},
		{"https://api.pluggy.ai", "http://api.pluggy.ai/x", false},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8081/x", false},
		{"http://[::1]:8080", "http://[::1]:8080/y", true},
		{"http://127.0.0.1:8080", "/relative", false},
	} {
		req, _ := http.NewRequest("GET", tc.from, nil)
		if got := sameOrigin(origin(req.URL), tc.to); got != tc.same {
			t.Errorf("sameOrigin(%s, %s) = %v", tc.from, tc.to, got)
		}
	}
}

// TestRedirectTargetMaskedBeforeItIsCut: a Location whose path carries a
// secret across the 200th byte, or in a spelling the URL's re-encoding
// makes (a quote as %22), shows none of it: the target is masked before
// the message cuts it. The cut came first before, and left the secret's
// head in clear.
func TestRedirectTargetMaskedBeforeItIsCut(t *testing.T) {
	const secretValue = `SuperSecret/Value"42`
	var location string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", location)
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	var r secret.Redactor
	r.Add(secretValue)
	for _, loc := range []string{"/" + strings.Repeat("p", 165) + secretValue, "/x/" + secretValue} {
		location = loc
		_, err := fastClient(&r).Do(context.Background(), &Request{Method: "GET", URL: srv.URL + "/start", Route: "GET /start"})
		if err == nil {
			t.Fatal("no error")
		}
		if msg := err.Error(); strings.Contains(msg, "SuperSec") || strings.Contains(msg, "Value%2242") {
			t.Errorf("Location %s: the message shows the secret: %s", loc, msg)
		}
	}
}
