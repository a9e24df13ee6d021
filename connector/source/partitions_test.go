package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// stateLog is an Output that keeps the checkpoints it is given.
type stateLog struct {
	mu     sync.Mutex
	states []string
}

func (s *stateLog) Record(jsonrow.Row) error { return nil }
func (s *stateLog) Checkpoint(st any) error {
	b, err := json.Marshal(st)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states = append(s.states, string(b))
	return err
}
func (s *stateLog) Log(protocol.Level, string) {}
func (s *stateLog) Logger() *slog.Logger       { return slog.New(slog.DiscardHandler) }

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
	err := p.Read(context.Background(), out, func(_ context.Context, i int, prev *cur) (*cur, error) {
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
