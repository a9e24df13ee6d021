package parquet

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// converter appends records to the leaf columns of a node tree.
type converter struct {
	root *node
	// cols are the leaf columns of the row group being filled, in file
	// order: the root's leaves, then _leftovers and _changes.
	cols   []column
	s      jsonrow.Scanner
	digits []byte
	// added are the connector's fields of the row being converted, read
	// after the root object's members into the columns those left
	// unset (a key the record has wins, as in jsonrow.Row.Added); scratch
	// is the buffer one of them is encoded into.
	added   []jsonrow.Field
	scratch []byte
	// addedIdx is the root child of each of added's keys, -1 for a key
	// without a column. The keys are looked up once for a run of rows
	// that add the same ones (a provider adds the same fields, the
	// item's id, to every row of an account): see addedChildren.
	addedIdx  []int
	addedKeys []string

	// meta collects the row's _leftovers and _changes (package columns has
	// the rule), written to the last two columns; warn logs each nulled
	// field once per run.
	meta columns.RowMeta
	warn *columns.Warner
	// extra is set when an object below the root has a member the schema
	// lacks; lone when a string of the member has a lone surrogate escape,
	// which its column holds as U+FFFD (jsonrow.Scanner.LoneSurrogate).
	extra  bool
	lone   bool
	keybuf []byte
	// marks are the lengths of a nested top-level value's columns before
	// it is appended: one that turns out not to fit is taken back.
	marks []mark
	// misfit and misfitErr are the error of the last decimal that did not
	// fit, reused: a source that sends one amount too precise sends it in
	// every row, and the error is read (formatted) only for the WARN,
	// once per field and run. It never leaves the converter: member
	// handles every *FieldError.
	misfit    FieldError
	misfitErr lazyDecimalError
}

// decimalMisfit returns why text does not fit n's decimal column, without
// formatting it (see converter.misfit).
func (c *converter) decimalMisfit(n *node, cause error, text []byte) error {
	c.misfitErr = lazyDecimalError{cause: cause, scale: n.scale, value: append(c.misfitErr.value[:0], text...)}
	c.misfit = FieldError{Field: n.path, Err: &c.misfitErr}
	return &c.misfit
}

// lazyDecimalError is decimalError's text, made when asked for.
type lazyDecimalError struct {
	cause error
	scale int32
	value []byte
}

func (e *lazyDecimalError) Error() string { return decimalError(e.cause, e.scale, e.value).Error() }

func (e *lazyDecimalError) Unwrap() error { return e.cause }

// errLoneSurrogate is the WARN's reason for a string whose column holds it
// with U+FFFD for a lone surrogate escape.
var errLoneSurrogate = errors.New(`a lone UTF-16 surrogate escape (half of an emoji, say) cannot be stored as text, and is stored as U+FFFD`)

