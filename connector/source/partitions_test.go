package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// stateLog is an Output that keeps the checkpoints it is given.
type stateLog struct {
	mu        sync.Mutex
	states    []string
	announces int
	log       *slog.Logger // nil: discard
}

func (s *stateLog) Record(jsonrow.Row) error { return nil }
func (s *stateLog) Checkpoint(st any) error {
	b, err := json.Marshal(st)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states = append(s.states, string(b))
	return err
}
func (s *stateLog) Announce(st any) error {
	s.mu.Lock()
	s.announces++
	s.mu.Unlock()
	return s.Checkpoint(st)
}
func (s *stateLog) Logger() *slog.Logger {
	if s.log != nil {
		return s.log
	}
	return slog.New(slog.DiscardHandler)
}

// TestPartitions: every partition runs with its own cursor; a failed one
// keeps its cursor unless it returned a new one with its error; each new
// cursor is checkpointed unless throttled, and the last checkpoint holds
// every partition's outcome.
func TestPartitions(t *testing.T) {
	type cur struct{ N int }
	st := struct {
		Accounts map[string]*cur `json:"accounts"`
	}{Accounts: map[string]*cur{"a": {1}, "b": {1}, "c": {1}}}
	out := &stateLog{}
	throttled := 0
	p := Partitions[cur]{
		Keys: []string{"a", "b", "c", "d"}, Cursors: st.Accounts, Limit: 2,
		State: func() any { return st },
		Throttle: func(key string, prev, next *cur) bool {
			if key == "d" {
				throttled++
				return prev == nil // a first cursor waits for the final checkpoint
			}
			return false
		},
	}
	err := p.Read(context.Background(), out, func(_ context.Context, _ Output, i int, prev *cur) (*cur, error) {
		switch p.Keys[i] {
		case "a":
			return &cur{prev.N + 1}, nil
		case "b":
			return nil, errors.New("b failed")
		case "c":
			return &cur{prev.N + 10}, errors.New("c half done")
		}
		if prev != nil {
			return nil, fmt.Errorf("d has a cursor %v", prev)
		}
		return &cur{7}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "b failed") || !strings.Contains(err.Error(), "c half done") {
		t.Fatalf("error %v, want b's and c's joined", err)
	}
	last := out.states[len(out.states)-1]
	if want := `{"accounts":{"a":{"N":2},"b":{"N":1},"c":{"N":11},"d":{"N":7}}}`; last != want {
		t.Errorf("last state %s, want %s", last, want)
	}
	if len(out.states) != 3 || throttled != 1 {
		t.Errorf("%d checkpoints (%v), throttled %d; want a's, c's and the final one", len(out.states), out.states, throttled)
	}
}

// TestPartitionLogger: a partition's Output logs through a logger that
// carries its key as the Attr attribute, after the stream's, and so do the
// runtime's HTTP hooks called with the partition's context.
func TestPartitionLogger(t *testing.T) {
	var buf bytes.Buffer
	w := protocol.NewWriter(&buf, nil)
	out := &stateLog{log: slog.New(NewLogHandler(w)).With(StreamKey, "transactions")}
	p := Partitions[struct{}]{Keys: []string{"acc-1", "acc-2"}, Attr: "account", Limit: 1, State: func() any { return nil }}
	err := p.Read(context.Background(), out, func(ctx context.Context, out Output, i int, _ *struct{}) (*struct{}, error) {
		out.Logger().Warn("quota spent", "endpoint", "transactions")
		if i == 1 {
			logOf(ctx).Info("retrying", "route", "GET /x") // as HTTPClient's OnRetry does
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m protocol.Message
		if err := json.Unmarshal([]byte(line), &m); err != nil || m.Log == nil {
			t.Fatalf("not a LOG: %s", line)
		}
		got = append(got, string(m.Log.Level)+" "+m.Log.Message)
	}
	want := []string{
		"WARN transactions: quota spent account=acc-1 endpoint=transactions",
		"WARN transactions: quota spent account=acc-2 endpoint=transactions",
		`INFO transactions: retrying account=acc-2 route="GET /x"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPartitionsAnnounce: an announcement replaces the partition's cursor
// and goes out at once as an announcement; a read that then succeeds
// replaces it with its own cursor, one that fails keeps it.
func TestPartitionsAnnounce(t *testing.T) {
	type cur struct {
		N         int
		Announced []string `json:",omitempty"`
	}
	st := struct {
		Accounts map[string]*cur `json:"accounts"`
	}{Accounts: map[string]*cur{"a": {N: 1}}}
	out := &stateLog{}
	p := Partitions[cur]{Keys: []string{"a", "b"}, Cursors: st.Accounts, Limit: 1, State: func() any { return st }}
	err := p.Read(context.Background(), out, func(_ context.Context, part Output, i int, prev *cur) (*cur, error) {
		key := p.Keys[i]
		if err := p.Announce(context.Background(), part, key, func(c *cur) *cur {
			next := &cur{Announced: []string{key + "1"}}
			if c != nil {
				next.N = c.N
			}
			return next
		}); err != nil {
			return nil, err
		}
		if key == "b" {
			return nil, errors.New("b failed")
		}
		return &cur{N: prev.N + 1}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "b failed") {
		t.Fatalf("error %v", err)
	}
	want := []string{
		`{"accounts":{"a":{"N":1,"Announced":["a1"]}}}`,
		`{"accounts":{"a":{"N":2}}}`,
		`{"accounts":{"a":{"N":2},"b":{"N":0,"Announced":["b1"]}}}`,
		`{"accounts":{"a":{"N":2},"b":{"N":0,"Announced":["b1"]}}}`, // the final checkpoint keeps b's announcement
	}
	if !slices.Equal(out.states, want) {
		t.Errorf("states\n%s\nwant\n%s", strings.Join(out.states, "\n"), strings.Join(want, "\n"))
	}
}

// TestPartitionsAnnounceEvery: with AnnounceEvery, an announcement that
// comes too soon after another waits, and one state holds every
// announcement that waited with it.
func TestPartitionsAnnounceEvery(t *testing.T) {
	type cur struct {
		Announced string `json:",omitempty"`
	}
	st := struct {
		Accounts map[string]*cur `json:"accounts"`
	}{Accounts: map[string]*cur{}}
	out := &stateLog{}
	aDone := make(chan struct{})
	bWaits := make(chan struct{})
	entered := map[string]bool{} // guarded by the partitions' lock
	p := Partitions[cur]{Keys: []string{"a", "b", "c"}, Cursors: st.Accounts, Limit: 3, State: func() any { return st }}
	// b waits until c has announced too, however long c takes to come (a
	// fixed spacing is a deadline a loaded machine can miss: b woke, found
	// c not there yet and went out alone); then c goes out at once. The
	// spacing asked while b waits always ends 10 ms from now, so b wakes
	// to look for c's announcement, never to emit its own.
	p.AnnounceEvery = func() time.Duration { // called under p.mu
		if entered["b"] && !entered["c"] {
			return time.Since(p.lastAnn) + 10*time.Millisecond
		}
		return 0
	}
	err := p.Read(context.Background(), out, func(ctx context.Context, part Output, i int, _ *cur) (*cur, error) {
		key := p.Keys[i]
		switch key {
		case "b":
			<-aDone
		case "c":
			<-bWaits // c announces while b waits
		}
		err := p.Announce(ctx, part, key, func(*cur) *cur {
			entered[key] = true
			if key == "b" {
				close(bWaits)
			}
			return &cur{Announced: key + "1"}
		})
		if key == "a" {
			close(aDone)
		}
		return nil, err // each keeps its announcement
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"accounts":{"a":{"Announced":"a1"}}}`,
		`{"accounts":{"a":{"Announced":"a1"},"b":{"Announced":"b1"},"c":{"Announced":"c1"}}}`,
		`{"accounts":{"a":{"Announced":"a1"},"b":{"Announced":"b1"},"c":{"Announced":"c1"}}}`, // the final checkpoint
	}
	if out.announces != 2 || !slices.Equal(out.states, want) {
		t.Errorf("%d announcements, states\n%s\nwant 2,\n%s", out.announces, strings.Join(out.states, "\n"), strings.Join(want, "\n"))
	}
}

// TestPartitionsTryAnnounce: TryAnnounce emits only when AnnounceEvery
// lets it now; refused, it still records the announcement (a later state
// holds it) and reports that nothing went out, so the caller keeps its rows.
func TestPartitionsTryAnnounce(t *testing.T) {
	type cur struct {
		Announced string `json:",omitempty"`
	}
	st := struct {
		Accounts map[string]*cur `json:"accounts"`
	}{Accounts: map[string]*cur{}}
	out := &stateLog{}
	spacing := time.Hour
	p := Partitions[cur]{Keys: []string{"a"}, Cursors: st.Accounts, Limit: 1, State: func() any { return st },
		AnnounceEvery: func() time.Duration { return spacing }}
	with := func(v string) func(*cur) *cur { return func(*cur) *cur { return &cur{Announced: v} } }

	if sent, err := p.TryAnnounce(out, "a", with("a1")); !sent || err != nil { // the first: nothing before it
		t.Fatalf("first: sent %v, err %v", sent, err)
	}
	if sent, err := p.TryAnnounce(out, "a", with("a2")); sent || err != nil {
		t.Fatalf("too soon: sent %v, err %v", sent, err)
	}
	if out.announces != 1 || st.Accounts["a"].Announced != "a2" {
		t.Fatalf("%d announcements, cursor %+v", out.announces, st.Accounts["a"])
	}
	spacing = 0
	if sent, err := p.TryAnnounce(out, "a", with("a3")); !sent || err != nil {
		t.Fatalf("allowed: sent %v, err %v", sent, err)
	}
	want := []string{`{"accounts":{"a":{"Announced":"a1"}}}`, `{"accounts":{"a":{"Announced":"a3"}}}`}
	if out.announces != 2 || !slices.Equal(out.states, want) {
		t.Errorf("%d announcements, states\n%s\nwant\n%s", out.announces, strings.Join(out.states, "\n"), strings.Join(want, "\n"))
	}
}
