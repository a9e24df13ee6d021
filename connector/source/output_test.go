package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// memSink is a sink that keeps every row and holds every state until the
// stream ends, as a sink committing only at the end would.
type memSink struct {
	rows   []string
	tomb   []bool
	held   []State
	ended  bool
	endErr error
}

func (s *memSink) OpenStream(_ StreamInfo, next StreamSink) (StreamSink, error) {
	return &memLink{s: s, next: next}, nil
}
func (s *memSink) Close() error { return nil }

type memLink struct {
	s    *memSink
	next StreamSink
}

func (l *memLink) Record(row jsonrow.Row) error {
	l.s.rows = append(l.s.rows, string(row.Bytes()))
	l.s.tomb = append(l.s.tomb, row.Tombstone)
	return l.next.Record(row)
}
func (l *memLink) State(st State) error {
	l.s.held = append(l.s.held, st)
	return nil
}
func (l *memLink) Announce(a Announcement) error { return l.State(a.State) }
func (l *memLink) End(readErr error) error {
	l.s.ended = true
	for _, st := range l.s.held {
		if err := l.next.State(st); err != nil {
			return err
		}
	}
	if readErr == nil {
		readErr = l.s.endErr
	}
	return l.next.End(readErr)
}

// TestRowsThroughTheChain: every row reaches stdout and the sink laid out
// alike (joined fields in front unless the row has them, however spelled);
// the sink's held states reach stdout only when it ends, with the counts of
// the records they cover, and --no-records leaves RECORDs off stdout only.
func TestRowsThroughTheChain(t *testing.T) {
	rows := []string{
		`{"id":"a","amount":1.10}`,
		`{"id":"b","itemId":"own"}`,               // has the key: unchanged
		`{"id":"c","paymentData":{"itemId":"x"}}`, // nested only: joined
		`{"id":"d","note":"itemId"}`,              // mentioned only: joined
		`{"id":"e","item\u0049d":"own"}`,          // has the key, escaped: unchanged
		"{\n \"id\": \"f\"\n}",
		`{}`,
	}
	for _, skip := range []bool{false, true} {
		var got bytes.Buffer
		sink := &memSink{}
		w := protocol.NewWriter(&got, nil)
		out, err := newStreamOutput(w, StreamInfo{Stream: stubStream{name: "transactions"}, Mode: protocol.Incremental}, []Sink{sink}, skip)
		if err != nil {
			t.Fatal(err)
		}
		joins := []jsonrow.Field{jsonrow.String("itemId", "item-1")}
		for i, r := range rows {
			if err := out.Record(jsonrow.Row{Raw: []byte(r), Fields: joins, Tombstone: i == 0}); err != nil {
				t.Fatal(err)
			}
			if i == 2 {
				if err := out.Checkpoint(map[string]int{"n": 3}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := out.Checkpoint(map[string]int{"n": 7}); err != nil {
			t.Fatal(err)
		}
		_ = w.Flush()
		if strings.Contains(got.String(), `"STATE"`) {
			t.Fatal("a state the sink holds reached stdout")
		}
		if outcome, err := out.finish(nil, nil); outcome != nil || err != nil {
			t.Fatal(outcome, err)
		}
		_ = w.Flush()
		var want bytes.Buffer
		for i, r := range rows {
			j := string(jsonrow.Join([]byte(r), "itemId", "item-1"))
			if sink.rows[i] != j || sink.tomb[i] != (i == 0) {
				t.Errorf("sink row %d = %s (tombstone %v), want %s", i, sink.rows[i], sink.tomb[i], j)
			}
			_ = json.Compact(&want, []byte(j))
			want.WriteByte('\n')
		}
		wantData := want.String()
		if skip {
			wantData = ""
		}
		if g := dataOf(t, got.Bytes()); g != wantData {
			t.Errorf("no-records %v, stdout:\n got %s\nwant %s", skip, g, wantData)
		}
		var counts []float64
		for _, line := range strings.Split(strings.TrimSpace(got.String()), "\n") {
			var m protocol.Message
			_ = json.Unmarshal([]byte(line), &m)
			if m.State != nil {
				counts = append(counts, float64(m.State.SourceStats.RecordCount))
			}
		}
		if fmt.Sprint(counts) != "[7 0]" {
			t.Errorf("no-records %v: state record counts %v, want [7 0] (all records before the first held state went out)", skip, counts)
		}
		if !strings.Contains(got.String(), `"status":"COMPLETE"`) {
			t.Error("no COMPLETE")
		}
	}
}

// TestSinkFailureFailsTheStream: a sink that cannot finish makes the stream
// INCOMPLETE, and the states it held are never emitted.
func TestSinkFailureFailsTheStream(t *testing.T) {
	var got bytes.Buffer
	w := protocol.NewWriter(&got, nil)
	sink := &memSink{endErr: errors.New("disk full")}
	sink.held = nil
	out, err := newStreamOutput(w, StreamInfo{Stream: stubStream{name: "s"}, Mode: protocol.FullRefresh}, []Sink{sink}, false)
	if err != nil {
		t.Fatal(err)
	}
	_ = out.Record(jsonrow.Of([]byte(`{"id":1}`)))
	outcome, err := out.finish(nil, nil)
	if err != nil || outcome == nil || !strings.Contains(outcome.Error(), "disk full") {
		t.Fatalf("outcome %v, %v", outcome, err)
	}
	_ = w.Flush()
	if !strings.Contains(got.String(), `"status":"INCOMPLETE"`) || !strings.Contains(got.String(), "disk full") {
		t.Errorf("stdout:\n%s", got.String())
	}
}

// dataOf returns the data of every RECORD, one per line, compacted.
func dataOf(t *testing.T, out []byte) string {
	t.Helper()
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var m protocol.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		if m.Type == protocol.TypeRecord {
			_ = json.Compact(&b, m.Record.Data)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

type indentedState struct{}

func (indentedState) MarshalJSON() ([]byte, error) { return []byte("{\n  \"a\": 1\n}"), nil }

// TestSelfEncodedStateStaysOnOneLine: a state's own MarshalJSON is used as
// it comes, but never breaks the one-message-per-line rule.
func TestSelfEncodedStateStaysOnOneLine(t *testing.T) {
	b, err := encodeState(indentedState{})
	if err != nil || string(b) != `{"a":1}` {
		t.Fatalf("encodeState = %s, %v", b, err)
	}
	var buf bytes.Buffer
	w := protocol.NewWriter(&buf, nil)
	out, _ := newStreamOutput(w, StreamInfo{Stream: stubStream{name: "s"}, Mode: protocol.Incremental}, nil, false)
	for range 2 {
		if err := out.Checkpoint(indentedState{}); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 {
		t.Fatalf("%d lines for one state written twice:\n%s", n, buf.Bytes())
	}
}

// liveState is a Snapshotter: Snapshot copies its counter, and encodes
// counts the snapshots encoded whole (MarshalJSON), apart from those
// streamed (WriteJSON) into the repeat check's hash or to stdout.
type liveState struct {
	n       int
	encodes *int
}

func (s *liveState) Snapshot() json.Marshaler { return snapState{n: s.n, encodes: s.encodes} }

type snapState struct {
	n       int
	encodes *int
}

func (s snapState) MarshalJSON() ([]byte, error) {
	*s.encodes++
	return fmt.Appendf(nil, `{"n":%d}`, s.n), nil
}

func (s snapState) WriteJSON(w io.Writer) error {
	_, err := fmt.Fprintf(w, `{"n":%d}`, s.n)
	return err
}

// latestSink holds only the newest state and passes it on at the end, as
// PostgreSQL holds the newest between its commits.
type latestSink struct{ held State }

func (s *latestSink) OpenStream(_ StreamInfo, next StreamSink) (StreamSink, error) {
	return &latestLink{s: s, next: next}, nil
}
func (s *latestSink) Close() error { return nil }

type latestLink struct {
	s    *latestSink
	next StreamSink
}

func (l *latestLink) Record(row jsonrow.Row) error  { return l.next.Record(row) }
func (l *latestLink) State(st State) error          { l.s.held = st; return nil }
func (l *latestLink) Announce(a Announcement) error { l.s.held = a.State; return nil }
func (l *latestLink) End(readErr error) error {
	if !l.s.held.IsZero() {
		if err := l.next.State(l.s.held); err != nil {
			return err
		}
	}
	return l.next.End(readErr)
}

// TestSnapshotEncodedOnlyWhenASinkAsks: a Snapshotter's checkpoints and
// announcements are not encoded when emitted, only when a link writes
// them (and a JSONWriter is streamed, never made whole), so states a sink
// drops for newer ones cost nothing; each is the state as it was when
// emitted, however the live state changed since; and a checkpoint that
// repeats the last one is still dropped.
func TestSnapshotEncodedOnlyWhenASinkAsks(t *testing.T) {
	encodes := 0
	live := &liveState{encodes: &encodes}
	var got bytes.Buffer
	w := protocol.NewWriter(&got, nil)
	sink := &latestSink{}
	out, err := newStreamOutput(w, StreamInfo{Stream: stubStream{name: "transactions"}, Mode: protocol.Incremental}, []Sink{sink}, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		live.n = i
		emit := out.Checkpoint
		if i%3 == 0 {
			emit = out.Announce
		}
		if err := emit(live); err != nil {
			t.Fatal(err)
		}
	}
	if encodes != 0 {
		t.Fatalf("%d states encoded before any was written", encodes)
	}
	live.n = 99 // after the last state: the held snapshot still says 6
	if outcome, err := out.finish(nil, nil); outcome != nil || err != nil {
		t.Fatal(outcome, err)
	}
	_ = w.Flush()
	if encodes != 0 {
		t.Errorf("%d states encoded whole, want 0: the one written is streamed", encodes)
	}
	if !strings.Contains(got.String(), `"stream_state":{"n":6}`) {
		t.Errorf("stdout lacks the state as it was at its checkpoint:\n%s", got.String())
	}

	// The repeat check hashes snapshots without encoding them whole.
	rec := &memSink{}
	out, err = newStreamOutput(w, StreamInfo{Stream: stubStream{name: "transactions"}, Mode: protocol.Incremental}, []Sink{rec}, true)
	if err != nil {
		t.Fatal(err)
	}
	encodes = 0
	for _, n := range []int{1, 1, 2} {
		live.n = n
		if err := out.Checkpoint(live); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.held) != 2 || encodes != 0 {
		t.Fatalf("%d states passed, %d encoded; want 2 (the repeat dropped) and 0", len(rec.held), encodes)
	}
}
