package postgres

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/source-pluggy/source-pluggy/connector/internal/civil"
	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// deletedField is the member a tombstone carries: the row was deleted at
// that instant. It becomes the _deleted_at column, not a column of its own.
const deletedField = "_ab_cdc_deleted_at"

// encoder turns records into tuples of COPY's binary format for a staging table
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

	vals [][]byte // per column: the value in the binary format, nil for null
	set  []bool
	// seen is, per column, whether a member of the record has had that
	// name: a second member of one name goes to _leftovers (see member).
	seen  []bool
	meta  columns.RowMeta // _leftovers and _changes
	warn  columns.Warner  // one WARN per nulled field per run
	del   []byte
	arena []byte
	order []int // column index of the k-th key last time, -1 unknown
	sc    jsonrow.Scanner
	// lone is set by value when it stores the value changed: text with
	// U+FFFD for a lone surrogate escape, jsonb with \ufffd for an escape
	// jsonb refuses (see member).
	lone bool
	// repeats is set by value when it stores a jsonb value with a key
	// named twice in one object, of which jsonb keeps only the last.
	repeats bool
	// keys and dup are repeatsKey's: the keys of the objects being
	// walked, and a scanner of its own.
	keys   [][2]int // each a key's place in keyBuf
	keyBuf []byte
	dup    jsonrow.Scanner
	// leftKeys holds the keys of the row's leftovers (each a place in
	// leftKeyBuf, unescaped, as jsonb compares keys), leftRaw their
	// members as sent, and leftTwice whether one key came twice: a
	// member the record names three times, a field the schema lacks
	// named twice. jsonb would keep only the last of them (see encode).
	leftKeys   [][2]int
	leftKeyBuf []byte
	leftRaw    []byte
	leftTwice  bool
	// twiceLogged: the WARN for leftTwice is logged once per run.
	twiceLogged bool

	scratch [8]byte
}

func newEncoder(t *table, extractedAt time.Time) *encoder {
	return &encoder{
		t:         t,
		extracted: appendTimestamptz(nil, extractedAt),
		vals:      make([][]byte, len(t.cols)),
		set:       make([]bool, len(t.cols)),
		seen:      make([]bool, len(t.cols)),
		// Never nil: an empty string stashed into a nil arena would be
		// nil, which the tuple sends as null.
		arena: make([]byte, 0, 1024),
	}
}

// errNotObject is a record that is not a JSON object.
var errNotObject = errors.New("a record must be a JSON object")

// encode appends the COPY tuple of row to dst: Raw's members, then the
// connector's fields that Raw lacks.
func (e *encoder) encode(dst []byte, row jsonrow.Row) ([]byte, error) {
	for i := range e.vals {
		e.vals[i] = nil
		e.set[i] = false
		e.seen[i] = false
	}
	e.meta.Reset()
	e.leftKeys, e.leftKeyBuf, e.leftRaw, e.leftTwice = e.leftKeys[:0], e.leftKeyBuf[:0], e.leftRaw[:0], false
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
	left := e.meta.LeftoversJSON()
	if e.leftTwice {
		left = e.leftoversText()
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
	// A tuple: the field count, then each field's length (-1: null) and
	// bytes.
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(e.t.cols)+5))
	dst = appendField(dst, binary.BigEndian.AppendUint64(e.scratch[:0], uint64(e.seq)))
	for i := range e.t.cols {
		dst = appendField(dst, e.vals[i])
	}
	dst = appendField(dst, e.extracted)
	dst = appendField(dst, e.del)
	for _, text := range [][]byte{left, e.meta.ChangesJSON()} {
		if text == nil {
			dst = appendField(dst, nil)
			continue
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(text)+1))
		dst = append(append(dst, jsonbVersion), text...)
	}
	return dst, nil
}

// copyHeader starts a COPY stream in the binary format: the signature,
// no flags, no header extension. copyTrailer ends it.
var (
	copyHeader  = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	copyTrailer = []byte{0xff, 0xff}
)

// jsonbVersion starts a jsonb value in the binary format; the JSON text
// follows.
const jsonbVersion = 1

// appendField appends one field of a binary COPY tuple: nil is null.
func appendField(dst, v []byte) []byte {
	if v == nil {
		return binary.BigEndian.AppendUint32(dst, 0xffffffff)
	}
	return append(binary.BigEndian.AppendUint32(dst, uint32(len(v))), v...)
}

