package fake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEvery429(t *testing.T) {
	h := newHarness(t, Options{})
	path := "/items/" + h.s.ItemIDs()[0]
	h.s.SetFaults(Faults{Every429: 2, RetryAfterSeconds: 3})
	for i := 1; i <= 4; i++ {
		resp, b := h.do(http.MethodGet, path)
		if i%2 == 1 {
			if resp.StatusCode != 200 {
				t.Errorf("request %d: %d", i, resp.StatusCode)
			}
			continue
		}
		wantBody(t, "429", resp.StatusCode, b, 429, `{"code":429,"message":"Too many requests. Please try again later (see Retry-After header in seconds)"}`)
		if resp.Header.Get("Retry-After") != "3" || resp.Header.Get("RateLimit-Reset") != "3" || resp.Header.Get("RateLimit-Limit") != "360" {
			t.Errorf("429 headers %v", resp.Header)
		}
	}
	// POST /auth does not advance the schedule.
	h.s.SetFaults(Faults{Every429: 1, RetryAfterHTTPDate: true})
	h.login()
	resp, _ := h.do(http.MethodGet, path)
	at, err := http.ParseTime(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || err != nil || !at.Equal(testNow.Add(time.Second).Truncate(time.Second)) {
		t.Errorf("HTTP-date Retry-After: %d %q %v", resp.StatusCode, resp.Header.Get("Retry-After"), err)
	}
	if st := h.s.Stats(); st.Faults["429"] != 3 || st.ByStatus[429] != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestEvery500AndForcedStatus(t *testing.T) {
	h := newHarness(t, Options{})
	item := h.s.ItemIDs()[0]
	h.s.SetFaults(Faults{Every500: 1})
	code, b := h.get("/accounts?itemId=" + item)
	wantBody(t, "500", code, b, 500, `{"code":500,"codeDescription":"INTERNAL_SERVER_ERROR","message":"Internal server error"}`)

	h.s.SetFaults(Faults{Status: map[string]int{"GET /accounts": 404, "POST /auth": 401}})
	code, b = h.get("/accounts?itemId=" + item)
	wantBody(t, "forced 404", code, b, 404, `{"code":404,"codeDescription":"ACCOUNT_NOT_FOUND","message":"account not found"}`)
	h.mustGet("/items/"+item, nil)
	code, b = h.post("/auth", `{"clientId":"demo-client-id","clientSecret":"demo-client-secret"}`)
	wantBody(t, "forced auth 401", code, b, 401, `{"code":401,"codeDescription":"CLIENT_KEYS_UNAUTHORIZED","message":"Client keys are invalid"}`)
}

func TestEveryGarbage(t *testing.T) {
	h := newHarness(t, Options{})
	path := "/accounts?itemId=" + h.s.ItemIDs()[0]
	h.s.SetFaults(Faults{EveryGarbage: 1})
	for range 2 {
		resp, b := h.do(http.MethodGet, path)
		if resp.StatusCode != 200 || json.Valid(b) || len(b) == 0 {
			t.Errorf("garbage: %d valid=%v %q", resp.StatusCode, json.Valid(b), b)
		}
	}
}

func TestEverySlowHonoursCancellation(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.SetFaults(Faults{EverySlow: 1, Slow: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.ts.URL+"/items/"+h.s.ItemIDs()[0], nil)
	req.Header.Set("X-API-KEY", h.key)
	start := time.Now()
	_, err := h.ts.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("slow request: %v after %v", err, time.Since(start))
	}
	h.s.SetFaults(Faults{EverySlow: 1, Slow: 20 * time.Millisecond})
	start = time.Now()
	h.mustGet("/items/"+h.s.ItemIDs()[0], nil)
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("slow request took only %v", d)
	}
}

func TestLatency(t *testing.T) {
	h := newHarness(t, Options{Latency: 30 * time.Millisecond})
	start := time.Now()
	h.get("/categories")
	h.login()
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("two requests with 30ms latency took %v", d)
	}
}

