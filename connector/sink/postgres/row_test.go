package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
)

// TestEncoderTuples: what a record becomes in the COPY stream. Columns of
// txStream: id amount date day n ok meta updatedAt, then _extracted_at,
// _deleted_at, _leftovers, _changes; decodeTuple renders each field as
// PostgreSQL would print it (\N for null).
func TestEncoderTuples(t *testing.T) {
	tb, err := newTable("s", txStream())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rec  string
		want []string
	}{
		// An empty string is text, not null, even in an encoder's first row.
		{`{"id":"","amount":0,"n":-9223372036854775808,"meta":[]}`, []string{"", "0", `\N`, `\N`, "-9223372036854775808", `\N`, "[]", `\N`}},
		{`{"id":"a","amount":1.50,"n":2,"ok":false}`, []string{"a", "1.50", `\N`, `\N`, "2", "false", `\N`, `\N`}},
		// A key spelled with an escape is the same key.
		{`{"\u0069d":"b","day":"2026-02-28","ok":true,"amount":-0.0015e1}`, []string{"b", "-0.015", `\N`, "2026-02-28", `\N`, "true", `\N`, `\N`}},
		// Text goes as it is; a NUL cannot be text: it goes to the leftovers.
		{`{"id":"t\tab\\","meta":{"a":"x\ny"},"n":"7"}`, []string{"t\tab\\", `\N`, `\N`, `\N`, `\N`, `\N`, `{"a":"x\ny"}`, `\N`}},
		{`{"id":"c","day":"2026-02-30","date":"2026-01-01T00:00:00.0000001Z","ok":"yes"}`, []string{"c", `\N`, `\N`, `\N`, `\N`, `\N`, `\N`, `\N`}},
		{`{"id":"d","date":"2026-01-01T03:00:00+03:00","x":"a\u0000b"}`, []string{"d", `\N`, "2026-01-01 00:00:00Z", `\N`, `\N`, `\N`, `\N`, `\N`}},
	} {
		e := newEncoder(tb, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		tuple, err := e.encode(nil, jsonrow.Of([]byte(c.rec)))
		if err != nil {
			t.Errorf("%s: %v", c.rec, err)
			continue
		}
		cols := decodeTuple(t, tb, tuple)
		if got := cols[1:9]; !slices.Equal(got, c.want) {
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
	tuple, err := e.encode(nil, jsonrow.With([]byte(`{"id":"e","n":"seven","new":[1,2]}`), jsonrow.String("updatedAt", "2026-03-04T05:06:07Z"), jsonrow.String("id", "ignored")))
	if err != nil {
		t.Fatal(err)
	}
	cols := decodeTuple(t, tb, tuple)
	if cols[1] != "e" || cols[8] != "2026-03-04 05:06:07Z" || cols[11] != `{"n":"seven","new":[1,2]}` ||
		cols[12] != `[{"field":"n","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}]` {
		t.Errorf("tuple %q", cols)
	}
}

// decodeTuple reads one tuple of the binary COPY format back: _seq, the
// table's columns, _extracted_at, _deleted_at, _leftovers, _changes.
func decodeTuple(t *testing.T, tb *table, b []byte) []string {
	t.Helper()
	types := []string{"bigint"}
	for _, c := range tb.cols {
		types = append(types, c.sqlType)
	}
	types = append(types, "timestamp with time zone", "timestamp with time zone", "jsonb", "jsonb")
	if n := int(binary.BigEndian.Uint16(b)); n != len(types) {
		t.Fatalf("tuple has %d fields, want %d", n, len(types))
	}
	b = b[2:]
	var out []string
	for _, typ := range types {
		n := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		if n < 0 {
			out = append(out, `\N`)
			continue
		}
		v := b[:n]
		b = b[n:]
		switch typ {
		case "bigint":
			out = append(out, strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10))
		case "boolean":
			out = append(out, strconv.FormatBool(v[0] == 1))
		case "numeric":
			out = append(out, numericText(v))
		case "timestamp with time zone":
			us := int64(binary.BigEndian.Uint64(v))
			out = append(out, time.Unix(pgEpoch, 0).Add(time.Duration(us)*time.Microsecond).UTC().Format("2006-01-02 15:04:05.999999Z07:00"))
		case "date":
			days := int32(binary.BigEndian.Uint32(v))
			out = append(out, time.Unix(pgEpoch, 0).AddDate(0, 0, int(days)).UTC().Format("2006-01-02"))
		case "jsonb":
			if v[0] != jsonbVersion {
				t.Fatalf("jsonb version %d", v[0])
			}
			out = append(out, string(v[1:]))
		default:
			out = append(out, string(v))
		}
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes after the tuple", len(b))
	}
	return out
}

// numericText prints a binary numeric as numeric's output does.
func numericText(v []byte) string {
	n := int(binary.BigEndian.Uint16(v))
	weight := int(int16(binary.BigEndian.Uint16(v[2:])))
	sign := binary.BigEndian.Uint16(v[4:])
	dscale := int(binary.BigEndian.Uint16(v[6:]))
	// The value is sum(d[i] * 10000^(weight-i)); write it as a decimal
	// integer part and fraction.
	r := new(big.Rat)
	for i := range n {
		d := new(big.Rat).SetInt64(int64(binary.BigEndian.Uint16(v[8+2*i:])))
		p := new(big.Int).Exp(big.NewInt(10000), big.NewInt(int64(abs(weight-i))), nil)
		if weight-i >= 0 {
			d.Mul(d, new(big.Rat).SetInt(p))
		} else {
			d.Quo(d, new(big.Rat).SetInt(p))
		}
		r.Add(r, d)
	}
	if sign == 0x4000 {
		r.Neg(r)
	}
	return r.FloatString(dscale)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestBinaryValuesAsTheServerReadsText: numbers, instants and dates sent
// in the binary format are what PostgreSQL makes of the same JSON text:
// the same value and, for numeric, the same display scale.
func TestBinaryValuesAsTheServerReadsText(t *testing.T) {
	nums := []string{"0", "-0", "0.0", "0.000", "1", "-1", "1.50", "12.3456", "-12.3456", "1e2", "1E+2", "1.5e-3", "-0.0015e1",
		"100", "10000", "9999", "99999999", "0.0001", "0.00001", "123456789.987654321", "1e-20", "5e20", "1.000000000000000000001",
		"-98765.4321", "1e1000", "1e-1000", "0e5", "0.0e-5", "3.14159265358979323846264338327950288419716939937510"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		var b strings.Builder
		if rng.IntN(2) == 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(rng.IntN(1000000)))
		if rng.IntN(2) == 0 {
			fmt.Fprintf(&b, ".%0*d", 1+rng.IntN(12), rng.IntN(1000000))
		}
		if rng.IntN(3) == 0 {
			fmt.Fprintf(&b, "e%d", rng.IntN(40)-20)
		}
		nums = append(nums, b.String())
	}
	times := []string{"2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123456+03:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z",
		"1999-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z", "2000-01-01T00:00:00+14:00", "2026-06-30T23:59:59.5-09:30"}
	dates := []string{"2026-01-02", "0001-01-01", "9999-12-31", "1999-12-31", "2000-01-01", "1900-02-28"}

	conn := pgtest.Connect(t, pgtest.DB(t))
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "CREATE TABLE v (i int, n numeric, t timestamptz, d date, nt text, tt text, dt text)"); err != nil {
		t.Fatal(err)
	}
	var stream []byte
	stream = append(stream, copyHeader...)
	field := appendField
	for i := range max(len(nums), len(times), len(dates)) {
		stream = binary.BigEndian.AppendUint16(stream, 7)
		stream = field(stream, binary.BigEndian.AppendUint32(nil, uint32(i)))
		var n, ts, d, nt, tt, dt []byte
		if i < len(nums) {
			var ok bool
			if n, ok = appendNumeric(nil, []byte(nums[i])); !ok {
				t.Fatalf("%s: not encoded", nums[i])
			}
			nt = []byte(nums[i])
		}
		if i < len(times) {
			tm, err := time.Parse(time.RFC3339Nano, times[i])
			if err != nil {
				t.Fatal(err)
			}
			ts, tt = appendTimestamptz(nil, tm), []byte(times[i])
		}
		if i < len(dates) {
			e := newEncoder(&table{}, time.Now())
			var ok bool
			if d, ok = e.value(&column{kind: columns.Date}, []byte(`"`+dates[i]+`"`)); !ok {
				t.Fatalf("%s: not encoded", dates[i])
			}
			dt = []byte(dates[i])
		}
		for _, v := range [][]byte{n, ts, d, nt, tt, dt} {
			stream = field(stream, v)
		}
	}
	stream = append(stream, copyTrailer...)
	if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(stream), "COPY v FROM STDIN (FORMAT binary)"); err != nil {
		t.Fatal(err)
	}
	bad := pgtest.Rows(t, conn, `SELECT i, coalesce(n::text, '-'), coalesce(nt::numeric::text, '-'), coalesce(t::text, '-'), coalesce(tt::timestamptz::text, '-'),
		coalesce(d::text, '-'), coalesce(dt::date::text, '-')
		FROM v WHERE n::text IS DISTINCT FROM nt::numeric::text OR t IS DISTINCT FROM tt::timestamptz OR d IS DISTINCT FROM dt::date ORDER BY i`)
	if len(bad) > 0 {
		t.Errorf("binary values differ from the server's reading of the text (i|binary|text|...):\n%s", strings.Join(bad, "\n"))
	}
	if n := pgtest.Rows(t, conn, "SELECT count(*) FROM v"); n[0] != strconv.Itoa(max(len(nums), len(times), len(dates))) {
		t.Fatalf("rows %v", n)
	}
}

