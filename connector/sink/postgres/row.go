package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// deletedField is the member a tombstone carries: the row was deleted at
// that instant. It becomes the _deleted_at column, not a column of its own.
const deletedField = "_ab_cdc_deleted_at"

// encoder turns records into lines of COPY's text format for the load table
// (seq, the table's columns, _extracted_at, _deleted_at, _leftovers,
// _changes).
//
// A record is scanned once, member by member at its top level. Each member
// whose value its typed column holds exactly goes there; any other member
// (a field the schema lacks, or a value of the wrong shape) goes into
// _leftovers, verbatim, with its column null and, for a value of the wrong
// shape, the change noted in _changes: nothing is rounded, guessed or lost
// (package columns has the rule every typed sink follows).
type encoder struct {
	t         *table
	extracted []byte // _extracted_at of every row of this run
	seq       int64

	vals  [][]byte // per column: the encoded value, nil for null
	set   []bool
	meta  columns.RowMeta // _leftovers and _changes
	warn  columns.Warner  // one WARN per nulled field per run
	del   []byte
	arena []byte
	order []int // column index of the k-th key last time, -1 unknown
	sc    jsonrow.Scanner
}

func newEncoder(t *table, extractedAt time.Time) *encoder {
	return &encoder{
		t:         t,
		extracted: []byte(extractedAt.UTC().Format("2006-01-02 15:04:05.999999Z07:00")),
		vals:      make([][]byte, len(t.cols)),
		set:       make([]bool, len(t.cols)),
	}
}

// errNotObject is a record that is not a JSON object.
var errNotObject = errors.New("a record must be a JSON object")

// encode appends the COPY line of row to dst: Raw's members, then the
// connector's fields that Raw lacks.
func (e *encoder) encode(dst []byte, row jsonrow.Row) ([]byte, error) {
	for i := range e.vals {
		e.vals[i] = nil
		e.set[i] = false
	}
	e.meta.Reset()
	e.del = nil
	e.arena = e.arena[:0]
	if err := e.members(row.Raw); err != nil {
		return dst, err
	}
	for _, f := range row.Fields {
		idx, known := e.t.byName[f.Key]
		if known && e.set[idx] || !known && jsonrow.HasKey(row.Raw, f.Key) {
			continue // the API's own value wins
		}
		start := len(e.arena)
		e.arena = jsonrow.AppendString(e.arena, f.Key)
		kEnd := len(e.arena)
		e.arena = f.AppendValue(e.arena)
		e.member(-1, e.arena[start:kEnd:kEnd], []byte(f.Key), e.arena[kEnd:len(e.arena):len(e.arena)])
	}
	for _, ch := range row.Changes {
		e.meta.Change(ch)
	}
	for _, pk := range e.t.pk {
		if e.vals[pk] == nil {
			return dst, &missingKeyError{field: e.t.cols[pk].name}
		}
	}
	e.seq++
	dst = strconv.AppendInt(dst, e.seq, 10)
	for i := range e.t.cols {
		dst = append(dst, '\t')
		if e.vals[i] == nil {
			dst = append(dst, `\N`...)
		} else {
			dst = append(dst, e.vals[i]...)
		}
	}
	dst = append(dst, '\t')
	dst = append(dst, e.extracted...)
	dst = append(dst, '\t')
	if e.del == nil {
		dst = append(dst, `\N`...)
	} else {
		dst = append(dst, e.del...)
	}
	for _, text := range [][]byte{e.meta.LeftoversJSON(), e.meta.ChangesJSON()} {
		dst = append(dst, '\t')
		if text == nil {
			dst = append(dst, `\N`...)
		} else {
			dst = appendCopyText(dst, text)
		}
	}
	return append(dst, '\n'), nil
}

// missingKeyError is a record without a value for a primary-key column.
type missingKeyError struct{ field string }

func (m *missingKeyError) Error() string {
	return "the record has no usable value for primary-key field " + m.field
}