func TestRevokeKeyAfter(t *testing.T) {
	h := newHarness(t, Options{})
	path := "/items/" + h.s.ItemIDs()[0]
	old := h.login()
	h.s.SetFaults(Faults{RevokeKeyAfter: 2})
	h.mustGet(path, nil)
	h.mustGet(path, nil)
	code, b := h.get(path) // request 3: every key issued so far is revoked
	wantBody(t, "revoked", code, b, 403, notAuthBody)
	h.key = old
	if code, _ = h.get(path); code != 403 {
		t.Errorf("older key after revocation: %d", code)
	}
	h.key = h.login()
	for i := range 5 {
		if code, _ = h.get(path); code != 200 {
			t.Errorf("fresh key, request %d after revocation: %d", i+1, code)
		}
	}
	if st := h.s.Stats(); st.Faults["revoke"] != 1 {
		t.Errorf("revocations %d, want 1", st.Faults["revoke"])
	}
}

func TestDropMidBody(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.SetFaults(Faults{DropMidBodyEvery: 1})
	req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/accounts?itemId="+h.s.ItemIDs()[0], nil)
	req.Header.Set("X-API-KEY", h.key)
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("headers should arrive: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || resp.ContentLength <= int64(len(b)) || len(b) == 0 {
		t.Errorf("read %d of %d bytes, err %v", len(b), resp.ContentLength, err)
	}
}

func TestBuggyCursors(t *testing.T) {
	h := newHarness(t, Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 30, PageSize: 10})
	base := "/v2/transactions?accountId=" + h.s.AccountIDs(h.s.ItemIDs()[0])[0]

	h.s.SetFaults(Faults{RepeatNextCursor: true})
	var p1, p2, p3 v2Page
	h.mustGet(base, &p1)
	h.mustGet(*p1.Next, &p2)
	h.mustGet(*p2.Next, &p3)
	if *p2.Next != *p1.Next || *p3.Next != *p1.Next || string(p2.Results[0]) != string(p3.Results[0]) {
		t.Errorf("RepeatNextCursor: nexts %q %q %q", *p1.Next, *p2.Next, *p3.Next)
	}

	h.s.SetFaults(Faults{EmptyPageWithNext: true})
	var e1, e2 v2Page
	h.mustGet(base, &e1)
	if len(e1.Results) != 0 || e1.Next == nil {
		t.Fatalf("EmptyPageWithNext first page: %+v", e1)
	}
	h.mustGet(*e1.Next, &e2)
	if len(e2.Results) != 0 || e2.Next == nil || *e2.Next != *e1.Next {
		t.Errorf("EmptyPageWithNext: %q then %v", *e1.Next, e2.Next)
	}

	h.s.SetFaults(Faults{})
	rows, pages, _ := h.walk(base, 10)
	if len(rows) != 30 || pages != 3 {
		t.Errorf("after clearing faults: %d rows in %d pages", len(rows), pages)
	}
}

func TestStats(t *testing.T) {
	h := newHarness(t, Options{})
	h.s.ResetStats()
	item := h.s.ItemIDs()[0]
	h.mustGet("/items/"+item, nil)
	h.mustGet("/accounts?itemId="+item, nil)
	h.get("/items/nope")
	h.login()
	h.get("/nowhere")
	st := h.s.Stats()
	want := map[string]int{"GET /items/{id}": 2, "GET /accounts": 1, "POST /auth": 1, "UNMATCHED": 1}
	for k, v := range want {
		if st.ByRoute[k] != v {
			t.Errorf("ByRoute[%q] = %d, want %d (%v)", k, st.ByRoute[k], v, st.ByRoute)
		}
	}
	if st.Total != 5 || st.ByStatus[200] != 3 || st.ByStatus[404] != 2 {
		t.Errorf("stats %+v", st)
	}
	h.s.ResetStats()
	if st := h.s.Stats(); st.Total != 0 || len(st.ByRoute) != 0 {
		t.Errorf("after reset %+v", st)
	}
}

// heldWriter holds the first body write of the answer it carries until
// released: a request whose answer the client is already reading.
type heldWriter struct {
	*httptest.ResponseRecorder
	writing chan struct{}
	release chan struct{}
	once    sync.Once
}

func (w *heldWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.writing); <-w.release })
	return w.ResponseRecorder.Write(b)
}

