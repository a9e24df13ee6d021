package httpclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestHugeAndEndlessBodies: a body over MaxBody, announced or not, ends
// for good with a system error naming the route, without a retry and
// without reading past the limit; an endless body is cut at the limit.
func TestHugeAndEndlessBodies(t *testing.T) {
	var served sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := served.LoadOrStore(r.URL.Path, new(int))
		*n.(*int)++
		switch r.URL.Path {
		case "/announced":
			w.Header().Set("Content-Length", "1000000000")
			w.Write(bytes.Repeat([]byte("x"), 1<<16))
		case "/chunked":
			w.Write(bytes.Repeat([]byte("x"), 3<<20))
		case "/endless":
			chunk := bytes.Repeat([]byte(`{"results":[`), 1<<12)
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}
	}))
	defer srv.Close()
	for _, path := range []string{"/announced", "/chunked", "/endless"} {
		c := fastClient(nil)
		c.MaxBody = 1 << 20
		c.Budget = NewBudget(4 << 20)
		_, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL + path, Route: "GET " + path, Idempotent: true})
		var big *TooLargeError
		if !errors.As(err, &big) || !strings.Contains(err.Error(), "GET "+path) || big.Class() != Permanent {
			t.Errorf("%s: err = %v, want a *TooLargeError naming the route", path, err)
		}
		if n, _ := served.Load(path); *n.(*int) != 1 {
			t.Errorf("%s: asked %d times, want once", path, *n.(*int))
		}
		if c.Budget.used != 0 {
			t.Errorf("%s: %d bytes of the budget not given back", path, c.Budget.used)
		}
	}
}

// TestBudgetIsShared: bodies read at once share one budget; one that would
// pass it fails (transiently), and everything is given back after Do.
func TestBudgetIsShared(t *testing.T) {
	budget := NewBudget(1 << 20)
	if !budget.take(900 << 10) {
		t.Fatal("could not take 900 KiB of 1 MiB")
	}
	resp := &http.Response{Body: io.NopCloser(bytes.NewReader(make([]byte, 200<<10))), ContentLength: 200 << 10}
	_, held, err := readBody(resp.Body, resp.ContentLength, 1<<20, budget, nil)
	var eb errBudget
	if !errors.As(err, &eb) || held != 0 {
		t.Fatalf("err = %v, held %d; want the budget error", err, held)
	}
	budget.give(900 << 10)
	resp = &http.Response{Body: io.NopCloser(bytes.NewReader(make([]byte, 200<<10))), ContentLength: -1}
	b, held, err := readBody(resp.Body, resp.ContentLength, 1<<20, budget, nil)
	if err != nil || len(b) != 200<<10 || held != budget.used || held < 200<<10 {
		t.Fatalf("read %d bytes holding %d (budget used %d): %v", len(b), held, budget.used, err)
	}
	budget.give(held)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	c := fastClient(nil)
	c.Budget = budget
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /", Idempotent: true, Accept: func([]byte) error { return nil }}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if budget.used != 0 {
		t.Fatalf("%d bytes of the budget not given back", budget.used)
	}
}

// TestInvalidUTF8IsReplaced: a body with invalid UTF-8 comes back with
// every invalid sequence replaced by U+FFFD, still valid JSON, and the hook
// is told once per answer.
func TestInvalidUTF8IsReplaced(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{\"description\":\"caf\xe9 \xff\xfe ok \xc3(\"}"))
	}))
	defer srv.Close()
	c := fastClient(nil)
	var told []string
	c.OnInvalidUTF8 = func(_ context.Context, route string, _ []byte, _ []int) { told = append(told, route) }
	resp, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x"})
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"description\":\"caf\uFFFD \uFFFD ok \uFFFD(\"}"
	if string(resp.Body) != want || len(told) != 1 || told[0] != "GET /x" {
		t.Fatalf("body %q, told %v; want %q", resp.Body, told, want)
	}
}

// TestAbsurdHeadersAreRefused: an answer whose headers weigh megabytes is
// a failure (a transient one: the request may be retried), not megabytes
// held per response.
func TestAbsurdHeadersAreRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Padding", strings.Repeat("x", 2<<20))
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := fastClient(nil)
	c.MaxRetries = 0
	_, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL, Route: "GET /x", Idempotent: true})
	var te *TransportError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "GET /x") {
		t.Fatalf("err = %v, want a transport error naming the route", err)
	}
}