// parseInt reads a JSON number that is an integer in int64's range. JSON
// Schema counts 3.0 and 1.5e1 as integers, and so does the Parquet sink;
// plain digits take the fast path, the rest an exact rational.
func parseInt(v []byte) (int64, bool) {
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return n, true
	}
	if len(v) == 0 || v[0] == '"' || len(v) > 64 {
		return 0, false
	}
	if i := bytes.IndexAny(v, "eE"); i >= 0 && len(bytes.TrimLeft(v[i+1:], "+-")) > 2 {
		return 0, false // 1e999999999 would make a rational of a billion digits
	}
	r, ok := new(big.Rat).SetString(string(v))
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return r.Num().Int64(), true
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
		if k >= 0 { // a member of the record, not one the connector added
			e.warn.Unknown(key)
		}
		e.leftover(rawKey, key, v)
		return
	}
	if k >= 0 {
		if e.seen[idx] {
			// A second member of one name (JSON leaves its meaning open):
			// the column keeps the first, and this one is kept verbatim in
			// _leftovers, as the Parquet sink does; overwriting the column
			// lost the first value without a trace.
			e.leftover(rawKey, key, v)
			return
		}
		e.seen[idx] = true
	}
	c := &e.t.cols[idx]
	if c.parsedOf >= 0 {
		// A <name>_parsed column is filled from its source field, never
		// from a member of that name.
		e.leftover(rawKey, key, v)
		return
	}
	if v[0] == 'n' { // null
		e.vals[idx], e.set[idx] = nil, true
		return
	}
	e.lone, e.repeats = false, false
	enc, ok := e.value(c, v)
	if !ok && slices.Contains(e.t.pk, idx) {
		// A key is never nulled: the row would fail its stream at every
		// run. A key text cannot hold (NUL) is stored with U+FFFD for each
		// NUL, the same every run, and kept whole in _leftovers.
		if s, sok := unquote(v); sok && (c.kind == columns.String || c.kind == columns.Lenient) {
			e.leftover(rawKey, key, v)
			e.vals[idx], e.set[idx] = e.stash(bytes.ReplaceAll(s, []byte{0}, []byte("\uFFFD"))), true
			e.meta.Replaced(c.name)
			e.warn.Replaced(c.name, fmt.Errorf("a NUL in the key %.80s, which PostgreSQL text cannot hold, is stored as U+FFFD", v))
			return
		}
	}
	if !ok {
		e.leftover(rawKey, key, v)
		e.vals[idx] = nil
		e.meta.Nulled(c.name)
		e.warn.Nulled(c.name, fmt.Errorf("%.80s is not a PostgreSQL %s", v, c.sqlType))
		return
	}
	e.vals[idx], e.set[idx] = enc, true
	if e.repeats {
		// Stored as jsonb keeps it, with the last value of each key named
		// twice: the value as sent is kept too, as the JSON string of its
		// text (see leftover).
		e.leftover(rawKey, key, v)
		e.meta.Replaced(c.name)
		e.warn.Replaced(c.name, fmt.Errorf("%.80s names a key twice in one object, and jsonb keeps only the last value", v))
	} else if e.lone {
		// Stored with U+FFFD for a lone surrogate escape (or, in jsonb,
		// a NUL): the value as sent is kept too, as the JSON string of
		// its text, which jsonb takes.
		e.leftover(rawKey, key, v)
		e.meta.Replaced(c.name)
		e.warn.Replaced(c.name, fmt.Errorf("%.80s has a lone UTF-16 surrogate escape (half of an emoji, say) or a NUL, which PostgreSQL cannot store: it is stored as U+FFFD", v))
	}
	if c.kind == columns.Lenient && c.parsed >= 0 {
		if s, ok := unquote(v); ok {
			if us, ok := parseLenient(s); ok {
				e.vals[c.parsed] = e.stash(appendMicros(e.scratch[:0], us))
			}
		}
	}
}