// FieldError is a record value a typed column cannot hold without changing
// it. It does not fail the write: the column is nulled and the value kept in
// _leftovers (see package columns), and the error is the WARN's reason.
type FieldError struct {
	Stream string
	Field  string // dotted path, e.g. creditCardMetadata.totalAmount
	Err    error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("stream %s, field %s: %v", e.Stream, e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(n *node, format string, args ...any) error {
	return &FieldError{Field: n.path, Err: fmt.Errorf(format, args...)}
}

// record appends one row: its added fields and its JSON object's members,
// as if they were one object, without building that object. On error the
// columns hold a partial row and must be discarded.
func (c *converter) record(row jsonrow.Row) error {
	c.added = row.Fields
	if !c.addedChildren(row.Fields) {
		// Kept in _leftovers only if the record lacks it: that takes a
		// search of the record's keys, which fields with a column do
		// without (see object).
		c.added = row.Added()
		c.addedChildren(c.added)
	}
	c.meta.Reset()
	c.s.Reset(row.Raw)
	if c.s.Peek() != '{' {
		return errors.New("a record must be a JSON object")
	}
	if err := c.object(c.root, 0); err != nil {
		return err
	}
	if !c.s.AtEnd() {
		return c.s.Syntax("data after the record's object")
	}
	for _, ch := range row.Changes {
		c.meta.Change(ch)
	}
	n := len(c.cols)
	appendText(&c.cols[n-2], c.meta.LeftoversJSON())
	appendText(&c.cols[n-1], c.meta.ChangesJSON())
	return nil
}

// appendText appends a top-level text, or null for nil.
func appendText(col *column, text []byte) {
	if text == nil {
		col.null(0, 0)
		return
	}
	col.appendBytes(text, 0)
}

// member reads the value of the root's known member key into its column. A
// value the column cannot hold exactly (a *FieldError) leaves the column
// null, goes verbatim into _leftovers and is noted in _changes. A struct or
// list is appended as it is read and taken back whole if a value in it does
// not fit; one that fits but carries members the schema lacks is kept and
// also kept whole in _leftovers, so those members are not lost.
func (c *converter) member(n *node) error {
	start := c.s.Pos()
	nested := (n.kind == kStruct || n.kind == kList) && c.s.Peek() != 'n'
	if n.lazy && nested {
		c.present(n)
	}
	if nested {
		c.extra = false
		c.marks = c.marks[:0]
		for i := n.lo; i < n.hi; i++ {
			c.marks = append(c.marks, c.cols[i].mark())
		}
	}
	c.lone = false
	err := c.value(n, 0)
	if err == nil {
		if nested && c.extra || c.lone {
			c.s.Seek(start)
			raw, err := c.s.Raw()
			if err != nil {
				return err
			}
			c.meta.LeftoverKey(n.name, raw)
		}
		if c.lone {
			c.meta.Replaced(n.name)
			if c.warn != nil {
				c.warn.Replaced(n.name, errLoneSurrogate)
			}
		}
		return nil
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err // the record is not valid JSON
	}
	if nested {
		for i, m := range c.marks {
			c.cols[n.lo+i].truncate(m)
		}
	}
	c.s.Seek(start)
	raw, rerr := c.s.Raw()
	if rerr != nil {
		return rerr
	}
	c.meta.LeftoverKey(n.name, raw)
	c.meta.Nulled(n.name)
	if c.warn != nil {
		c.warn.Nulled(n.name, fe.Err)
	}
	return c.null(n, 0)
}

// object reads an object's members into n's children and appends null to
// every child the object lacks, each leaf's first entry at repetition level
// rep. The caller has checked the '{'.
func (c *converter) object(n *node, rep int16) error {
	s := &c.s
	s.Next() // '{'
	clear(n.seen)
	if s.Peek() == '}' {
		s.Next()
	} else {
		for k := 0; ; k++ {
			// Records of one API list their keys in the same order: try
			// the child the k-th key was last time before the map.
			var idx int
			var known bool
			var key []byte // read by Str: when Match fails
			if k < len(n.order) && n.order[k] >= 0 && s.Match(n.children[n.order[k]].key) {
				idx, known = n.order[k], true // and its colon
			} else {
				var err error
				if key, err = s.Str(); err != nil {
					return err
				}
				idx, known = n.byName[string(key)]
				if !known {
					idx = -1
				}
				if k < len(n.order) {
					n.order[k] = idx
				} else if k < 4*len(n.children)+8 {
					n.order = append(n.order, idx)
				}
				if err := s.Expect(':'); err != nil {
					return err
				}
			}
			switch {
			case !known && n == c.root, known && n == c.root && n.seen[idx]:
				// Not in the schema (or a second value for one key):
				// kept verbatim in _leftovers.
				if known {
					c.keybuf = jsonrow.AppendString(c.keybuf[:0], n.children[idx].name)
				} else {
					c.keybuf = jsonrow.AppendString(c.keybuf[:0], string(key))
					if c.warn != nil {
						c.warn.Unknown(key)
					}
				}
				raw, err := s.Raw()
				if err != nil {
					return err
				}
				c.meta.Leftover(c.keybuf, raw)
			case !known:
				// Below the root: the top-level member is kept whole in
				// _leftovers (see member).
				c.extra = true
				if c.warn != nil {
					c.keybuf = append(append(append(c.keybuf[:0], n.path...), '.'), key...)
					c.warn.Unknown(c.keybuf)
				}
				if err := s.Skip(); err != nil {
					return err
				}
			case n.seen[idx]:
				return fieldErr(n.children[idx], "the key appears twice in one object")
			default:
				n.seen[idx] = true
				var err error
				if n == c.root {
					err = c.member(n.children[idx])
				} else {
					err = c.value(n.children[idx], rep)
				}
				if err != nil {
					return err
				}
			}
			switch s.Peek() {
			case ',':
				s.Next()
				continue
			case '}':
				s.Next()
			default:
				return s.Syntax("want ',' or '}'")
			}
			break
		}
	}
	if n == c.root && len(c.added) > 0 {
		if err := c.addedFields(n); err != nil {
			return err
		}
	}
	for i, ok := range n.seen {
		if !ok {
			if err := c.null(n.children[i], rep); err != nil {
				return err
			}
		}
	}
	return nil
}

// addedChildren sets addedIdx for fields and reports whether each has a
// column. Fields with the keys of the last call keep its lookups: comparing
// a key with the one before is cheaper than hashing it, and usually
// compares a string with itself.
func (c *converter) addedChildren(fields []jsonrow.Field) bool {
	same := len(fields) == len(c.addedKeys)
	for i := 0; same && i < len(fields); i++ {
		same = fields[i].Key == c.addedKeys[i]
	}
	if !same {
		c.addedKeys, c.addedIdx = c.addedKeys[:0], c.addedIdx[:0]
		for _, f := range fields {
			idx, ok := c.root.byName[f.Key]
			if !ok {
				idx = -1
			}
			c.addedKeys = append(c.addedKeys, f.Key)
			c.addedIdx = append(c.addedIdx, idx)
		}
	}
	for _, idx := range c.addedIdx {
		if idx < 0 {
			return false
		}
	}
	return true
}

// addedFields reads the row's added fields into the root's columns the
// record's members left unset. A string for a string column is appended as
// it is; any other value is read from its own JSON text, then the scanner
// goes back to the row's object. Every Pluggy transaction adds its item's
// id: writing it as JSON text to read it back took 0.50 CPU s in three
// reads of 1,000,000 transactions to Parquet, the direct path 0.12.
func (c *converter) addedFields(n *node) error {
	for i, f := range c.added {
		idx := c.addedIdx[i]
		if idx >= 0 && n.seen[idx] {
			continue // the record has the key: its value wins
		}
		if idx < 0 {
			c.scratch = f.AppendValue(c.scratch[:0])
			c.meta.LeftoverKey(f.Key, c.scratch)
			continue
		}
		n.seen[idx] = true
		child := n.children[idx]
		// Valid UTF-8 reads back from its JSON text unchanged; invalid
		// UTF-8 is replaced there, so it takes the long way to be the
		// same string as the record's own members would be.
		if v, ok := f.Str(); ok && child.kind == kString && utf8.ValidString(v) {
			c.scratch = append(c.scratch[:0], v...)
			c.cols[child.col].appendBytes(c.scratch, 0)
			continue
		}
		if err := c.addedJSON(f, child); err != nil {
			return err
		}
	}
	return nil
}

// addedJSON reads an added field's value into child's columns from its
// JSON text, as a member of the record.
func (c *converter) addedJSON(f jsonrow.Field, child *node) error {
	outer := c.s
	defer func() { c.s = outer }()
	c.scratch = f.AppendValue(c.scratch[:0])
	c.s.Reset(c.scratch)
	return c.member(child)
}

// null appends a null to every leaf column of n: level def-1, the level its
// parent reached.
func (c *converter) null(n *node, rep int16) error {
	if !n.nullable {
		return fieldErr(n, "missing or null, but the schema requires a value")
	}
	if n.lazy {
		// The first null of a run goes to the leaves at once; the rest
		// are counted, and appended in one step each (appendPending).
		// A run of one or two costs what it did; a run of an account's
		// rows, one step a leaf. Counting every null instead made an
		// object that comes and goes row by row (paymentData) cost more.
		n.nulls++
		if n.nulls > 1 {
			n.pending++
			return nil
		}
	}
	for i := n.lo; i < n.hi; i++ {
		c.cols[i].null(n.def-1, rep)
	}
	return nil
}

// present is called before a lazy node's value: its run of nulls ends,
// and the nulls counted go to its leaves first.
func (c *converter) present(n *node) {
	n.nulls = 0
	if n.pending > 0 {
		c.appendPending(n)
	}
}

func (c *converter) appendPending(n *node) {
	for i := n.lo; i < n.hi; i++ {
		c.cols[i].nulls(n.def-1, n.pending)
	}
	n.pending = 0
}

// flushNulls appends the nulls the lazy nodes counted: the row group's
// columns are then whole, to be written. A run goes on in the next row
// group.
func (c *converter) flushNulls() {
	for _, n := range c.root.children {
		if n.pending > 0 {
			c.appendPending(n)
		}
	}
}

// value reads one value into n's columns, each leaf's first entry at
// repetition level rep.
func (c *converter) value(n *node, rep int16) error {
	s := &c.s
	first := s.Peek()
	if first == 'n' {
		if err := s.Literal("null"); err != nil {
			return err
		}
		return c.null(n, rep)
	}
	switch n.kind {
	case kString, kJSON:
		var v []byte
		var err error
		switch {
		case n.kind == kString && first == '"':
			v, err = s.Str()
			c.lone = c.lone || s.LoneSurrogate()
		case n.kind == kString && (first == '{' || first == '['):
			// An object or array where the schema says string: as its
			// JSON text it could not be told from a string holding that
			// text, so it is a misfit (_leftovers keeps it whole), as
			// in the PostgreSQL sink.
			return c.mismatch(n, "a string")
		default:
			// JSON text; or a number or boolean where the schema says
			// string: its JSON text is the string, so nothing is lost.
			v, err = s.Raw()
		}
		if err != nil {
			return err
		}
		c.cols[n.col].appendBytes(v, rep)
	case kLenient:
		if first == '{' || first == '[' {
			return c.mismatch(n, "a string") // as for kString
		}
		if first != '"' {
			// Not a date at all (a number, say): kept as its JSON text,
			// with nothing parsed, rather than failing on a field that
			// is lenient by definition.
			raw, err := s.Raw()
			if err != nil {
				return err
			}
			c.cols[n.col].appendBytes(raw, rep)
			c.cols[n.col+1].null(n.def-1, rep)
			return nil
		}
		v, err := s.Str()
		if err != nil {
			return err
		}
		c.lone = c.lone || s.LoneSurrogate()
		c.cols[n.col].appendBytes(v, rep)
		if us, ok := parseLenient(v); ok {
			c.cols[n.col+1].appendInt64(us, rep)
		} else {
			c.cols[n.col+1].null(n.def-1, rep)
		}
	case kBool:
		switch first {
		case 't':
			if err := s.Literal("true"); err != nil {
				return err
			}
			c.cols[n.col].appendBool(true, rep)
		case 'f':
			if err := s.Literal("false"); err != nil {
				return err
			}
			c.cols[n.col].appendBool(false, rep)
		default:
			return c.mismatch(n, "true or false")
		}
	case kInt:
		if first != '-' && (first < '0' || first > '9') {
			return c.mismatch(n, "an integer")
		}
		text, err := s.Number()
		if err != nil {
			return err
		}
		v, ok := parseInt(text)
		if !ok {
			return fieldErr(n, "value %s is not an integer that fits int64", text)
		}
		c.cols[n.col].appendInt64(v, rep)
	case kDecimal:
		var text []byte
		var err error
		switch {
		case first == '"':
			// x-decimal-string, or a provider sending money as a string:
			// the string's contents must be a decimal number.
			text, err = s.Str()
		case first == '-' || '0' <= first && first <= '9':
			text, err = s.Number()
		default:
			return c.mismatch(n, "a number")
		}
		if err != nil {
			return err
		}
		var v decimal128.Num
		v, c.digits, err = parseDecimal(text, n.scale, c.digits)
		if err != nil {
			return c.decimalMisfit(n, err, text)
		}
		c.cols[n.col].appendDecimal(v.HighBits(), v.LowBits(), rep)
	case kTimestamp:
		if first != '"' {
			return c.mismatch(n, "an RFC 3339 string")
		}
		v, err := s.Str()
		if err != nil {
			return err
		}
		us, err := parseTimestamp(v)
		if err != nil {
			return fieldErr(n, "value %q %v", v, err)
		}
		c.cols[n.col].appendInt64(us, rep)
	case kDate:
		if first != '"' {
			return c.mismatch(n, "a YYYY-MM-DD string")
		}
		v, err := s.Str()
		if err != nil {
			return err
		}
		d, err := parseDate(v)
		if err != nil {
			return fieldErr(n, "value %q is %v", v, err)
		}
		c.cols[n.col].appendInt32(d, rep)
	case kStruct:
		if first != '{' {
			return c.mismatch(n, "an object")
		}
		return c.object(n, rep)
	case kList:
		if first != '[' {
			return c.mismatch(n, "an array")
		}
		s.Next()
		if s.Peek() == ']' {
			s.Next()
			// present and empty: every leaf at the list's own level
			for i := n.lo; i < n.hi; i++ {
				c.cols[i].null(n.def, rep)
			}
			return nil
		}
		// The first element starts at the level the list does; the
		// others repeat at the list's level.
		for r := rep; ; r = n.elem.rep {
			if err := c.value(n.elem, r); err != nil {
				return err
			}
			switch s.Peek() {
			case ',':
				s.Next()
			case ']':
				s.Next()
				return nil
			default:
				return s.Syntax("want ',' or ']'")
			}
		}
	}
	return nil
}

// mismatch reports a value of the wrong JSON type, quoting it.
func (c *converter) mismatch(n *node, want string) error {
	raw, err := c.s.Raw()
	if err != nil {
		return err
	}
	if len(raw) > 80 {
		raw = append(raw[:80:80], "…"...)
	}
	return fieldErr(n, "value %s is not %s", raw, want)
}

// parseInt parses a JSON integer; a number with a fraction or exponent is
// accepted when it is integral (3.0, 1e3).
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	var u uint64
	plain := len(digits) > 0 && len(digits) <= 19
	for _, c := range digits {
		if c < '0' || c > '9' {
			plain = false
			break
		}
		u = u*10 + uint64(c-'0')
	}
	if !plain {
		v, _, err := parseDecimal(b, 0, nil)
		if err != nil || !fitsInt64(v) {
			return 0, false
		}
		return int64(v.LowBits()), true
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// fitsInt64 reports whether a 128-bit value is an int64.
func fitsInt64(v decimal128.Num) bool {
	lo, hi := v.LowBits(), v.HighBits()
	return hi == 0 && lo < 1<<63 || hi == -1 && lo >= 1<<63
}

// size is the bytes the row group being filled holds in its columns,
// which is what encoding it will read.
func (c *converter) size() int {
	total := 0
	for i := range c.cols {
		total += c.cols[i].size()
	}
	return total
}