// members walks rec's top-level members with the project's one JSON
// scanner: each member's value is taken as its raw text, verbatim.
func (e *encoder) members(rec []byte) error {
	sc := &e.sc
	sc.Reset(rec)
	if sc.Peek() != '{' {
		return errNotObject
	}
	sc.Next()
	if sc.Peek() == '}' {
		sc.Next()
		return e.end()
	}
	for k := 0; ; k++ {
		sc.WS()
		start := sc.Pos()
		key, err := sc.Str()
		if err != nil {
			return err
		}
		rawKey := rec[start:sc.Pos()]
		if err := sc.Expect(':'); err != nil {
			return err
		}
		v, err := sc.Raw()
		if err != nil {
			return err
		}
		e.member(k, rawKey, key, v)
		switch sc.Peek() {
		case ',':
			sc.Next()
		case '}':
			sc.Next()
			return e.end()
		default:
			return sc.Syntax("want ',' or '}'")
		}
	}
}

// end checks that nothing follows the record's object.
func (e *encoder) end() error {
	if !e.sc.AtEnd() {
		return e.sc.Syntax("data after the record's object")
	}
	return nil
}

// member stores one member: in its column, as the deletion time, or in the
// leftovers.
//
// k is the member's position in the record (-1 for a connector's field):
// rows of one API list their keys in the same order, so the column the
// k-th key had last time is tried before the map.
func (e *encoder) member(k int, rawKey, key, v []byte) {
	idx := -1
	if k >= 0 && k < len(e.order) && e.order[k] >= 0 && e.t.cols[e.order[k]].name == string(key) {
		idx = e.order[k]
	} else if j, ok := e.t.byName[string(key)]; ok {
		idx = j
	}
	if k >= 0 {
		for len(e.order) <= k {
			e.order = append(e.order, -1)
		}
		e.order[k] = idx
	}
	if idx < 0 {
		if string(key) == deletedField {
			if ts, ok := e.timestamp(v); ok {
				e.del = ts
				return
			}
		}
		e.leftover(rawKey, v)
		return
	}
	c := &e.t.cols[idx]
	if c.parsedOf >= 0 {
		// A <name>_parsed column is filled from its source field, never
		// from a member of that name.
		e.leftover(rawKey, v)
		return
	}
	if v[0] == 'n' { // null
		e.vals[idx], e.set[idx] = nil, true
		return
	}
	enc, ok := e.value(c, v)
	if !ok {
		e.leftover(rawKey, v)
		e.vals[idx] = nil
		e.meta.Nulled(c.name)
		e.warn.Nulled(c.name, fmt.Errorf("%.80s is not a PostgreSQL %s", v, c.sqlType))
		return
	}
	e.vals[idx], e.set[idx] = enc, true
	if c.kind == columns.Lenient && c.parsed >= 0 {
		if s, ok := unquote(v); ok {
			if ts, ok := parseLenient(s); ok {
				e.vals[c.parsed] = e.stash(ts)
			}
		}
	}
}

// leftover adds a member to _leftovers. A value jsonb cannot hold (a
// string with \u0000) is kept as the JSON string of its text.
func (e *encoder) leftover(rawKey, v []byte) {
	if bytes.Contains(v, []byte(`\u0000`)) {
		v, _ = json.Marshal(string(v))
	}
	e.meta.Leftover(rawKey, v)
}

// stash copies b into the row's arena and returns the copy.
func (e *encoder) stash(b []byte) []byte {
	start := len(e.arena)
	e.arena = append(e.arena, b...)
	return e.arena[start:len(e.arena):len(e.arena)]
}

// value encodes v (not null) for column c, or reports that it does not fit.
func (e *encoder) value(c *column, v []byte) ([]byte, bool) {
	switch c.kind {
	case columns.String, columns.Lenient:
		switch v[0] {
		case '"':
			s, ok := unquote(v)
			if !ok || bytes.IndexByte(s, 0) >= 0 {
				return nil, false
			}
			return e.text(s), true
		case '{', '[':
			return nil, false
		default: // a number or boolean: its JSON text, as the Parquet sink does
			return e.text(v), true
		}
	case columns.JSON, columns.Struct, columns.List:
		if bytes.Contains(v, []byte(`\u0000`)) {
			return nil, false // jsonb cannot hold NUL
		}
		return e.text(v), true
	case columns.Bool:
		if string(v) == "true" || string(v) == "false" {
			return v, true
		}
	case columns.Int:
		if _, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return v, true
		}
	case columns.Decimal:
		num := v
		if v[0] == '"' {
			s, ok := unquote(v)
			if !ok {
				return nil, false
			}
			num = s
		}
		if validNumeric(num) {
			return e.stash(num), true
		}
	case columns.Timestamp:
		return e.timestamp(v)
	case columns.Date:
		if s, ok := unquote(v); ok && len(s) == 10 {
			if d, err := time.Parse("2006-01-02", string(s)); err == nil && d.Year() >= 1 {
				return e.stash(s), true
			}
		}
	}
	return nil, false
}

