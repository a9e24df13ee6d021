package sourcetest

import (
	"encoding/pem"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// This file is the hostile side of the end-to-end tests: what an attacker
// controlling a DNS entry, a proxy or the API's front end can make a
// connector see. Each piece wraps the provider's fake handler, so the rest
// of a run is the real thing.

// Catcher is a server that should never hear from the connector: the
// "other host" a redirect points to. It records whatever reaches it.
type Catcher struct {
	*httptest.Server
	mu   sync.Mutex
	seen []Caught
}

// Caught is one request a Catcher received.
type Caught struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// NewCatcher starts a Catcher on addr ("127.0.0.1:0", "[::1]:0"); it skips
// the test when addr cannot be listened on (no IPv6, say).
func NewCatcher(t testing.TB, addr string) *Catcher {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	c := &Catcher{}
	c.Server = &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.seen = append(c.seen, Caught{r.Method, r.URL.Path, r.Header.Clone(), string(b)})
		c.mu.Unlock()
		// An empty page of every shape the connectors read: accepted, it
		// would end a stream COMPLETE with nothing.
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"results":[],"total":0,"totalPages":1,"page":1,"count":0,"next":null,"access":"a","access_expires":86400,"refresh":"r","refresh_expires":2592000,"apiKey":"k"}`)
	})}}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

// Seen returns the requests that reached the catcher.
func (c *Catcher) Seen() []Caught {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Caught(nil), c.seen...)
}

// Redirect answers the requests match picks with status and a Location of
// target (plus the request's path when keepPath), and passes the others to
// next.
func Redirect(next http.Handler, match func(*http.Request) bool, status int, target string, keepPath bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !match(r) {
			next.ServeHTTP(w, r)
			return
		}
		to := target
		if keepPath {
			to += r.URL.RequestURI()
		}
		w.Header().Set("Location", to)
		w.WriteHeader(status)
	})
}

// TrustTLS makes the binaries a test runs trust srv's certificate (through
// SSL_CERT_FILE, which Go's crypto/x509 reads on Unix), so an https
// base_url can point at a test server.
func TrustTLS(t *testing.T, srv *httptest.Server) {
	t.Helper()
	cert := srv.Certificate()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", p)
}

// Bomb answers the requests match picks with a 200 JSON body of size bytes
// that never closes its "results" array, announcing its length when
// announce is set; size < 0 sends an endless body (until the client hangs
// up). Others go to next.
func Bomb(next http.Handler, match func(*http.Request) bool, size int64, announce bool) http.Handler {
	chunk := []byte(strings.Repeat(`{"id":"00000000-0000-0000-0000-000000000000","description":"x"},`, 1024))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !match(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if announce && size >= 0 {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
		w.WriteHeader(http.StatusOK)
		head := []byte(`{"results":[`)
		if _, err := w.Write(head); err != nil {
			return
		}
		for sent := int64(len(head)); size < 0 || sent < size; sent += int64(len(chunk)) {
			part := chunk
			if size >= 0 && int64(len(part)) > size-sent {
				part = part[:size-sent]
			}
			if _, err := w.Write(part); err != nil {
				return
			}
		}
	})
}

// Rewrite passes the requests match picks to next and answers with what
// edit makes of its body (status and headers kept, Content-Length
// recomputed). Others go to next untouched.
func Rewrite(next http.Handler, match func(*http.Request) bool, edit func([]byte) []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !match(r) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := edit(rec.Body.Bytes())
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// Canned answers the requests match picks, the first times of them (0: all),
// with status, header and body instead of next; the others go to next.
// served counts the canned answers: a recorded API answer replayed in place
// of the fake's.
func Canned(next http.Handler, match func(*http.Request) bool, times, status int, header map[string]string, body []byte) (h http.Handler, served *atomic.Int32) {
	served = new(atomic.Int32)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !match(r) || times > 0 && int(served.Load()) >= times {
			next.ServeHTTP(w, r)
			return
		}
		served.Add(1)
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}), served
}

// Stall holds the first times requests match picks (0: all) for d before
// next answers them, as a bank behind the API that is slow to answer:
// a request whose client gives up meanwhile (its attempt's timeout) is
// left unanswered and never reaches next, so a fake counting calls
// against a quota counts only the attempts that got an answer. stalled
// counts the held requests, given up counts those the client abandoned.
func Stall(next http.Handler, match func(*http.Request) bool, times int, d time.Duration) (h http.Handler, stalled, givenUp *atomic.Int32) {
	stalled, givenUp = new(atomic.Int32), new(atomic.Int32)
	picked := new(atomic.Int32)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !match(r) || times > 0 && int(picked.Add(1)) > times {
			next.ServeHTTP(w, r)
			return
		}
		stalled.Add(1)
		select {
		case <-r.Context().Done():
			givenUp.Add(1)
		case <-time.After(d):
			next.ServeHTTP(w, r)
		}
	}), stalled, givenUp
}

// CheckPrivate asserts that root and everything under it is readable by
// its owner only: folders 0700, files 0600 (bank data must not be readable
// by every local user). umask can only take permissions away, so a
// connector that asks for these gets them.
func CheckPrivate(t *testing.T, root string) (files int) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
		return nil
	})
	Must(t, err, "walking ", root)
	return files
}

// ServeHostile serves h behind wrap (the attacker's changes) on loopback,
// over https with a certificate the binaries trust when tls is set, and
// closes the server when the test ends.
func ServeHostile(t *testing.T, h http.Handler, tls bool, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(wrap(h))
		TrustTLS(t, srv)
	} else {
		srv = httptest.NewServer(wrap(h))
	}
	t.Cleanup(srv.Close)
	return srv
}

// CheckAttemptTimedOut checks a read (r) during which Stall held one call
// past a 1 s http_timeout_seconds: the call was abandoned and retried, the
// retry logged once naming the setting, and the read got every row of
// stream that again (the same read with nothing held) gets. Then each
// value http_timeout_seconds may not take fails check naming the field.
// config writes the read's config with over applied.
func CheckAttemptTimedOut(t *testing.T, r *Result, again func() *Result, stream string, stalled, givenUp *atomic.Int32, bin string, config func(over map[string]any) string) {
	t.Helper()
	if stalled.Load() != 1 || givenUp.Load() != 1 {
		t.Fatalf("%d %s calls stalled, %d given up; want the one stalled given up at the 1 s timeout", stalled.Load(), stream, givenUp.Load())
	}
	const says = "no answer within 1s, the time one attempt may take (config http_timeout_seconds)"
	retried := 0
	for _, m := range r.OfType(protocol.TypeLog) {
		if strings.Contains(m.Log.Message, "retrying") && strings.Contains(m.Log.Message, says) {
			retried++
		}
	}
	if retried != 1 {
		t.Fatalf("%d retries logged saying %q, want 1:\n%s", retried, says, r.Stderr)
	}
	if got, want := len(r.Records()[stream]), len(again().Records()[stream]); got == 0 || got != want {
		t.Errorf("the read with a retried call got %d %s, one without %d", got, stream, want)
	}
	for _, bad := range []any{0, 601, "30"} {
		cs, _ := CheckRun(t, bin, config(map[string]any{"http_timeout_seconds": bad}))
		if cs.Status != protocol.StatusFailed || !strings.Contains(cs.Message, "config.http_timeout_seconds") {
			t.Errorf("http_timeout_seconds %v: check %s %q, want failed naming config.http_timeout_seconds", bad, cs.Status, cs.Message)
		}
	}
}
