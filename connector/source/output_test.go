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
