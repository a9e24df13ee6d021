package httpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/secret"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"60"}}, 60 * time.Second},
		{http.Header{"Retry-After": {"60"}, "Ratelimit-Reset": {"37"}}, 37 * time.Second},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		// A date is the server's: read against its Date, ten minutes
		// ahead of this machine's clock here (or behind).
		{http.Header{"Retry-After": {now.Add(10*time.Minute + 90*time.Second).Format(http.TimeFormat)}, "Date": {now.Add(10 * time.Minute).Format(http.TimeFormat)}}, 90 * time.Second},
		{http.Header{"Retry-After": {now.Add(-10*time.Minute + 90*time.Second).Format(http.TimeFormat)}, "Date": {now.Add(-10 * time.Minute).Format(http.TimeFormat)}}, 90 * time.Second},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}, "Date": {"garbage"}}, 90 * time.Second},
		{http.Header{"Retry-After": {"-5"}}, 0},
		{http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{http.Header{"Retry-After": {"1e300"}}, 0},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{}, 0},
	} {
		if got := retryAfter(c.h, now); got != c.want {
			t.Errorf("retryAfter(%v) = %s, want %s", c.h, got, c.want)
		}
	}
}

func fastClient(s *secret.Redactor) *Client {
	c := New(s)
	c.BaseBackoff, c.MaxBackoff = time.Millisecond, 2*time.Millisecond
	c.MaxRetries = 3
	return c
}

func TestRetriesThenSucceeds(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.WriteHeader(500)
		case 2:
			w.Header().Set("Retry-After", "0.01")
			w.WriteHeader(429)
		case 3:
			w.Write([]byte(`{"trunc`))
		default:
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	var limited int
	c := fastClient(nil)
	c.OnRateLimited = func(context.Context, time.Time) { limited++ }
	resp, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true, Accept: func(b []byte) error {
		if !strings.HasSuffix(string(b), "}") {
			return errTruncated
		}
		return nil
	}})
	if err != nil || string(resp.Body) != `{"ok":true}` || limited != 1 || n.Load() != 4 {
		t.Fatalf("resp=%v err=%v limited=%d requests=%d", resp, err, limited, n.Load())
	}
}

type truncErr struct{}

func (truncErr) Error() string { return "truncated" }

var errTruncated = truncErr{}

func TestGivesUpAndRedacts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
		w.Write([]byte(`{"message":"bad key sk-LIVE-123"}`))
	}))
	defer srv.Close()
	s := &secret.Redactor{}
	s.Add("sk-LIVE-123")
	_, err := fastClient(s).Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true})
	if err == nil || strings.Contains(err.Error(), "sk-LIVE-123") || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("err = %v", err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Class() != Transient {
		t.Fatalf("not a transient *StatusError: %v", err)
	}
}

// TestTransportErrorSaysRouteOnce: a call that never got an answer (here
// a closed port) fails with the route, then what went wrong: not the URL
// (its query may hold a key), nor the method again as net/http's "Post:"
// in place of the URL ("POST /auth: Post: dial tcp ...").
func TestTransportErrorSaysRouteOnce(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	_, err := fastClient(nil).Do(context.Background(), &Request{Method: "POST", URL: addr + "/auth?key=s3cret", Route: "POST /auth"})
	if err == nil || !strings.HasPrefix(err.Error(), "POST /auth: dial tcp ") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v; want POST /auth: dial tcp ...", err)
	}
	if c, ok := ClassOf(err); !ok || c != Transient {
		t.Fatalf("class %v %v, want transient", c, ok)
	}
}

// TestClasses: who can fix each answer, and 501 is not retried.
func TestClasses(t *testing.T) {
	for status, want := range map[int]Class{401: Auth, 403: Auth, 404: Permanent, 400: Permanent, 408: Transient, 429: Transient, 500: Transient, 502: Transient, 503: Transient, 501: Permanent} {
		if got := (&StatusError{Status: status}).Class(); got != want {
			t.Errorf("HTTP %d: class %s, want %s", status, got, want)
		}
	}
	if c, ok := ClassOf(fmt.Errorf("wrapped: %w", &TransportError{Err: errors.New("reset")})); !ok || c != Transient {
		t.Errorf("a wrapped transport error: %s %v", c, ok)
	}
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusNotImplemented)
	}))
	defer srv.Close()
	_, err := fastClient(nil).Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true})
	if c, _ := ClassOf(err); calls != 1 || c != Permanent {
		t.Errorf("501: %d calls, class %s; want 1 call and permanent", calls, c)
	}
}

