package pluggy

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
)

// This file decodes GET /v2/transactions pages: the connector's hot path.
// A page is ~500 rows of ~700 bytes each; the rows themselves are passed
// through as served, so all the connector needs from a page is each row's
// byte range, its id, createdAt and date, and the `next` link.
//
// encoding/json did that in two passes per byte (json.Unmarshal validates the
// whole input before decoding it, once for the page into []RawMessage and
// again per row into txKeys) and was ~75% of a read's CPU. This scanner
// validates the page once, to the same grammar json.Valid accepts (nesting
// is capped at the same 10,000 levels), and picks the keys out on the way.
// A malformed page is an error, so the HTTP client retries it as it would a
// truncated body.
//
// Unlike encoding/json, keys match exactly ("id", not "ID"): Pluggy's keys
// are camelCase and a case-folded match would be an accident.

// txRow is one row of a v2 transactions page.
type txRow struct {
	// Raw is the row's JSON value as served, a slice of the page: valid as
	// long as the page is, and never to be modified.
	Raw []byte
	txKeys
	// Problem says why the row's keys cannot be trusted: it is not an
	// object, id, createdAt or date is not a string, or one of them or
	// accountId appears twice. Empty when fine.
	Problem string
}

// maxNesting is encoding/json's nesting limit, kept so both accept the same
// documents.
const maxNesting = 10000

// decodeTransactionsPage decodes a GET /v2/transactions body,
// {"results": [...], "next": "?…" | null}, in one pass. Other top-level keys
// are validated and ignored. next is nil when absent or null. The rows keep
// slices of b.
func decodeTransactionsPage(b []byte) (rows []txRow, next *string, err error) {
	s := pageScanner{b: b}
	s.ws()
	if s.i >= len(b) {
		return nil, nil, errors.New("empty page body")
	}
	if b[s.i] != '{' {
		return nil, nil, s.syntax("at the start of the page; want an object")
	}
	s.i++
	s.ws()
	haveResults := false
	if s.i < len(b) && b[s.i] == '}' {
		s.i++
	} else {
		for {
			if s.i >= len(b) || b[s.i] != '"' {
				return nil, nil, s.syntax("looking for the beginning of an object key")
			}
			ks, ke, kesc, err := s.str()
			if err != nil {
				return nil, nil, err
			}
			if err := s.colon(); err != nil {
				return nil, nil, err
			}
			switch s.key(ks, ke, kesc) {
			case "results":
				if s.i >= len(b) || b[s.i] != '[' {
					if err := s.value(2); err != nil {
						return nil, nil, err
					}
					return nil, nil, errors.New(`"results" is not an array`)
				}
				haveResults = true
				if rows, err = s.results(rows[:0]); err != nil {
					return nil, nil, err
				}
			case "next":
				if s.i < len(b) && b[s.i] == '"' {
					vs, ve, vesc, err := s.str()
					if err != nil {
						return nil, nil, err
					}
					n := s.text(vs, ve, vesc)
					next = &n
				} else if s.literal("null") {
					next = nil
				} else {
					if err := s.value(2); err != nil {
						return nil, nil, err
					}
					return nil, nil, errors.New(`"next" is neither a string nor null`)
				}
			default:
				if err := s.value(2); err != nil {
					return nil, nil, err
				}
			}
			more, err := s.more('}')
			if err != nil {
				return nil, nil, err
			}
			if !more {
				break
			}
		}
	}
	s.ws()
	if s.i != len(b) {
		return nil, nil, s.syntax("after the page object")
	}
	if !haveResults {
		return nil, nil, errors.New(`no "results" array in the page`)
	}
	return rows, next, nil
}

// pageScanner walks a JSON document. Every method leaves i just past what
// it consumed.
type pageScanner struct {
	b       []byte
	i       int
	scratch []byte // createdAt and date of the row being read, see row
}

func (s *pageScanner) syntax(context string) error {
	if s.i >= len(s.b) {
		return errors.New("unexpected end of JSON input")
	}
	return fmt.Errorf("invalid character %q %s (offset %d)", s.b[s.i], context, s.i)
}

func (s *pageScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// colon consumes `:` and the whitespace around it.
func (s *pageScanner) colon() error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return s.syntax("after an object key")
	}
	s.i++
	s.ws()
	return nil
}

