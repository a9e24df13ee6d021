package webhook

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/eventlog"
)

// panickingLog is a Log whose commits panic once held back: a bug in
// a log's commit, which no real log can be made to have.
type panickingLog struct {
	group eventlog.Group[Event, string]
}

func (l *panickingLog) Append(_ context.Context, ev Event, _ time.Time) (string, error) {
	return l.group.Do(ev)
}
func (l *panickingLog) Healthy(context.Context) error { return l.group.Err() }
func (l *panickingLog) Len() int                      { return 0 }
func (l *panickingLog) Prune(context.Context, time.Time) (Pruned, error) {
	return Pruned{}, nil
}
func (l *panickingLog) Stats() Stats { return Stats{} }
func (l *panickingLog) Close() error { return nil }

// TestReceiverStopsWhenAnAppendPanics: deliveries whose commit panics are
// each answered 503 (Pluggy retries), /healthz answers 503, and Serve stops
// the receiver and returns the panic, so that the process exits 1 and is
// started again. The deliveries waiting with the panicking one hung, and
// every later one too, while /healthz answered 200.
func TestReceiverStopsWhenAnAppendPanics(t *testing.T) {
	const n = 20
	l := &panickingLog{}
	arrived := make(chan struct{})
	l.group.Commit = func([]Event) ([]string, []error) {
		<-arrived // every delivery is under way
		panic("injected")
	}
	var logged strings.Builder
	var logMu sync.Mutex
	rc := &Receiver{Log: l, Headers: []Header{{Name: "X-Hook", Value: "s3cret-value"}}, Logger: slog.New(slog.NewJSONHandler(writerFunc(func(b []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logged.Write(b)
	}), nil)), Now: time.Now}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- Serve(context.Background(), ln, rc) }()
	url := "http://" + ln.Addr().String()

	statuses := make(chan int, n)
	for i := range n {
		go func() {
			body := `{"event":"item/updated","eventId":"ev-` + string(rune('a'+i)) + `","itemId":"11111111-1111-4111-8111-111111111111"}`
			req, _ := http.NewRequest(http.MethodPost, url+"/pluggy", strings.NewReader(body))
			req.Header.Set("X-Hook", "s3cret-value")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	// The first commit holds every delivery after it back, for them to
	// queue behind it (one that comes after the panic is answered 503
	// too: what is checked holds either way).
	time.Sleep(200 * time.Millisecond)
	close(arrived)
	for range n {
		select {
		case s := <-statuses:
			if s != http.StatusServiceUnavailable {
				t.Errorf("a delivery whose commit panicked: %d, want 503", s)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("deliveries are still waiting 20 s after their commit panicked")
		}
	}
	wantServePanic(t, served, "an append panicked")
	if err := rc.Log.Healthy(context.Background()); err == nil {
		t.Error("the log is healthy after its commit panicked")
	}
	logMu.Lock()
	defer logMu.Unlock()
	if c := strings.Count(logged.String(), "an append to the event log panicked"); c != 1 || !strings.Contains(logged.String(), "injected") || strings.Contains(logged.String(), "s3cret-value") {
		t.Fatalf("the panic logged %d times (want once, with its value, no header value):\n%s", c, logged.String())
	}
}

// TestReceiverFailsWhenAnAppendPanicsDuringShutdown: a delivery in flight
// at SIGTERM whose commit panics while Serve finishes the requests in
// flight is answered 503, and Serve returns the panic (the process exits
// 1, for its supervisor to start it again), as when the panic came before
// SIGTERM. It returned nil: the receiver exited 0, a clean stop, with its
// log in an unknown state.
func TestReceiverFailsWhenAnAppendPanicsDuringShutdown(t *testing.T) {
	l := &panickingLog{}
	committing, release := make(chan struct{}), make(chan struct{})
	l.group.Commit = func([]Event) ([]string, []error) {
		close(committing)
		<-release // until the shutdown is under way
		panic("injected")
	}
	var logged strings.Builder
	var logMu sync.Mutex
	logs := func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return logged.String()
	}
	rc := &Receiver{Log: l, Headers: []Header{{Name: "X-Hook", Value: "s3cret-value"}}, Logger: slog.New(slog.NewJSONHandler(writerFunc(func(b []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logged.Write(b)
	}), nil)), Now: time.Now}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, sigterm := context.WithCancel(context.Background())
	defer sigterm()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, rc) }()

	status := make(chan int, 1)
	go func() {
		body := `{"event":"item/updated","eventId":"ev-1","itemId":"11111111-1111-4111-8111-111111111111"}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/pluggy", strings.NewReader(body))
		req.Header.Set("X-Hook", "s3cret-value")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	select {
	case <-committing:
	case <-time.After(20 * time.Second):
		t.Fatal("the delivery's commit never started")
	}
	sigterm()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logs(), "shutting down"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Serve did not start shutting down 20 s after its context ended:\n%s", logs())
		}
	}
	close(release)
	select {
	case s := <-status:
		if s != http.StatusServiceUnavailable {
			t.Errorf("the delivery whose commit panicked during the shutdown: %d, want 503", s)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the delivery is still waiting 20 s after its commit panicked")
	}
	wantServePanic(t, served, "a commit panicked during its shutdown")
	if got := logs(); !strings.Contains(got, "an append to the event log panicked") || strings.Contains(got, "s3cret-value") {
		t.Errorf("the panic is not logged (or a header value is):\n%s", got)
	}
}

// writerFunc is an io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// wantServePanic waits for Serve's return, which must be the panic of
// the commit that the test made panic (after what happened), so that
// the receiver's supervisor restarts it.
func wantServePanic(t *testing.T, served <-chan error, after string) {
	t.Helper()
	select {
	case err := <-served:
		var pe *eventlog.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("Serve returned %v after %s, want the commit's panic", err, after)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("Serve still runs 30 s after %s", after)
	}
}