// TestInFlightEndsAsTheAnswerIsWritten: a request whose answer is being
// written is no longer in flight. Counting it out only when its handler
// returned let a one-at-a-time client, already holding a whole answer,
// send its next request while the fake still counted the first, so
// MaxInFlight said 2 for max_concurrency 1.
func TestInFlightEndsAsTheAnswerIsWritten(t *testing.T) {
	h := newHarness(t, Options{})
	item := h.s.ItemIDs()[0]
	h.s.ResetStats()
	req := httptest.NewRequest(http.MethodGet, "/items/"+item, nil)
	req.Header.Set("X-API-KEY", h.key)
	held := &heldWriter{ResponseRecorder: httptest.NewRecorder(), writing: make(chan struct{}), release: make(chan struct{})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		h.s.Handler().ServeHTTP(held, req)
	}()
	<-held.writing
	h.mustGet("/items/"+item, nil)
	st := h.s.Stats()
	close(held.release)
	<-served
	if held.Code != http.StatusOK {
		t.Fatalf("held request: %d %s", held.Code, held.Body)
	}
	if st.MaxInFlight != 1 || st.ByStatus[200] != 2 {
		t.Errorf("a request after one whose answer was being written: MaxInFlight %d, 200s %d; want 1 and 2", st.MaxInFlight, st.ByStatus[200])
	}
	// A request abandoned before its answer leaves the count too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := httptest.NewRequestWithContext(ctx, http.MethodGet, "/items/"+item, nil)
	gone.Header.Set("X-API-KEY", h.key)
	h.s.Handler().ServeHTTP(httptest.NewRecorder(), gone)
	h.s.ResetStats()
	h.mustGet("/items/"+item, nil)
	if st := h.s.Stats(); st.MaxInFlight != 1 {
		t.Errorf("MaxInFlight %d after one more request, want 1: a request stayed counted in flight", st.MaxInFlight)
	}
}

func TestAdminHandler(t *testing.T) {
	s := New(Options{Now: newClock().Now})
	ts := newAdminServer(t, s)
	resp, err := http.Post(ts+"/__fake/mutate?kind=new&n=2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ IDs []string }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(out.IDs) != 2 {
		t.Errorf("mutate: %d %+v", resp.StatusCode, out)
	}
	resp, _ = http.Post(ts+"/__fake/mutate?kind=post_pending&n=1", "", nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"old_ids":[`) || !strings.Contains(string(b), `"new_ids":[`) {
		t.Errorf("post_pending: %s", b)
	}
	resp, _ = http.Post(ts+"/__fake/mutate?kind=bogus", "", nil)
	if resp.StatusCode != 400 {
		t.Errorf("bogus kind: %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp, _ = http.Get(ts + "/categories")
	resp.Body.Close()
	resp, _ = http.Get(ts + "/__fake/stats")
	var st Stats
	_ = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Total != 1 || st.ByStatus[403] != 1 {
		t.Errorf("stats over admin: %+v", st)
	}
}

func TestGzipAnswers(t *testing.T) {
	for accept, want := range map[string]bool{
		"gzip": true, "GZIP": true, "deflate, gzip;q=0.5": true, "br, gzip ; q=1.0": true,
		"": false, "identity": false, "gzip;q=0": false, "gzip; q=0.000": false, "x-gzip": false,
	} {
		if got := acceptsGzip(accept); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", accept, got, want)
		}
	}

	h := newHarness(t, Options{Gzip: true})
	get := func(accept string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/categories", nil)
		req.Header.Set("X-API-KEY", h.key)
		req.Header.Set("Accept-Encoding", accept) // set: no transparent decompression
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	plain := get("identity")
	want, _ := io.ReadAll(plain.Body)
	if plain.Header.Get("Content-Encoding") != "" || plain.ContentLength != int64(len(want)) {
		t.Fatalf("identity: Content-Encoding %q, Content-Length %d for %d bytes", plain.Header.Get("Content-Encoding"), plain.ContentLength, len(want))
	}
	before := h.s.Stats().Gzipped // POST /auth's, through Go's client
	resp := get("gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.ContentLength != -1 {
		t.Fatalf("gzip: Content-Encoding %q, Content-Length %d: want gzip of unknown length", resp.Header.Get("Content-Encoding"), resp.ContentLength)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("gzip body decompresses to %d bytes (%v), want the %d of the plain answer", len(got), err, len(want))
	}
	if n := h.s.Stats().Gzipped - before; n != 1 {
		t.Errorf("Stats().Gzipped grew by %d for one gzip answer", n)
	}
}