// more consumes the separator after a member or element: true after a `,`
// (and the whitespace after it), false after the closing byte.
func (s *pageScanner) more(closing byte) (bool, error) {
	s.ws()
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
			return true, nil
		case closing:
			s.i++
			return false, nil
		}
	}
	if closing == '}' {
		return false, s.syntax("after an object member")
	}
	return false, s.syntax("after an array element")
}

// strPlain marks the bytes a string can hold as they are: all but '"',
// '\\' and control bytes.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x100; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Byte-lane constants for scanning strings eight bytes at a time.
const (
	lanes = 0x0101010101010101
	highs = 0x8080808080808080
)

// str consumes a string whose opening quote is at i and returns the bounds
// of its contents, and whether they hold escapes.
func (s *pageScanner) str() (start, end int, escaped bool, err error) {
	b := s.b
	i := s.i + 1
	start = i
	for {
		// Skip to the next '"', '\\' or control byte, eight bytes at a
		// time: a lane's high bit is set where x is below 0x20 or equals
		// one of the two, and the lowest set bit marks the first of them
		// exactly (borrows only run upwards).
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q, bs := x^(lanes*'"'), x^(lanes*'\\')
			if m := ((x-lanes*0x20)&^x | (q-lanes)&^q | (bs-lanes)&^bs) & highs; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			s.i = i
			return 0, 0, false, s.syntax("")
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return start, i, escaped, nil
		case c == '\\':
			escaped = true
			i++
			if i >= len(b) {
				s.i = i
				return 0, 0, false, s.syntax("")
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				i++
				for range 4 {
					if i >= len(b) || !isHex(b[i]) {
						s.i = i
						return 0, 0, false, s.syntax("in a \\u escape")
					}
					i++
				}
			default:
				s.i = i
				return 0, 0, false, s.syntax("in a string escape")
			}
		default: // c < 0x20
			s.i = i
			return 0, 0, false, s.syntax("in a string literal")
		}
	}
}

// plain reports that a string's contents are its value: printable ASCII
// without escapes.
func (s *pageScanner) plain(start, end int, escaped bool) bool {
	if escaped {
		return false
	}
	for _, c := range s.b[start:end] {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// text returns a string's value. Escapes and non-ASCII bytes are left to
// encoding/json, so they decode exactly as before (invalid UTF-8 becomes
// U+FFFD); Pluggy's ids, timestamps and cursors never take that path.
func (s *pageScanner) text(start, end int, escaped bool) string {
	if s.plain(start, end, escaped) {
		return string(s.b[start:end])
	}
	var v string
	_ = json.Unmarshal(s.b[start-1:end+1], &v) // already validated
	return v
}

// key is text for an object key, without allocating: only the keys this
// file looks for come back, every other key is "".
func (s *pageScanner) key(start, end int, escaped bool) string {
	if !escaped { // the keys looked for are ASCII, so no other check is needed
		switch string(s.b[start:end]) { // no allocation for a switch
		case "results":
			return "results"
		case "next":
			return "next"
		case "id":
			return "id"
		case "createdAt":
			return "createdAt"
		case "date":
			return "date"
		case "accountId":
			return "accountId"
		}
		return ""
	}
	return s.text(start, end, escaped)
}

// literal consumes lit if it comes next.
func (s *pageScanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// number consumes a JSON number.
func (s *pageScanner) number() error {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		s.i = i
		return s.syntax("in a numeric literal")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			s.i = i
			return s.syntax("after a decimal point in a numeric literal")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			s.i = i
			return s.syntax("in the exponent of a numeric literal")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	s.i = i
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// value consumes any JSON value at nesting depth (the value's own level).
func (s *pageScanner) value(depth int) error {
	if s.i >= len(s.b) {
		return s.syntax("")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, _, _, err := s.str()
		return err
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == '-' || isDigit(c):
		return s.number()
	case c == 't':
		if s.literal("true") {
			return nil
		}
	case c == 'f':
		if s.literal("false") {
			return nil
		}
	case c == 'n':
		if s.literal("null") {
			return nil
		}
	}
	return s.syntax("looking for the beginning of a value")
}

func (s *pageScanner) object(depth int) error {
	if depth > maxNesting {
		return errors.New("exceeded max depth")
	}
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntax("looking for the beginning of an object key")
		}
		if _, _, _, err := s.str(); err != nil {
			return err
		}
		if err := s.colon(); err != nil {
			return err
		}
		if err := s.value(depth + 1); err != nil {
			return err
		}
		more, err := s.more('}')
		if err != nil || !more {
			return err
		}
	}
}

func (s *pageScanner) array(depth int) error {
	if depth > maxNesting {
		return errors.New("exceeded max depth")
	}
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		if err := s.value(depth + 1); err != nil {
			return err
		}
		more, err := s.more(']')
		if err != nil || !more {
			return err
		}
	}
}

// results consumes the results array (at depth 2) and appends its rows.
func (s *pageScanner) results(rows []txRow) ([]txRow, error) {
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return rows, nil
	}
	if rows == nil {
		// Size for a full page of ~700-byte rows from the bytes left.
		rows = make([]txRow, 0, min(max((len(s.b)-s.i)/512, 8), 1024))
	}
	for {
		start := s.i
		var r txRow
		var err error
		if s.i < len(s.b) && s.b[s.i] == '{' {
			err = s.row(&r)
		} else {
			err = s.value(3)
			r.Problem = "it is not an object"
		}
		if err != nil {
			return nil, err
		}
		r.Raw = s.b[start:s.i:s.i]
		rows = append(rows, r)
		more, err := s.more(']')
		if err != nil {
			return nil, err
		}
		if !more {
			return rows, nil
		}
	}
}