// leftover adds a member to _leftovers. A value jsonb cannot hold (see
// jsonbHolds) is kept as the JSON string of its text, and such a key as
// the text of its escapes: the row loads rather than fail its stream at
// every run. key is the member's name unescaped: a name the leftovers
// already hold sets leftTwice (see encode).
func (e *encoder) leftover(rawKey, key, v []byte) {
	for _, k := range e.leftKeys {
		if bytes.Equal(e.leftKeyBuf[k[0]:k[1]], key) {
			if !e.leftTwice && !e.twiceLogged && e.warn.Log != nil {
				e.twiceLogged = true
				e.warn.Log.Warn("records name a member more than once where the leftovers keep the copies (a member named three times: its column holds the first; a field the schema lacks named twice), and a jsonb object keeps only the last: such a row's _leftovers holds the JSON string of the leftovers' text as sent, which _leftovers #>> '{}' reads; further rows are not logged",
					"field", string(key))
			}
			e.leftTwice = true
			break
		}
	}
	e.leftKeys = append(e.leftKeys, [2]int{len(e.leftKeyBuf), len(e.leftKeyBuf) + len(key)})
	e.leftKeyBuf = append(e.leftKeyBuf, key...)
	if len(e.leftRaw) > 0 {
		e.leftRaw = append(e.leftRaw, ',')
	}
	e.leftRaw = append(append(append(e.leftRaw, rawKey...), ':'), v...)
	if !jsonbHolds(v) || e.repeatsKey(v) {
		v, _ = json.Marshal(string(v))
	}
	if !jsonbHolds(rawKey) {
		rawKey, _ = json.Marshal(string(rawKey[1 : len(rawKey)-1]))
	}
	e.meta.Leftover(rawKey, v)
}

// leftoversText returns _leftovers for a row whose leftovers name a key
// twice: a member the record names three times (its column holds the
// first, the others are left over), a field the schema lacks named twice.
// A jsonb object keeps only the last value of such a key and drops the
// others without a trace, so _leftovers holds the JSON string of the
// leftovers' text instead, members as sent and in order: the very text
// the Parquet sink's _leftovers holds (_leftovers #>> '{}' reads it).
func (e *encoder) leftoversText() []byte {
	text := make([]byte, 0, len(e.leftRaw)+2)
	text = append(append(append(text, '{'), e.leftRaw...), '}')
	start := len(e.arena)
	e.arena = jsonrow.AppendString(e.arena, string(text))
	return e.arena[start:len(e.arena):len(e.arena)]
}

// jsonbHolds reports whether PostgreSQL's jsonb (and json) takes the JSON
// text v. Valid JSON that it refuses, failing the whole COPY: the escape
// \u0000 (text cannot hold NUL) and a UTF-16 surrogate escape that is not
// half of a pair (\ud83d alone), which JavaScript back ends emit for a
// string cut in the middle of an emoji.
func jsonbHolds(v []byte) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			continue
		}
		i++
		if i >= len(v) || v[i] != 'u' {
			continue // \\, \" and the others: one character
		}
		r, ok := hex4(v[i+1:])
		switch {
		case !ok: // not valid JSON: the server says what is wrong
		case r == 0, r >= 0xdc00 && r <= 0xdfff:
			return false
		case r >= 0xd800 && r <= 0xdbff:
			lo, ok := -1, false
			if i+10 < len(v) && v[i+5] == '\\' && v[i+6] == 'u' {
				lo, ok = hex4(v[i+7:])
			}
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return false
			}
			i += 6 // the low half
		}
		i += 4
	}
	return true
}

// repeatsKey reports whether an object in the JSON text v names a key
// twice. jsonb keeps the last value of such a key and drops the others
// without a word, so the value as sent must be kept elsewhere. Keys are
// compared unescaped, as jsonb compares them.
func (e *encoder) repeatsKey(v []byte) bool {
	if bytes.IndexByte(v, '{') < 0 {
		return false // no object: the usual array of strings, a number
	}
	e.dup.Reset(v)
	e.keys, e.keyBuf = e.keys[:0], e.keyBuf[:0]
	return errors.Is(e.walkRepeats(0), errRepeats)
}

// errRepeats ends repeatsKey's walk at the first key named twice.
var errRepeats = errors.New("a key named twice")

// walkRepeats walks the value at e.dup's position, and returns errRepeats
// at the first object that names a key twice (see repeatsKey). It walks
// with the scanner's steps rather than Object and Array, whose callbacks
// would cost an allocation an object.
func (e *encoder) walkRepeats(depth int) error {
	sc := &e.dup
	c := sc.Peek()
	if c != '{' && c != '[' {
		return sc.Skip()
	}
	if depth > jsonrow.MaxDepth {
		return jsonrow.ErrTooDeep
	}
	sc.Next()
	end := byte(']')
	if c == '{' {
		end = '}'
	}
	if sc.Peek() == end {
		sc.Next()
		return nil
	}
	from, fromBuf := len(e.keys), len(e.keyBuf)
	defer func() { e.keys, e.keyBuf = e.keys[:from], e.keyBuf[:fromBuf] }()
	for {
		if c == '{' {
			key, err := sc.Str()
			if err != nil {
				return err
			}
			for _, k := range e.keys[from:] {
				if bytes.Equal(e.keyBuf[k[0]:k[1]], key) {
					return errRepeats
				}
			}
			// The key may point into the scanner's buffer: a copy.
			e.keys = append(e.keys, [2]int{len(e.keyBuf), len(e.keyBuf) + len(key)})
			e.keyBuf = append(e.keyBuf, key...)
			if err := sc.Expect(':'); err != nil {
				return err
			}
		}
		sc.WS()
		if err := e.walkRepeats(depth + 1); err != nil {
			return err
		}
		switch sc.Peek() {
		case ',':
			sc.Next()
		case end:
			sc.Next()
			return nil
		default:
			return sc.Syntax("want ',' or '" + string(end) + "'")
		}
	}
}