// timestamp parses an RFC 3339 string into timestamptz text. An instant
// finer than the microsecond PostgreSQL keeps does not fit.
func (e *encoder) timestamp(v []byte) ([]byte, bool) {
	s, ok := unquote(v)
	if !ok {
		return nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil || t.Nanosecond()%1000 != 0 || t.Year() < 1 {
		return nil, false
	}
	start := len(e.arena)
	e.arena = appendTimestamp(e.arena, t)
	return e.arena[start:len(e.arena):len(e.arena)], true
}

// appendTimestamp appends t in UTC as t.AppendFormat would with
// "2006-01-02 15:04:05.999999Z07:00", a few times faster: three of them
// per transaction made a tenth of the encoder's time.
func appendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year > 9999 {
		return t.AppendFormat(dst, "2006-01-02 15:04:05.999999Z07:00")
	}
	two := func(dst []byte, n int) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }
	dst = two(two(dst, year/100), year%100)
	dst = two(append(dst, '-'), int(month))
	dst = two(append(dst, '-'), day)
	dst = two(append(dst, ' '), hour)
	dst = two(append(dst, ':'), minute)
	dst = two(append(dst, ':'), sec)
	if us := t.Nanosecond() / 1000; us > 0 {
		var frac [6]byte
		for i := 5; i >= 0; i-- {
			frac[i] = byte('0' + us%10)
			us /= 10
		}
		n := 6
		for frac[n-1] == '0' {
			n--
		}
		dst = append(append(dst, '.'), frac[:n]...)
	}
	return append(dst, 'Z')
}

// text escapes s for COPY's text format into the arena.
func (e *encoder) text(s []byte) []byte {
	start := len(e.arena)
	e.arena = appendCopyText(e.arena, s)
	return e.arena[start:len(e.arena):len(e.arena)]
}

// copyEscaped marks the bytes COPY's text format escapes.
var copyEscaped = [256]bool{'\\': true, '\t': true, '\n': true, '\r': true, '\b': true, '\f': true, '\v': true}

// appendCopyText appends s with COPY's text-format escapes. It scans with a
// table rather than bytes.IndexAny, which builds its set at every call: the
// difference is a tenth of the encoder's time.
func appendCopyText(dst, s []byte) []byte {
	for {
		i := 0
		for i < len(s) && !copyEscaped[s[i]] {
			i++
		}
		if i == len(s) {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		switch s[i] {
		case '\\':
			dst = append(dst, `\\`...)
		case '\t':
			dst = append(dst, `\t`...)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\b':
			dst = append(dst, `\b`...)
		case '\f':
			dst = append(dst, `\f`...)
		case '\v':
			dst = append(dst, `\v`...)
		}
		s = s[i+1:]
	}
}

// validNumeric reports whether b is a JSON number PostgreSQL's numeric holds
// exactly (its exponent range is far wider than any amount).
func validNumeric(b []byte) bool {
	var sc jsonrow.Scanner
	sc.Reset(b)
	if _, err := sc.Number(); err != nil || !sc.AtEnd() {
		return false
	}
	if i := bytes.IndexAny(b, "eE"); i >= 0 {
		exp, err := strconv.Atoi(string(b[i+1:]))
		if err != nil || exp > 1000 || exp < -1000 {
			return false
		}
	}
	return true
}

// parseLenient parses a timestamp written in one of the shapes real APIs
// use for "x-lenient-time" fields: RFC 3339, or a date and time without an
// offset (taken as UTC), or a bare date. It returns timestamptz text.
func parseLenient(s []byte) ([]byte, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, string(s)); err == nil && t.Year() >= 1 {
			return t.UTC().Truncate(time.Microsecond).AppendFormat(nil, "2006-01-02 15:04:05.999999Z07:00"), true
		}
	}
	return nil, false
}

// unquote returns the text of the JSON string v, or ok=false when v is not
// a string or not valid UTF-8 text.
func unquote(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' {
		return nil, false
	}
	var sc jsonrow.Scanner
	sc.Reset(v)
	s, err := sc.Str()
	if err != nil || !sc.AtEnd() || !utf8.Valid(s) {
		return nil, false
	}
	return s, true
}
