package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

func fixedWriter(out io.Writer) *Writer {
	w := NewWriter(out, nil)
	w.now = func() time.Time { return time.UnixMilli(1700000000123) }
	return w
}

// encodingJSON is what Send wrote for every message before STATE got its
// own encoder.
func encodingJSON(t *testing.T, m *Message) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestStreamStateMatchesEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		state string
		stats *StateStats
	}{
		{`{"version":1,"accounts":{"a":{"created_at":"2026-01-01T00:00:00.000Z"}}}`, &StateStats{RecordCount: 250}},
		{`{"__ab_no_cursor_state_message":true}`, &StateStats{RecordCount: 0}},
		{`{"a":"<&>"}`, &StateStats{RecordCount: 1234567}},
		{`{}`, nil},
		{`null`, &StateStats{RecordCount: 1}},
		{"  {\"x\":1}\t", &StateStats{RecordCount: 3}},
		{`{"ids":"` + strings.Repeat("a", bufSize) + `"}`, &StateStats{RecordCount: 9}}, // written from where it is
	} {
		m := &Message{Type: TypeState, State: &State{Type: StateStream, Stream: &StreamState{
			StreamDescriptor: StreamDescriptor{Name: "transactions"}, StreamState: json.RawMessage(tc.state),
		}, SourceStats: tc.stats}}
		var out bytes.Buffer
		if err := fixedWriter(&out).Send(m); err != nil {
			t.Fatal(err)
		}
		if want := encodingJSON(t, m); out.String() != want {
			t.Errorf("state %.200s:\n got %.300s\nwant %.300s", tc.state, out.String(), want)
		}
	}
	// Shapes the fast path leaves to encoding/json come out the same too.
	for _, m := range []*Message{
		{Type: TypeState, State: &State{Type: StateStream, Stream: &StreamState{StreamDescriptor: StreamDescriptor{Name: "t", Namespace: "ns"}, StreamState: json.RawMessage(`{"a":1}`)}}},
		{Type: TypeState, State: &State{Type: StateStream, Stream: &StreamState{StreamDescriptor: StreamDescriptor{Name: "t"}, StreamState: json.RawMessage("{\n\"a\": 1\n}")}}},
		{Type: TypeState, State: &State{Type: StateStream, Stream: &StreamState{StreamDescriptor: StreamDescriptor{Name: "a<b"}, StreamState: json.RawMessage(`{}`)}}},
		{Type: TypeState, State: &State{Type: StateStream, Stream: &StreamState{StreamDescriptor: StreamDescriptor{Name: "t"}}}},
		{Type: TypeLog, Log: &Log{Level: LevelInfo, Message: "hello"}},
	} {
		var out bytes.Buffer
		if err := fixedWriter(&out).Send(m); err != nil {
			t.Fatal(err)
		}
		if want := encodingJSON(t, m); out.String() != want {
			t.Errorf("\n got %s\nwant %s", out.String(), want)
		}
	}
}

func TestRecordRow(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`{"id":"a","amount":-1.50}`, `{"itemId":"item-1","id":"a","amount":-1.50}`},
		{`  { "id":"a"}`, `{"itemId":"item-1","id":"a"}`},
		{`{}`, `{"itemId":"item-1"}`},
		{`{ }`, `{"itemId":"item-1"}`},
		{"{\n  \"id\": \"a\",\n  \"n\": 1\n}", `{"itemId":"item-1","id":"a","n":1}`},
		{"{\n}", `{"itemId":"item-1"}`},
		{`[1]`, `[1]`},
	} {
		var out bytes.Buffer
		w := fixedWriter(&out)
		if err := w.Record("transactions", jsonrow.Row{Raw: []byte(tc.raw), Fields: []jsonrow.Field{jsonrow.String("itemId", "item-1")}}); err != nil {
			t.Fatalf("%q: %v", tc.raw, err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		want := `{"type":"RECORD","record":{"stream":"transactions","data":` + tc.want + `,"emitted_at":1700000000123}}` + "\n"
		if out.String() != want {
			t.Errorf("%q:\n got %s\nwant %s", tc.raw, out.String(), want)
		}
		var m Message
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Errorf("%q: output is not JSON: %v", tc.raw, err)
		}
	}
	// Escaping keys and values is the encoder's job.
	var out bytes.Buffer
	w := fixedWriter(&out)
	_ = w.Record("t", jsonrow.Row{Raw: []byte(`{"a":1}`), Fields: []jsonrow.Field{jsonrow.String(`k"`, "v\n")}})
	_ = w.Flush()
	if want := `"data":{"k\"":"v\n","a":1}`; !strings.Contains(out.String(), want) {
		t.Errorf("got %s, want it to contain %s", out.String(), want)
	}
}