// jsonbReplace returns the JSON text v with \ufffd for each escape
// jsonbHolds refuses: what encoding/json and jsonrow read a lone surrogate
// as, and a NUL as the one character text can hold in its place.
func jsonbReplace(v []byte) []byte {
	out := make([]byte, 0, len(v))
	last := 0
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			continue
		}
		if i+1 >= len(v) || v[i+1] != 'u' {
			i++ // \\, \" and the others: one character
			continue
		}
		r, ok := hex4(v[i+2:])
		bad := false
		n := 6 // the escape's length
		switch {
		case !ok:
		case r == 0, r >= 0xdc00 && r <= 0xdfff:
			bad = true
		case r >= 0xd800 && r <= 0xdbff:
			lo, ok := -1, false
			if i+11 < len(v) && v[i+6] == '\\' && v[i+7] == 'u' {
				lo, ok = hex4(v[i+8:])
			}
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				bad = true
			} else {
				n = 12 // a pair
			}
		}
		if bad {
			out = append(append(out, v[last:i]...), `\ufffd`...)
			last = i + n
		}
		i += n - 1
	}
	return append(out, v[last:]...)
}

// hex4 is the value of the four hex digits b starts with.
func hex4(b []byte) (int, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 16)
	return int(n), err == nil
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
			s, lone, ok := unquoteLone(v)
			if !ok || bytes.IndexByte(s, 0) >= 0 {
				return nil, false
			}
			e.lone = lone
			return e.stash(s), true
		case '{', '[':
			return nil, false
		default: // a number or boolean: its JSON text, as the Parquet sink does
			return e.stash(v), true
		}
	case columns.JSON, columns.Struct, columns.List:
		if !jsonbHolds(v) {
			// \u0000 or a lone surrogate escape: stored with \ufffd in
			// its place, and kept as sent (see member's lone).
			v = jsonbReplace(v)
			e.lone = true
		}
		e.repeats = e.repeatsKey(v)
		start := len(e.arena)
		e.arena = append(append(e.arena, jsonbVersion), v...)
		return e.arena[start:len(e.arena):len(e.arena)], true
	case columns.Bool:
		switch string(v) {
		case "true":
			return e.stash([]byte{1}), true
		case "false":
			return e.stash([]byte{0}), true
		}
	case columns.Int:
		if n, ok := parseInt(v); ok {
			return e.stash(binary.BigEndian.AppendUint64(e.scratch[:0], uint64(n))), true
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
			start := len(e.arena)
			var ok bool
			if e.arena, ok = appendNumeric(e.arena, num); ok {
				return e.arena[start:len(e.arena):len(e.arena)], true
			}
			e.arena = e.arena[:start]
		}
	case columns.Timestamp:
		return e.timestamp(v)
	case columns.Date:
		if s, ok := unquote(v); ok && len(s) == 10 {
			if d, err := time.Parse("2006-01-02", string(s)); err == nil && d.Year() >= 1 {
				days := (d.Unix() - pgEpoch) / 86400 // d is a midnight: exact
				return e.stash(binary.BigEndian.AppendUint32(e.scratch[:0], uint32(int32(days)))), true
			}
		}
	}
	return nil, false
}

// timestamp parses an RFC 3339 string into a binary timestamptz, as the
// Parquet sink parses its TIMESTAMP columns (civil.DateTime: 'T', 't' or a
// space between date and time, 'Z', 'z' or ±hh:mm), so that one record's
// time is typed, or left over, alike in both. An instant finer than the
// microsecond PostgreSQL keeps does not fit, nor one before year 1.
func (e *encoder) timestamp(v []byte) ([]byte, bool) {
	s, ok := unquote(v)
	if !ok {
		return nil, false
	}
	us, n, sub, ok := civil.DateTime(s, true)
	if !ok || n != len(s) || sub || us < minMicros {
		return nil, false
	}
	return e.stash(appendMicros(e.scratch[:0], us)), true
}

