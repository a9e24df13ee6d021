package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

type stubStream struct{}

func (stubStream) Name() string                                                  { return "tx" }
func (stubStream) Schema() json.RawMessage                                       { return json.RawMessage(txSchema) }
func (stubStream) PrimaryKey() [][]string                                        { return [][]string{{"id"}} }
func (stubStream) CursorField() []string                                         { return []string{"updatedAt"} }
func (stubStream) Read(context.Context, source.ReadRequest, source.Output) error { return nil }

// recorder is the rest of the chain: it notes what it is passed.
type recorder struct{ got []string }

func (r *recorder) Record(jsonrow.Row) error { r.got = append(r.got, "row"); return nil }
func (r *recorder) State(s source.State) error {
	b, err := s.JSON()
	r.got = append(r.got, "state "+string(b))
	return err
}
func (r *recorder) Announce(a source.Announcement) error {
	b, err := a.State.JSON()
	r.got = append(r.got, "announce "+string(b))
	return err
}
func (r *recorder) End(err error) error {
	r.got = append(r.got, "end "+errString(err))
	return err
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// TestLinkHoldsStatesAndCommitsWhatTheyCover: the first state commits at
// once (in the background); a later one is held (few rows, little time) and
// passed on only when committed. A stream that fails commits its held state with the rows it
// covers and drops the rows after it.
func TestLinkHoldsStatesAndCommitsWhatTheyCover(t *testing.T) {
	url := pgtest.DB(t)
	d := open(t, url, Options{}, txStream())
	s := &Sink{d: d}
	next := &recorder{}
	l, err := s.OpenStream(source.StreamInfo{Stream: stubStream{}, Mode: protocol.Incremental}, next)
	if err != nil {
		t.Fatal(err)
	}
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	step(l.Record(jsonrow.Of([]byte(`{"id":"1"}`))))
	step(l.State(source.StateOf(json.RawMessage(`{"n":1}`))))
	step(l.Record(jsonrow.Of([]byte(`{"id":"2"}`))))
	step(l.State(source.StateOf(json.RawMessage(`{"n":2}`))))
	step(l.Record(jsonrow.Of([]byte(`{"id":"3"}`))))
	if got := strings.Join(next.got, ", "); strings.Contains(got, `{"n":2}`) {
		t.Fatalf("passed on: %s (state 2 is held)", got)
	}
	boom := errors.New("boom")
	if err := l.End(boom); !errors.Is(err, boom) {
		t.Fatalf("End: %v", err)
	}
	// The first state is merged in the background and goes on from
	// whichever call comes after its commit: somewhere after its row.
	got := strings.Join(next.got, ", ")
	if rest, ok := strings.CutPrefix(got, `row, `); !ok || strings.Count(rest, `{"n":1}`) != 1 || strings.Replace(rest, `state {"n":1}, `, ``, 1) != `row, row, state {"n":2}, end boom` {
		t.Fatalf("passed on: %s", got)
	}
	if got := strings.Join(rows(t, url, `SELECT id FROM "test".tx ORDER BY id`), ","); got != "1,2" {
		t.Fatalf("rows %s, want 1,2 (3 came after the last state)", got)
	}
	if got := rows(t, url, `SELECT state::text FROM "test"._state`); len(got) != 1 || got[0] != `{"n":2}` {
		t.Fatalf("stored state %v", got)
	}
}

// The sink holds the soft memory limit (package memlimit) from Open to
// Close: without it a 1M-row load's heap grew to twice its live heap.
func TestSinkHoldsTheMemoryLimit(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: the sink leaves the limit alone")
	}
	url := pgtest.DB(t)
	f := &Flags{Connector: "source-pluggy"}
	fs := pflag.NewFlagSet("read", pflag.ContinueOnError)
	f.AddFlags(fs)
	if err := fs.Parse([]string{"--postgres", url, "--postgres-schema", "memlimit"}); err != nil {
		t.Fatal(err)
	}
	before := debug.SetMemoryLimit(-1)
	s, err := f.Open([]source.Stream{stubStream{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != softLimit {
		t.Errorf("limit with the sink open: %d, want %d", got, softLimit)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after Close: %d, want %d", got, before)
	}
}