func TestJsonbHolds(t *testing.T) {
	for v, want := range map[string]bool{
		`"plain"`: true, `{"a":[1,"b"]}`: true, `"\u00e9\n\""`: true,
		`"\ud83d\ude00"`: true, `"\uD83D\uDE00"`: true, `"C:\\u0000"`: true, `"\\\\"`: true,
		`"\u0000"`: false, `"a\u0000"`: false, `"\ud83d"`: false, `"\ud83dx"`: false,
		`"\ud83d\u0041"`: false, `"\ud83d\ud83d"`: false, `"\ude00"`: false, `{"\udbff":1}`: false,
		`"\\\u0000"`: false,
	} {
		if got := jsonbHolds([]byte(v)); got != want {
			t.Errorf("jsonbHolds(%s) = %v, want %v", v, got, want)
		}
	}
}

// TestRepeatsKey: an object naming a key twice, at any depth, however the
// key is spelt (jsonb compares keys unescaped), and nothing else: the same
// key in sibling or nested objects is no repeat.
func TestRepeatsKey(t *testing.T) {
	e := newEncoder(&table{}, time.Now())
	for v, want := range map[string]bool{
		`{"a":1,"a":2}`: true, `{"a":{"b":1},"c":[{"d":1,"d":null}]}`: true, `[1,{"x":{"y":1,"y":1}}]`: true,
		`{"a":1,"\u0061":2}`: true, `{"a":{"a":1},"b":{"a":2}}`: false, `[{"a":1},{"a":2}]`: false,
		`{"a":"{\"a\":1,\"a\":2}"}`: false, `"{"`: false, `["a","a"]`: false, `{}`: false, `{"a":1,"b":2}`: false,
	} {
		if got := e.repeatsKey([]byte(v)); got != want {
			t.Errorf("repeatsKey(%s) = %v, want %v", v, got, want)
		}
	}
	v := []byte(`{"a":{"b":1,"c":[{"d":1}]},"e":2}`)
	if allocs := testing.AllocsPerRun(100, func() { e.repeatsKey(v) }); allocs > 0 {
		t.Errorf("repeatsKey allocates %v times a value once warm", allocs)
	}
}

