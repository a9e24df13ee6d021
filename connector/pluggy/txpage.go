package pluggy

import (
	"errors"
	"fmt"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// This file decodes GET /v2/transactions pages: the connector's hot path.
// A page is ~500 rows of ~700 bytes each; the rows themselves are passed
// through as served, so all the connector needs from a page is each row's
// byte range, its id, createdAt and date, and the `next` link.
//
// encoding/json did that in two passes per byte (json.Unmarshal validates the
// whole input before decoding it, once for the page into []RawMessage and
// again per row into txKeys) and was ~75% of a read's CPU. jsonrow's
// Scanner, the one the sinks use, validates the page once and picks the
// keys out on the way; it is fuzzed against encoding/json, and so is this
// decoder (FuzzDecodeTransactionsPage). A malformed page is an error, so the
// HTTP client retries it as it would a truncated body.
//
// Keys are matched unescaped ("\u0069d" is id) but exactly ("id", not "ID"):
// Pluggy's keys are camelCase and a case-folded match, encoding/json's,
// would be an accident.

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

// decodeTransactionsPage decodes a GET /v2/transactions body,
// {"results": [...], "next": "?…" | null}, in one pass. Other top-level keys
// are validated and ignored. next is nil when absent or null. The rows keep
// slices of b; they are appended to rows[:0], whose memory is reused.
func decodeTransactionsPage(b []byte, rows []txRow) (_ []txRow, next *string, err error) {
	d := pageDecoder{b: b}
	d.s.Reset(b)
	switch d.s.Peek() {
	case '{':
	case 0:
		if d.s.AtEnd() {
			return nil, nil, errors.New("empty page body")
		}
		fallthrough
	default:
		return nil, nil, d.s.Syntax("want the page object")
	}
	haveResults := false
	err = d.s.Object(func(key []byte) error {
		switch string(key) {
		case "results":
			if d.s.Peek() != '[' {
				if err := d.s.Skip(); err != nil {
					return err
				}
				return errors.New(`"results" is not an array`)
			}
			haveResults = true
			var err error
			rows, err = d.results(rows[:0])
			return err
		case "next":
			switch d.s.Peek() {
			case '"':
				n, err := d.s.Text()
				next = &n
				return err
			case 'n':
				next = nil
				return d.s.Literal("null")
			}
			if err := d.s.Skip(); err != nil {
				return err
			}
			return errors.New(`"next" is neither a string nor null`)
		}
		return d.s.Skip()
	})
	if err != nil {
		return nil, nil, err
	}
	if !d.s.AtEnd() {
		return nil, nil, d.s.Syntax("more after the page object")
	}
	if !haveResults {
		return nil, nil, errors.New(`no "results" array in the page`)
	}
	return rows, next, nil
}

// pageDecoder is the state of one page's decode.
type pageDecoder struct {
	b       []byte
	s       jsonrow.Scanner
	scratch []byte // createdAt and date of the row being read, see row
}

// results consumes the results array and appends its rows.
func (d *pageDecoder) results(rows []txRow) ([]txRow, error) {
	if rows == nil {
		// Size for a full page of ~700-byte rows from the bytes left.
		rows = make([]txRow, 0, min(max((len(d.b)-d.s.Pos())/512, 8), 1024))
	}
	err := d.s.Array(func() error {
		start := d.s.Pos()
		var r txRow
		var err error
		if d.s.Peek() == '{' {
			err = d.row(&r)
		} else {
			err = d.s.Skip()
			r.Problem = "it is not an object"
		}
		r.Raw = d.b[start:d.s.Pos():d.s.Pos()]
		rows = append(rows, r)
		return err
	})
	return rows, err
}

// row consumes one row object and reads its keys. When a key repeats, the
// last one wins, as with encoding/json.
func (d *pageDecoder) row(r *txRow) error {
	// The id, createdAt and date values as written, quotes and escapes
	// included; nil when absent or null. Turned into strings at the end.
	var id, created, date []byte
	// The keys a row is joined and keyed on, seen so far: one of them twice
	// is read differently by different JSON readers (Go and Python keep the
	// last, others the first), so the row cannot be trusted.
	var seen struct{ id, createdAt, date, accountID bool }
	err := d.s.Object(func(key []byte) error {
		var target *[]byte
		var dup *bool
		var name string
		switch string(key) {
		case "id":
			target, dup, name = &id, &seen.id, "id"
		case "createdAt":
			target, dup, name = &created, &seen.createdAt, "createdAt"
		case "date":
			target, dup, name = &date, &seen.date, "date"
		case "accountId":
			dup, name = &seen.accountID, "accountId"
		}
		if dup != nil {
			if *dup {
				r.Problem = fmt.Sprintf("the key %q appears twice, and JSON readers disagree on which one counts", name)
			}
			*dup = true
		}
		switch {
		case target == nil:
			return d.s.Skip()
		case d.s.Peek() == '"':
			start := d.s.Pos()
			if err := d.s.Skip(); err != nil {
				return err
			}
			*target = d.b[start:d.s.Pos()]
			return nil
		case d.s.Peek() == 'n':
			*target = nil
			return d.s.Literal("null")
		}
		r.Problem = fmt.Sprintf("%q is not a string", name)
		return d.s.Skip()
	})
	if err != nil {
		return err
	}
	if plain(id) && plain(created) && plain(date) {
		// The id gets its own allocation, as a dedupe set or the state
		// may keep it; createdAt and date share one, read and dropped.
		r.ID = string(unquote(id))
		buf := append(d.scratch[:0], unquote(created)...)
		buf = append(buf, unquote(date)...)
		d.scratch = buf
		both := string(buf)
		n := len(unquote(created))
		r.CreatedAt, r.Date = both[:n], both[n:]
		return nil
	}
	r.ID, r.CreatedAt, r.Date = text(id), text(created), text(date)
	return nil
}

// plain reports that a string as written (quotes included) is its value:
// printable ASCII without escapes. Pluggy's ids and timestamps always are.
func plain(quoted []byte) bool {
	for _, c := range quoted {
		if c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

// unquote is a plain string's value; nil stays nil.
func unquote(quoted []byte) []byte {
	if len(quoted) < 2 {
		return nil
	}
	return quoted[1 : len(quoted)-1]
}

// text is the value of a string as written, decoded by the scanner (escapes,
// and invalid UTF-8 replaced as encoding/json does); "" for nil.
func text(quoted []byte) string {
	if quoted == nil {
		return ""
	}
	var s jsonrow.Scanner
	s.Reset(quoted)
	v, _ := s.Text() // already validated
	return v
}
