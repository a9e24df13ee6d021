package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// TestEncoderLines: what a record becomes in the COPY stream. Columns of
// txStream: id amount date day n ok meta updatedAt, then _extracted_at,
// _deleted_at, _leftovers, _changes.
func TestEncoderLines(t *testing.T) {
	tb, err := newTable("s", txStream())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ rec, want string }{
		{`{"id":"a","amount":1.50,"n":2,"ok":false}`, `a	1.50	\N	\N	2	false	\N	\N`},
		// A key spelled with an escape is the same key.
		{`{"\u0069d":"b"}`, `b	\N	\N	\N	\N	\N	\N	\N`},
		// Text is escaped for COPY; a NUL cannot be text: it goes to the leftovers.
		{`{"id":"t\tab\\","meta":{"a":"x\ny"},"n":"7"}`, `t\tab\\	\N	\N	\N	\N	\N	{"a":"x\\ny"}	\N`},
		{`{"id":"c","day":"2026-02-30","date":"2026-01-01T00:00:00.0000001Z","ok":"yes"}`, `c	\N	\N	\N	\N	\N	\N	\N`},
		{`{"id":"d","date":"2026-01-01T03:00:00+03:00","x":"a\u0000b"}`, `d	\N	2026-01-01 00:00:00Z	\N	\N	\N	\N	\N`},
	} {
		e := newEncoder(tb, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		line, err := e.encode(nil, jsonrow.Of([]byte(c.rec)))
		if err != nil {
			t.Errorf("%s: %v", c.rec, err)
			continue
		}
		cols := strings.Split(strings.TrimSuffix(string(line), "\n"), "\t")
		got := strings.Join(cols[1:9], "\t")
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q\nleftovers %s", c.rec, got, c.want, cols[11])
		}
	}
	e := newEncoder(tb, time.Now())
	for _, bad := range []string{`[1]`, `{"id":"a"} x`, `{"id":"a",}`, `{"amount":1}`, `{"id":"a","n":tru}`} {
		if _, err := e.encode(nil, jsonrow.Of([]byte(bad))); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	// Leftovers keep what did not fit, verbatim; the connector's fields
	// fill columns Raw lacks.
	line, err := e.encode(nil, jsonrow.With([]byte(`{"id":"e","n":"seven","new":[1,2]}`), jsonrow.String("updatedAt", "2026-03-04T05:06:07Z"), jsonrow.String("id", "ignored")))
	if err != nil {
		t.Fatal(err)
	}
	cols := strings.Split(strings.TrimSuffix(string(line), "\n"), "\t")
	if cols[1] != "e" || cols[8] != "2026-03-04 05:06:07Z" || cols[11] != `{"n":"seven","new":[1,2]}` ||
		cols[12] != `[{"field":"n","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}]` {
		t.Errorf("line %q", line)
	}
}

// TestAppendTimestamp: the hand-written format is time's.
func TestAppendTimestamp(t *testing.T) {
	for _, s := range []string{"2026-01-02T03:04:05Z", "2026-01-02T03:04:05.1Z", "2026-01-02T03:04:05.000120Z", "0001-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999Z", "2026-01-01T03:00:00+03:00", "2026-07-09T10:11:12.5-07:30"} {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(appendTimestamp(nil, ts)), ts.UTC().Format("2006-01-02 15:04:05.999999Z07:00"); got != want {
			t.Errorf("%s: %s, want %s", s, got, want)
		}
	}
}