// TestJsonbReplace: every escape jsonbHolds refuses becomes \ufffd, the
// one character each is read as; everything else, pairs and escaped
// backslashes included, stays as sent.
func TestJsonbReplace(t *testing.T) {
	for v, want := range map[string]string{
		`"plain"`: `"plain"`, `"\ud83d\ude00"`: `"\ud83d\ude00"`, `"C:\\u0000"`: `"C:\\u0000"`,
		`"\u0000"`: `"\ufffd"`, `"a\u0000b"`: `"a\ufffdb"`, `"\ud83d"`: `"\ufffd"`, `"\ud83dx"`: `"\ufffdx"`,
		`"\ud83d\u0041"`: `"\ufffd\u0041"`, `"\ud83d\ud83d\ude00"`: `"\ufffd\ud83d\ude00"`, `"\ude00"`: `"\ufffd"`,
		`{"\udbff":"x\ud800"}`: `{"\ufffd":"x\ufffd"}`, `"\\\u0000"`: `"\\\ufffd"`,
	} {
		got := string(jsonbReplace([]byte(v)))
		if got != want || !jsonbHolds([]byte(got)) {
			t.Errorf("jsonbReplace(%s) = %s, want %s", v, got, want)
		}
		var a, b any
		// What encoding/json reads: a lone half is U+FFFD already; a
		// NUL becomes one.
		if json.Unmarshal([]byte(v), &a) != nil || json.Unmarshal([]byte(got), &b) != nil || !reflect.DeepEqual(nulAsFFFD(a), b) {
			t.Errorf("jsonbReplace(%s) = %s reads as %q, the text as sent as %q", v, got, b, a)
		}
	}
}

// nulAsFFFD is v with U+FFFD for every NUL of its strings and keys.
func nulAsFFFD(v any) any {
	fix := func(s string) string { return strings.ReplaceAll(s, "\x00", "\uFFFD") }
	switch v := v.(type) {
	case string:
		return fix(v)
	case []any:
		for i := range v {
			v[i] = nulAsFFFD(v[i])
		}
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[fix(k)] = nulAsFFFD(x)
		}
		return out
	}
	return v
}

// TestParseInt: what JSON Schema counts as an integer fits an integer
// column (as in the Parquet sink); a fraction, a value past int64, a
// string, or an exponent too large to expand does not.
func TestParseInt(t *testing.T) {
	for in, want := range map[string]any{
		"3": int64(3), "-7": int64(-7), "3.0": int64(3), "3.000": int64(3), "1.5e1": int64(15), "-2E+2": int64(-200),
		"9223372036854775807": int64(9223372036854775807), "0.0": int64(0),
		"3.5": nil, "9223372036854775808": nil, `"3"`: nil, "1e999999999": nil, "1e-2": nil, "true": nil,
	} {
		n, ok := parseInt([]byte(in))
		if want == nil && ok || want != nil && (!ok || n != want.(int64)) {
			t.Errorf("parseInt(%s) = %d, %v; want %v", in, n, ok, want)
		}
	}
}
