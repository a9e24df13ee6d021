package sourcetest

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Output is a stream output (source.Output) for reading a stream
// in-process: it counts the records and keeps the last state the stream
// checkpointed or announced, whatever the mode (the runtime drops a
// full_refresh read's), for a test to look into.
type Output struct {
	mu    sync.Mutex
	n     int
	state any
}

// Record counts the record.
func (o *Output) Record(jsonrow.Row) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	return nil
}

// Checkpoint keeps the state.
func (o *Output) Checkpoint(state any) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.state = state
	return nil
}

// Announce keeps the state, as Checkpoint does.
func (o *Output) Announce(state any) error { return o.Checkpoint(state) }

// Logger discards.
func (o *Output) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Records is how many records the stream emitted.
func (o *Output) Records() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

// State is the last state the stream checkpointed or announced, as it
// handed it over; nil for none.
func (o *Output) State() any {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.state
}

// PlanCase is one way a run may read two streams that share answers: the
// plan the runtime tells the Conn (nil: none, as outside the runtime) and
// the streams read, in order.
type PlanCase struct {
	Name  string
	Plan  []string
	Reads []string
}

// PlanCases are the ways to read streams a and b, which share answers:
// both in either order, each alone, and both without a plan.
func PlanCases(a, b string) []PlanCase {
	return []PlanCase{
		{"both streams", []string{a, b}, []string{a, b}},
		{b + " first", []string{b, a}, []string{b, a}},
		{a + " only", []string{a}, []string{a}},
		{b + " only", []string{b}, []string{b}},
		{"no plan", nil, []string{a, b}},
	}
}

// ReadPlanned reads conn's streams as pc says, in full refresh: it tells
// conn the plan when there is one, and returns each stream's record count.
func ReadPlanned(t testing.TB, conn source.Conn, pc PlanCase) map[string]int {
	t.Helper()
	if p, ok := conn.(source.ReadPlanner); ok && pc.Plan != nil {
		p.PlanRead(pc.Plan)
	}
	streams := map[string]source.Stream{}
	for _, s := range conn.Streams() {
		streams[s.Name()] = s
	}
	records := map[string]int{}
	for _, name := range pc.Reads {
		var out Output
		if err := streams[name].Read(context.Background(), source.ReadRequest{Mode: protocol.FullRefresh}, &out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		records[name] = out.Records()
	}
	return records
}

// Open opens src with cfg for an in-process read, logs discarded.
func Open(t testing.TB, src source.Source, cfg map[string]any) source.Conn {
	t.Helper()
	raw, err := json.Marshal(cfg)
	Must(t, err, "config")
	conn, err := src.Open(context.Background(), raw, source.Env{Secrets: &secret.Redactor{}, Log: slog.New(slog.DiscardHandler)})
	Must(t, err, "open")
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
