package sourcetest

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// Text a hostile test puts in one field of some rows: BadUTF8 is invalid
// UTF-8 (a lone Latin-1 byte, two bytes never valid, a cut-off sequence),
// which the connector emits as ReplacedUTF8; GenuineFFFD is valid text
// holding a U+FFFD the API sent itself, which must not be noted.
const (
	BadUTF8      = "caf\xe9 \xff\xfe \xc3("
	ReplacedUTF8 = "caf\uFFFD \uFFFD \uFFFD("
	GenuineFFFD  = "sent as \uFFFD "
)

// MarkRows returns an edit for Rewrite that, on every answer, puts BadUTF8
// at the start of the first string value following marker (a member name
// and opening quote, `"description":"`) and GenuineFFFD at the start of the
// second; the other rows are left as they are.
func MarkRows(marker string) func([]byte) []byte {
	return func(b []byte) []byte {
		var out []byte
		for n, rest := 0, b; ; n++ {
			i := bytes.Index(rest, []byte(marker))
			if i < 0 || n == 2 {
				return append(out, rest...)
			}
			out = append(out, rest[:i+len(marker)]...)
			out = append(out, [...]string{BadUTF8, GenuineFFFD}[n]...)
			rest = rest[i+len(marker):]
		}
	}
}

// MarkRowsAfter is MarkRows on the part of each answer after the first
// start (`"pending":[`, say), the rest left as it is: the rows of one list
// of an answer that holds two, or rows found by a field that comes after
// the marker (the rows that follow the first holding start).
func MarkRowsAfter(start, marker string) func([]byte) []byte {
	mark := MarkRows(marker)
	return func(b []byte) []byte {
		i := bytes.Index(b, []byte(start))
		if i < 0 {
			return b
		}
		i += len(start)
		return append(append([]byte{}, b[:i]...), mark(b[i:])...)
	}
}

// MarkAnswers returns an edit for Rewrite for answers of one row each (an
// account's details): in turn, BadUTF8, GenuineFFFD and nothing go at the
// start of the first string value following marker.
func MarkAnswers(marker string) func([]byte) []byte {
	var n atomic.Int64
	return func(b []byte) []byte {
		i := bytes.Index(b, []byte(marker))
		if i < 0 {
			return b
		}
		i += len(marker)
		text := [...]string{BadUTF8, GenuineFFFD, ""}[(n.Add(1)-1)%3]
		return append(append(append([]byte{}, b[:i]...), text...), b[i:]...)
	}
}