// pgEpoch is PostgreSQL's epoch, 2000-01-01 00:00:00 UTC, in Unix seconds:
// binary timestamps count microseconds from it, dates days.
const pgEpoch = 946684800

// minMicros is 0001-01-01T00:00:00Z in microseconds since 1970: the
// oldest instant the sink types, as time.Time's zero is.
var minMicros = civil.Days(1, 1, 1) * 86_400_000_000

// appendTimestamptz appends t as a binary timestamptz.
func appendTimestamptz(dst []byte, t time.Time) []byte {
	return appendMicros(dst, t.Unix()*1_000_000+int64(t.Nanosecond()/1000))
}

// appendMicros appends the instant us microseconds after 1970-01-01 UTC
// as a binary timestamptz.
func appendMicros(dst []byte, us int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(us-pgEpoch*1_000_000))
}

// appendNumeric appends the JSON number num (validNumeric) as a binary
// numeric: base-10000 digits with the decimal point between two of them,
// the weight of the first, the sign and the display scale, which is what
// numeric's text input keeps (1.50 stays 1.50, 1e2 is 100). ok is false
// for a number past numeric's range.
func appendNumeric(dst, num []byte) ([]byte, bool) {
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	exp := 0
	if i := bytes.IndexAny(num, "eE"); i >= 0 {
		exp, _ = strconv.Atoi(string(num[i+1:])) // validNumeric checked it
		num = num[:i]
	}
	intPart, frac, _ := bytes.Cut(num, []byte{'.'})
	dscale := max(len(frac)-exp, 0)
	// digits, with the decimal point after the first point of them (point
	// may be past either end).
	digits := make([]byte, 0, 64)
	digits = append(append(digits, intPart...), frac...)
	point := len(intPart) + exp
	for len(digits) > 0 && digits[0] == '0' {
		digits, point = digits[1:], point-1
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if dscale > 0x3fff {
		return dst, false
	}
	if len(digits) == 0 { // zero
		dst = binary.BigEndian.AppendUint64(dst, 0)
		return binary.BigEndian.AppendUint16(dst[:len(dst)-2], uint16(dscale)), true
	}
	// The first digit is worth 10^(point-1); it falls in the base-10000
	// digit of weight floor((point-1)/4), whose first decimal digit is
	// worth 10^(4*weight+3): pad that many zeros before it.
	weight := floorDiv(point-1, 4)
	pad := 4*weight + 3 - (point - 1)
	n := (pad + len(digits) + 3) / 4
	if n > 0x7fff || weight > 0x7fff || weight < -0x8000 {
		return dst, false
	}
	sign := uint16(0x0000)
	if neg {
		sign = 0x4000
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(weight)))
	dst = binary.BigEndian.AppendUint16(dst, sign)
	dst = binary.BigEndian.AppendUint16(dst, uint16(dscale))
	for g := range n {
		v := 0
		for k := range 4 {
			v *= 10
			if i := 4*g + k - pad; i >= 0 && i < len(digits) {
				v += int(digits[i] - '0')
			}
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(v))
	}
	return dst, true
}

// floorDiv is a/b rounded down, for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
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
// use for "x-lenient-time" fields, as the Parquet sink parses them
// (civil.Lenient: RFC 3339, a date and time without an offset taken as UTC,
// with or without seconds, a bare date, a month as its first day), into
// microseconds since 1970. It drops what is finer than a microsecond. It
// read fewer shapes than Parquet's, so the same record's <name>_parsed was
// null here and set there.
func parseLenient(s []byte) (int64, bool) {
	us, ok := civil.Lenient(s)
	return us, ok && us >= minMicros
}

// unquote returns the text of the JSON string v, or ok=false when v is not
// a string or not valid UTF-8 text.
func unquote(v []byte) ([]byte, bool) {
	s, _, ok := unquoteLone(v)
	return s, ok
}

// unquoteLone is unquote, also reporting whether the text holds U+FFFD for
// a lone surrogate escape (jsonrow.Scanner.LoneSurrogate).
func unquoteLone(v []byte) (s []byte, lone, ok bool) {
	if len(v) < 2 || v[0] != '"' {
		return nil, false, false
	}
	var sc jsonrow.Scanner
	sc.Reset(v)
	s, err := sc.Str()
	if err != nil || !sc.AtEnd() || !utf8.Valid(s) {
		return nil, false, false
	}
	return s, sc.LoneSurrogate(), true
}
