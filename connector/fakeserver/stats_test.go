package fakeserver

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestStatusCountedBeforeClientSeesIt pins the race CI met: a client that
// has its response must find it counted, even while the handler that
// answered it has not returned yet.
func TestStatusCountedBeforeClientSeesIt(t *testing.T) {
	var counted atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rec := &StatusRecorder{ResponseWriter: w, OnStatus: func(status int) {
			if status == http.StatusTeapot {
				counted.Add(1)
			}
		}}
		defer rec.Finish()
		rec.WriteHeader(http.StatusTeapot)
		http.NewResponseController(rec).Flush()
		<-release
	}))
	defer srv.Close()
	defer close(release)

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || counted.Load() != 1 {
		t.Fatalf("status %d, counted %d before the handler returned; want 418 counted once", resp.StatusCode, counted.Load())
	}
}

func TestStatusRecorderImplicit200(t *testing.T) {
	var (
		mu  sync.Mutex
		got []int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &StatusRecorder{ResponseWriter: w, OnStatus: func(status int) {
			mu.Lock()
			got = append(got, status)
			mu.Unlock()
		}}
		defer rec.Finish()
		if r.URL.Path == "/body" {
			_, _ = rec.Write([]byte("x"))
		}
	}))
	defer srv.Close()
	for _, p := range []string{"/empty", "/body"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != 200 || got[1] != 200 {
		t.Fatalf("statuses = %v, want [200 200]", got)
	}
}