func TestRateLimitWaitCapped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	c := fastClient(nil)
	c.MaxWait = time.Second
	start := time.Now()
	_, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true})
	if err == nil || !strings.Contains(err.Error(), "cap") || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
}

func TestPacerSpacesRequests(t *testing.T) {
	p := NewPacer(600) // 10/s, burst 100
	p.burst = 1
	start := time.Now()
	for range 3 {
		if err := p.Wait(context.Background(), "GET /x"); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("3 paced requests at 10/s took %s", d)
	}
}

func TestNoRetryAndRetryAfterHooks(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/bank" {
			w.WriteHeader(429)
			w.Write([]byte(`{"type":"RateLimitError"}`))
			return
		}
		if n.Load() == 1 {
			w.WriteHeader(429)
			w.Write([]byte(`{"detail":"Please try again in 0 seconds"}`))
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := fastClient(nil)
	var asked int
	c.RetryAfter = func(resp *Response) time.Duration {
		asked++
		return 5 * time.Millisecond
	}
	typed := func(resp *Response) bool { return strings.Contains(string(resp.Body), "RateLimitError") }
	if _, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL + "/company", Route: "GET /company", Idempotent: true, NoRetry: typed}); err != nil || asked != 1 || n.Load() != 2 {
		t.Fatalf("company 429: err %v, RetryAfter asked %d times, %d requests", err, asked, n.Load())
	}
	n.Store(0)
	_, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL + "/bank", Route: "GET /bank", Idempotent: true, NoRetry: typed})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 429 || n.Load() != 1 {
		t.Fatalf("bank 429: err %v after %d requests; want the 429 after one", err, n.Load())
	}
}