// CheckReplacedNoted checks a read whose answers went through MarkRows:
// every row of stream holding ReplacedUTF8 notes field (a path such as
// "description" or "remittance_information[0]") as REPLACED for
// SOURCE_INVALID_UTF8, on stdout (the RECORD's meta), in the Parquet files
// under dir and in PostgreSQL's table schema.stream (conn); no other row
// has a change, the one with GenuineFFFD included. key names the stream's
// primary-key columns.
func CheckReplacedNoted(t *testing.T, r *Result, stream, field string, key []string, dir string, conn *pgx.Conn, schema string) {
	t.Helper()
	want := []map[string]string{{"field": field, "change": jsonrow.ChangeReplaced, "reason": jsonrow.ReasonInvalidUTF8}}
	noted := map[string]bool{} // row key -> its text was replaced
	var genuine int
	for _, m := range r.Messages {
		if m.Record == nil || m.Record.Stream != stream {
			continue
		}
		var data map[string]any
		Must(t, json.Unmarshal(m.Record.Data, &data), "record")
		k := rowKey(data, key)
		// The text as decoded: a record of kept text may spell U+FFFD as
		// an escape (\ufffd), as its state did.
		text, err := json.Marshal(data)
		Must(t, err, "record")
		bad := bytes.Contains(text, []byte(ReplacedUTF8))
		noted[k] = bad
		if bytes.Contains(text, []byte(GenuineFFFD)) {
			genuine++
		}
		var meta struct {
			Changes []map[string]string `json:"source_changes"`
		}
		if len(m.Record.Meta) > 0 {
			Must(t, json.Unmarshal(m.Record.Meta, &meta), "record meta")
		}
		if bad && !reflect.DeepEqual(meta.Changes, want) || !bad && len(m.Record.Meta) > 0 {
			t.Errorf("stdout %s row %s (replaced text %v): meta %s, want changes %v only on replaced rows", stream, k, bad, m.Record.Meta, want)
		}
	}
	replaced := 0
	for _, bad := range noted {
		if bad {
			replaced++
		}
	}
	if replaced == 0 || genuine == 0 || replaced+genuine >= len(noted) {
		t.Fatalf("%s: %d rows with replaced text, %d with a U+FFFD of their own, of %d: the test needs some of each and clean ones", stream, replaced, genuine, len(noted))
	}
	check := func(where, k string, changes *string) {
		t.Helper()
		bad, ok := noted[k]
		if !ok {
			t.Errorf("%s: row %s was not on stdout", where, k)
			return
		}
		var got []map[string]string
		if changes != nil {
			Must(t, json.Unmarshal([]byte(*changes), &got), where+" _changes")
		}
		if bad && !reflect.DeepEqual(got, want) || !bad && changes != nil {
			t.Errorf("%s row %s (replaced text %v): _changes %v, want %v only on replaced rows", where, k, bad, got, want)
		}
	}
	if dir != "" {
		rows := ParquetStrings(t, dir, stream, append([]string{"_changes"}, key...)...)
		for _, row := range rows {
			vals := map[string]any{}
			for _, c := range key {
				vals[c] = *row[c]
			}
			check("Parquet", rowKey(vals, key), row["_changes"])
		}
		if len(rows) != len(noted) {
			t.Errorf("Parquet has %d %s rows, stdout %d", len(rows), stream, len(noted))
		}
	}
	if conn != nil {
		cols := make([]string, len(key))
		for i, c := range key {
			cols[i] = pgx.Identifier{c}.Sanitize() + "::text"
		}
		q := "SELECT " + strings.Join(cols, ", ") + ", _changes::text FROM " + pgx.Identifier{schema, stream}.Sanitize()
		rs, err := conn.Query(context.Background(), q)
		Must(t, err, q)
		n := 0
		for rs.Next() {
			texts := make([]*string, len(key)+1)
			ptrs := make([]any, len(texts))
			for i := range texts {
				ptrs[i] = &texts[i]
			}
			Must(t, rs.Scan(ptrs...), q)
			row := map[string]any{}
			for i, c := range key {
				row[c] = *texts[i]
			}
			check("PostgreSQL", rowKey(row, key), texts[len(key)])
			n++
		}
		Must(t, rs.Err(), q)
		rs.Close()
		if n != len(noted) {
			t.Errorf("PostgreSQL has %d %s rows, stdout %d", n, stream, len(noted))
		}
	}
}

// CheckPendingNoted checks a read of the transactions and
// pending_transactions streams, in that order, whose pending rows come from
// the transactions stream's calls and went through MarkRowsAfter:
// CheckReplacedNoted of pending_transactions at field, no transactions row
// noted, and pending_transactions, which emits the rows, warning once.
func CheckPendingNoted(t *testing.T, r *Result, field string, key []string, dir string, conn *pgx.Conn, schema string) {
	t.Helper()
	CheckReplacedNoted(t, r, "pending_transactions", field, key, dir, conn, schema)
	for _, m := range r.Messages {
		if m.Record != nil && m.Record.Stream == "transactions" && len(m.Record.Meta) > 0 {
			t.Errorf("a booked row notes a change it does not hold: %s", m.Record.Meta)
		}
	}
	if warns := InvalidUTF8Warns(r); warns["pending_transactions"] != 1 {
		t.Errorf("WARNs about invalid UTF-8 per stream: %v, want one of pending_transactions, which emits the rows", warns)
	}
}

// InvalidUTF8Warns counts the WARNs of r about invalid UTF-8 by the stream
// each names first ("accounts: the API answered text that is not valid
// UTF-8 …"): a stream that emits replaced text says so once, whichever
// stream's call fetched it.
func InvalidUTF8Warns(r *Result) map[string]int {
	warns := map[string]int{}
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, "not valid UTF-8") {
			stream, _, _ := strings.Cut(m.Log.Message, ": ")
			warns[stream]++
		}
	}
	return warns
}

func rowKey(row map[string]any, key []string) string {
	parts := make([]string, len(key))
	for i, c := range key {
		s, _ := row[c].(string)
		parts[i] = s
	}
	return strings.Join(parts, "|")
}
