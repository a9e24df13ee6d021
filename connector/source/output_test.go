package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

type memSink struct{ rows []string }

func (s *memSink) Write(data []byte) (bool, error) {
	s.rows = append(s.rows, string(data))
	return false, nil
}
func (s *memSink) Commit() error { return nil }

// TestRecordJoinIsJoin: RecordJoin emits what Record(jsonrow.Join(...))
// would, to stdout and to a sink, whether or not raw already has the key.
func TestRecordJoinIsJoin(t *testing.T) {
	rows := []string{
		`{"id":"a","amount":1.10}`,
		`{"id":"b","itemId":"own"}`,               // has the key: unchanged
		`{"id":"c","paymentData":{"itemId":"x"}}`, // nested only: joined
		`{"id":"d","note":"itemId"}`,              // mentioned only: joined
		"{\n \"id\": \"e\"\n}",
		`{}`,
	}
	for _, withSink := range []bool{false, true} {
		var got, want bytes.Buffer
		sink := &memSink{}
		out := &streamOutput{w: protocol.NewWriter(&got, nil), name: "transactions", mode: protocol.Incremental}
		ref := &streamOutput{w: protocol.NewWriter(&want, nil), name: "transactions", mode: protocol.Incremental}
		if withSink {
			out.sink = sink
		}
		for _, r := range rows {
			if err := out.RecordJoin([]byte(r), "itemId", "item-1"); err != nil {
				t.Fatal(err)
			}
			if err := ref.Record(jsonrow.Join([]byte(r), "itemId", "item-1")); err != nil {
				t.Fatal(err)
			}
		}
		_ = out.w.Flush()
		_ = ref.w.Flush()
		if g, w := dataOf(t, got.Bytes()), dataOf(t, want.Bytes()); g != w {
			t.Errorf("sink %v:\n got %s\nwant %s", withSink, g, w)
		}
		if out.total != int64(len(rows)) || out.count != int64(len(rows)) {
			t.Errorf("counted %d/%d records, want %d", out.total, out.count, len(rows))
		}
		if withSink {
			for i, r := range rows {
				if j := string(jsonrow.Join([]byte(r), "itemId", "item-1")); sink.rows[i] != j {
					t.Errorf("sink row %d = %s, want %s", i, sink.rows[i], j)
				}
			}
		}
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

func TestMayHaveKey(t *testing.T) {
	for _, tc := range []struct {
		raw, key string
		want     bool
	}{
		{`{"id":"a","itemId":"b"}`, "itemId", true},
		{`{"itemId":"b"}`, "itemId", true},
		{`{"id":"a","itemid":"b","ItemId":1,"itemId_x":2}`, "itemId", false},
		{`{"accountId":"a","categoryId":"c","note":"I said itemId"}`, "itemId", false},
		{`{"a":"\"itemId\""}`, "itemId", false}, // escaped quotes: not the quoted key
		{`{"a":"x\",\"itemId\":1"}`, "itemId", false},
		{`{"a":"say \"hi\" \"itemId\": 1 \"itemId\""}`, "itemId", false},
		{`{"a":{"itemId":1}}`, "itemId", true}, // nested: jsonrow decides
		{`"itemId"`, "itemId", true},
		{`"itemI`, "itemId", false},
		{`Id"`, "itemId", false},
		{``, "itemId", false},
		{`{"id":"a"}`, "id", true},
		{`{"x":"a"}`, "k\"", true}, // escaping keys: always maybe
	} {
		if got := mayHaveKey([]byte(tc.raw), tc.key); got != tc.want {
			t.Errorf("mayHaveKey(%s, %q) = %v, want %v", tc.raw, tc.key, got, tc.want)
		}
		if !tc.want && bytes.Contains([]byte(tc.raw), []byte(`"`+tc.key+`"`)) {
			t.Errorf("%s contains %q but mayHaveKey says no", tc.raw, tc.key)
		}
	}
}

func BenchmarkMayHaveKey(b *testing.B) {
	raw := []byte(`{"id":"1f4c07f1-3a9f-4f47-9b56-8d1f0c0a6e11","accountId":"5b1c6f1e-2d4f-4b1a-9a0e-6c2f7d3e8a90","date":"2026-05-14T00:00:00.000Z","description":"Pix recebido João","descriptionRaw":null,"currencyCode":"BRL","amount":1209.5,"amountInAccountCurrency":null,"balance":3021.77,"type":"CREDIT","status":"POSTED","category":"Transfer - PIX","categoryId":"05070000","providerCode":"123","providerId":null,"operationType":"PIX","operationTypeAdditionalInfo":null,"paymentData":{"payer":{"name":"Maria"},"paymentMethod":"PIX","referenceNumber":null,"reason":null,"boletoMetadata":null},"creditCardMetadata":null,"merchant":null,"createdAt":"2026-05-14T03:00:00.000Z","updatedAt":"2026-05-14T03:00:00.000Z"}`)
	b.Run("anchored", func(b *testing.B) {
		for b.Loop() {
			if mayHaveKey(raw, "itemId") {
				b.Fatal("found")
			}
		}
	})
	b.Run("bytes.Contains", func(b *testing.B) {
		for b.Loop() {
			if bytes.Contains(raw, []byte(`"itemId"`)) {
				b.Fatal("found")
			}
		}
	})
}

// rotatingSink commits a file every `every` rows, like the Parquet sink.
type rotatingSink struct{ n, every int }

func (s *rotatingSink) Write([]byte) (bool, error) { s.n++; return s.n%s.every == 0, nil }
func (s *rotatingSink) Commit() error              { return nil }

// TestCheckpointWaitsOnlyForUncommittedRecords: with a sink, a STATE goes
// out at once when every record before it is in a committed file, is held
// while some are not, and is released by the commit that makes them durable.
func TestCheckpointWaitsOnlyForUncommittedRecords(t *testing.T) {
	var buf bytes.Buffer
	out := &streamOutput{w: protocol.NewWriter(&buf, nil), name: "transactions", mode: protocol.Incremental, sink: &rotatingSink{every: 3}}
	states := func() (n int) {
		out.w.Flush()
		sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
		for sc.Scan() {
			var m protocol.Message
			_ = json.Unmarshal(sc.Bytes(), &m)
			if m.State != nil {
				n++
			}
		}
		return n
	}
	step := func(what string, f func() error, want int) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		if got := states(); got != want {
			t.Fatalf("after %s: %d states, want %d", what, got, want)
		}
	}
	rec := func() error { return out.Record([]byte(`{"id":"x"}`)) }
	step("3 records (a file committed)", func() error { rec(); rec(); return rec() }, 0)
	step("checkpoint A, nothing uncommitted", func() error { return out.Checkpoint(map[string]int{"a": 1}) }, 1)
	step("1 more record", rec, 1)
	step("checkpoint B, 1 record uncommitted", func() error { return out.Checkpoint(map[string]int{"b": 2}) }, 1)
	step("record 5, still uncommitted", rec, 1)
	step("record 6 commits the file", rec, 2)
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
	out := &streamOutput{w: protocol.NewWriter(&buf, nil), name: "s", mode: protocol.Incremental}
	for range 2 {
		if err := out.Checkpoint(indentedState{}); err != nil {
			t.Fatal(err)
		}
	}
	out.w.Flush()
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 {
		t.Fatalf("%d lines for one state written twice:\n%s", n, buf.Bytes())
	}
}