// row consumes one row object (at depth 3) and reads its keys. When a key
// repeats, the last one wins, as with encoding/json.
func (s *pageScanner) row(r *txRow) error {
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	// Bounds of the id, createdAt and date values, turned into strings
	// at the end.
	type span struct {
		start, end   int
		escaped, set bool
	}
	var id, created, date span
	// The keys a row is joined and keyed on, seen so far: one of them twice
	// is read differently by different JSON readers (Go and Python keep the
	// last, others the first), so the row cannot be trusted.
	var seen struct{ id, createdAt, date, accountID bool }
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntax("looking for the beginning of an object key")
		}
		ks, ke, kesc, err := s.str()
		if err != nil {
			return err
		}
		if err := s.colon(); err != nil {
			return err
		}
		var target *span
		var dup *bool
		k := s.key(ks, ke, kesc)
		switch k {
		case "id":
			target, dup = &id, &seen.id
		case "createdAt":
			target, dup = &created, &seen.createdAt
		case "date":
			target, dup = &date, &seen.date
		case "accountId":
			dup = &seen.accountID
		}
		if dup != nil {
			if *dup {
				r.Problem = fmt.Sprintf("the key %q appears twice, and JSON readers disagree on which one counts", k)
			}
			*dup = true
		}
		switch {
		case target == nil:
			if err := s.value(4); err != nil {
				return err
			}
		case s.i < len(s.b) && s.b[s.i] == '"':
			vs, ve, vesc, err := s.str()
			if err != nil {
				return err
			}
			*target = span{vs, ve, vesc, true}
		case s.literal("null"):
			*target = span{}
		default:
			if err := s.value(4); err != nil {
				return err
			}
			r.Problem = fmt.Sprintf("%q is not a string", s.key(ks, ke, kesc))
		}
		more, err := s.more('}')
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	simple := func(sp span) bool { return !sp.set || s.plain(sp.start, sp.end, sp.escaped) } // unset spans are empty
	if simple(id) && simple(created) && simple(date) {
		// The id gets its own allocation, as a dedupe set or the state
		// may keep it; createdAt and date share one, read and dropped.
		r.ID = string(s.b[id.start:id.end])
		buf := append(s.scratch[:0], s.b[created.start:created.end]...)
		buf = append(buf, s.b[date.start:date.end]...)
		s.scratch = buf
		both := string(buf)
		n := created.end - created.start
		r.CreatedAt, r.Date = both[:n], both[n:]
		return nil
	}
	for _, f := range []struct {
		sp  span
		dst *string
	}{{id, &r.ID}, {created, &r.CreatedAt}, {date, &r.Date}} {
		if f.sp.set {
			*f.dst = s.text(f.sp.start, f.sp.end, f.sp.escaped)
		}
	}
	return nil
}