// slowPipe is a stdout that takes its time, as a pipe the platform drains
// slowly does, and records what it got.
type slowPipe struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (p *slowPipe) Write(b []byte) (int, error) {
	time.Sleep(200 * time.Microsecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

// TestWriterOrderUnderConcurrency: records of one worker stay in order, no
// line is torn, and a STATE comes after every record handed in before it,
// with writes to stdout happening outside the lock.
func TestWriterOrderUnderConcurrency(t *testing.T) {
	out := &slowPipe{}
	w := NewWriter(out, nil)
	const workers, records = 4, 3000
	row := `,"pad":"` + strings.Repeat("x", 300) + `"}`
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := map[int]int{} // worker -> records handed in so far
	for g := range workers {
		wg.Go(func() {
			for i := range records {
				raw := fmt.Sprintf(`{"w":%d,"i":%d%s`, g, i, row)
				var err error
				if i%2 == 0 {
					err = w.Record("s", jsonrow.Of([]byte(raw)))
				} else {
					err = w.Record("s", jsonrow.Row{Raw: []byte(raw), Fields: []jsonrow.Field{jsonrow.String("itemId", "x")}})
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				sent[g] = i + 1
				mu.Unlock()
				if i%500 == 499 {
					mu.Lock()
					// It covers every record handed in so far; every other
					// one is large enough to be written from where it is.
					pad := ""
					if i%1000 == 999 {
						pad = strings.Repeat("p", bufSize/2)
					}
					st, _ := json.Marshal(map[string]any{"covered": sent, "pad": pad})
					mu.Unlock()
					if err := w.Send(&Message{Type: TypeState, State: &State{Type: StateStream, Stream: &StreamState{
						StreamDescriptor: StreamDescriptor{Name: "s"}, StreamState: st}}}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	sc := bufio.NewScanner(&out.buf)
	sc.Buffer(nil, 1<<20)
	states := 0
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("torn line %q: %v", sc.Text(), err)
		}
		switch m.Type {
		case TypeRecord:
			var r struct{ W, I int }
			_ = json.Unmarshal(m.Record.Data, &r)
			if r.I != seen[r.W] {
				t.Fatalf("worker %d: record %d after %d", r.W, r.I, seen[r.W]-1)
			}
			seen[r.W]++
		case TypeState:
			states++
			var st struct{ Covered map[string]int }
			_ = json.Unmarshal(m.State.Stream.StreamState, &st)
			for g, n := range st.Covered {
				var gi int
				fmt.Sscan(g, &gi)
				if seen[gi] < n {
					t.Fatalf("state covers %d records of worker %d, only %d written before it", n, gi, seen[gi])
				}
			}
		}
	}
	for g := range workers {
		if seen[g] != records {
			t.Errorf("worker %d: %d records written, want %d", g, seen[g], records)
		}
	}
	if states != workers*records/500 {
		t.Errorf("%d states", states)
	}
}

type failAfter struct{ n int }

func (f *failAfter) Write(b []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("broken pipe")
	}
	f.n--
	return len(b), nil
}

func TestWriterErrorSticks(t *testing.T) {
	w := NewWriter(&failAfter{n: 1}, nil)
	if err := w.Log(LevelInfo, "one"); err != nil {
		t.Fatal(err)
	}
	if err := w.Log(LevelInfo, "two"); err == nil {
		t.Fatal("no error from a broken stdout")
	}
	if err := w.Record("s", jsonrow.Of([]byte(`{}`))); err == nil {
		t.Error("Record after a failed write succeeded")
	}
	if err := w.Flush(); err == nil {
		t.Error("Flush after a failed write succeeded")
	}
}

// BenchmarkRecordRow is the encode half of the hot path: one 700-byte row
// with its itemId, into the buffer, written out in 256 KB chunks.
func BenchmarkRecordRow(b *testing.B) {
	raw := []byte(`{"id":"1f4c07f1-3a9f-4f47-9b56-8d1f0c0a6e11","accountId":"5b1c6f1e-2d4f-4b1a-9a0e-6c2f7d3e8a90","date":"2026-05-14T00:00:00.000Z","description":"Pix recebido João","descriptionRaw":null,"currencyCode":"BRL","amount":1209.5,"amountInAccountCurrency":null,"balance":3021.77,"type":"CREDIT","status":"POSTED","category":"Transfer - PIX","categoryId":"05070000","providerCode":"123","providerId":null,"operationType":"PIX","operationTypeAdditionalInfo":null,"paymentData":{"payer":{"name":"Maria"},"paymentMethod":"PIX","referenceNumber":null,"reason":null,"boletoMetadata":null},"creditCardMetadata":null,"merchant":null,"createdAt":"2026-05-14T03:00:00.000Z","updatedAt":"2026-05-14T03:00:00.000Z"}`)
	w := NewWriter(io.Discard, nil)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	row := jsonrow.Row{Raw: raw, Fields: []jsonrow.Field{jsonrow.String("itemId", "d0ab10e7-c52d-45c9-8f88-e6d4ce44daa5")}}
	for b.Loop() {
		if err := w.Record("transactions", row); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStateFromMatchesState: a state streamed by StateFrom comes out byte
// for byte as State writes it, after the records buffered before it,
// whatever its size and stream name.
func TestStateFromMatchesState(t *testing.T) {
	big := `{"ids":"` + strings.Repeat("a", 3*bufSize) + `"}`
	for _, tc := range []struct{ stream, state string }{
		{"transactions", `{"version":1}`},
		{"transactions", big},
		{"a<b", `{"x":1}`}, // a name encoding/json escapes: written as bytes
	} {
		var want, got bytes.Buffer
		ww, gw := fixedWriter(&want), fixedWriter(&got)
		row := jsonrow.Of([]byte(`{"id":"1"}`))
		for _, w := range []*Writer{ww, gw} {
			if err := w.Record(tc.stream, row); err != nil {
				t.Fatal(err)
			}
		}
		if err := ww.State(tc.stream, json.RawMessage(tc.state), 7); err != nil {
			t.Fatal(err)
		}
		err := gw.StateFrom(tc.stream, func(w io.Writer) error {
			for s := tc.state; s != ""; { // in pieces, as a snapshot writes
				n := min(len(s), 1000)
				if _, err := io.WriteString(w, s[:n]); err != nil {
					return err
				}
				s = s[n:]
			}
			return nil
		}, 7)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("stream %s, state %.40s…: StateFrom wrote\n%.300s\nState wrote\n%.300s", tc.stream, tc.state, got.String(), want.String())
		}
	}
}