// TestConnectionsAreReused sends rounds of concurrent requests, as a read
// of several accounts at once does, and counts the connections the server
// sees: each round's are kept for the next instead of closed and opened
// again.
func TestConnectionsAreReused(t *testing.T) {
	const concurrent, rounds = 8, 20
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond) // the round's requests overlap
		w.Write([]byte(`{}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := New(nil)
	for range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, concurrent)
		for range concurrent {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// Go's default of 2 idle connections a host opened about 6 a round.
	if n := conns.Load(); n > 2*concurrent {
		t.Errorf("%d rounds of %d concurrent requests opened %d connections, want at most %d", rounds, concurrent, n, 2*concurrent)
	}
}

// TestAttemptTimeoutSaysWhat: an attempt that runs out of Timeout (no
// answer; headers, then a body that stalls; a body trickling a byte at a
// time) fails, after its retries, with an error naming the route, the limit
// and the config field that sets it, not net/http's "context deadline
// exceeded", which a caller would take for the run's own end. A body that
// keeps flowing and ends within the limit is read whole, and a run's own
// deadline is still context.DeadlineExceeded.
func TestAttemptTimeoutSaysWhat(t *testing.T) {
	const limit = 300 * time.Millisecond
	body := []byte(`{"results":[1,2,3,4,5,6,7,8,9]}`)
	handlers := map[string]http.HandlerFunc{
		"no answer": func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
		"stalled body": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:5])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		},
		"trickled body": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			for i := range body {
				if _, err := w.Write(body[i : i+1]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		},
		"flowing body within the limit": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			for i := 0; i < len(body); i += 8 {
				w.Write(body[i:min(i+8, len(body))])
				w.(http.Flusher).Flush()
				time.Sleep(limit / 10)
			}
		},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(h)
			defer srv.Close()
			c := fastClient(nil)
			c.MaxRetries = 1
			c.Timeout = limit
			c.TimeoutSetting = "http_timeout_seconds"
			start := time.Now()
			resp, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true})
			took := time.Since(start)
			if name == "flowing body within the limit" {
				if err != nil || string(resp.Body) != string(body) {
					t.Fatalf("a body flowing within the limit: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			want := "GET /x: no answer within 300ms, the time one attempt may take (config http_timeout_seconds)"
			if name != "no answer" {
				want = "GET /x: the answer's body was still arriving after 300ms, the time one attempt may take (config http_timeout_seconds)"
			}
			if err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Error("an attempt's timeout reads as the run's own deadline (context.DeadlineExceeded)")
			}
			var at *AttemptTimeout
			if class, ok := ClassOf(err); !ok || class != Transient || !errors.As(err, &at) {
				t.Errorf("class %v %v, *AttemptTimeout %v: want a transient AttemptTimeout", class, ok, at != nil)
			}
			if took > 2*limit+time.Second {
				t.Errorf("two attempts took %s: the limit did not bound them", took)
			}
		})
	}
	t.Run("the run's own deadline", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(handlers["no answer"])
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		c := fastClient(nil)
		c.Timeout = time.Minute
		_, err := c.Do(ctx, &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the run's context.DeadlineExceeded", err)
		}
	})
}

// TestRateLimitWaitOverCapNamesItsSetting: a 429 asking for longer than
// MaxWait names the config field that sets the cap only when there is one:
// a provider without one sent users looking for Pluggy's
// max_rate_limit_wait_seconds.
func TestRateLimitWaitOverCapNamesItsSetting(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7200")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	for setting, want := range map[string]string{
		"max_rate_limit_wait_seconds": "GET /x: HTTP 429 (the API asks to wait 2h0m0s, more than the 1m0s cap (max_rate_limit_wait_seconds))",
		"":                            "GET /x: HTTP 429 (the API asks to wait 2h0m0s, more than the 1m0s cap; run again after that)",
	} {
		c := fastClient(nil)
		c.MaxWait, c.MaxWaitSetting = time.Minute, setting
		_, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true})
		if err == nil || err.Error() != want {
			t.Errorf("setting %q: error %v, want %q", setting, err, want)
		}
	}
}

// TestNonJSONPageSaysWhatItIs: a 2xx body the request cannot use whose
// Content-Type is not JSON (a captive portal's or a proxy's HTML page)
// says so, and who may be answering, where "invalid JSON at offset 0" left
// the user to guess; an unusable body that says it is JSON (cut short)
// does not.
func TestNonJSONPageSaysWhatItIs(t *testing.T) {
	for ctype, want := range map[string]string{
		"text/html; charset=utf-8": "GET /x: unusable response body (13 bytes of text/html, not JSON: a proxy, captive portal or load balancer may be answering for the API): invalid",
		"application/json":         "GET /x: unusable response body (13 bytes): invalid",
		"":                         "GET /x: unusable response body (13 bytes): invalid",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{ctype}
			w.Write([]byte("<html></html>"))
		}))
		c := fastClient(nil)
		c.MaxRetries = 0
		_, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true,
			Accept: func(b []byte) error { return errors.New("invalid") }})
		srv.Close()
		if err == nil || err.Error() != want {
			t.Errorf("Content-Type %q: error %v, want %q", ctype, err, want)
		}
	}
}

// TestHTMLErrorPageIsSaidShort: a non-2xx answer whose body is an HTML page
// (a load balancer's 502, a proxy's 503) is said as that page's title, or
// its text, not quoted markup and all; other bodies are quoted as sent.
func TestHTMLErrorPageIsSaidShort(t *testing.T) {
	for _, c := range []struct {
		ctype, body, want string
	}{
		{"text/html", "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
			`GET /x: HTTP 502: an HTML page, not the API's answer: "502 Bad Gateway"`},
		{"", "<!DOCTYPE html>\n<html><body>\n<p>The server is\n down &amp; out</p></body></html>",
			`GET /x: HTTP 502: an HTML page, not the API's answer: "The server is down & out"`},
		{"text/html; charset=utf-8", "<html></html>", `GET /x: HTTP 502: an HTML page, not the API's answer`},
		{"application/json", `{"message":"<b>bold</b>"}`, `GET /x: HTTP 502: {"message":"<b>bold</b>"}`},
		{"text/plain", "upstream connect error", `GET /x: HTTP 502: upstream connect error`},
	} {
		h := http.Header{}
		if c.ctype != "" {
			h.Set("Content-Type", c.ctype)
		}
		err := &StatusError{Route: "GET /x", Status: 502, Header: h, Body: []byte(c.body)}
		if got := err.Error(); got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.body, got, c.want)
		}
	}
}

// TestAuthorizeEachAttempt: Request.Authorize sets each attempt's
// credentials afresh, so a retry carries what is valid when it is sent,
// and its error ends the request unsent and unretried.
func TestAuthorizeEachAttempt(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		n := len(seen)
		mu.Unlock()
		if n < 3 {
			w.WriteHeader(503)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	n := 0
	_, err := fastClient(nil).Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true,
		Authorize: func(h http.Header) error { n++; h.Set("Authorization", fmt.Sprint("Bearer ", n)); return nil }})
	if err != nil || strings.Join(seen, ",") != "Bearer 1,Bearer 2,Bearer 3" {
		t.Fatalf("err %v, attempts carried %q", err, seen)
	}
	refused := errors.New("cannot sign")
	_, err = fastClient(nil).Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true,
		Authorize: func(http.Header) error { return refused }})
	if err != refused || len(seen) != 3 { //nolint:errorlint // the very error, unwrapped
		t.Fatalf("err %v after %d requests; want Authorize's own error, nothing sent", err, len(seen))
	}
}
