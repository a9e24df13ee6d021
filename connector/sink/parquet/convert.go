package parquet

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// builders are the Arrow builders one node appends to, bound once per
// RecordBuilder (which reuses them from batch to batch).
type builders struct {
	str    *array.StringBuilder // kString, kJSON, kLenient
	parsed *array.TimestampBuilder
	bool   *array.BooleanBuilder
	i64    *array.Int64Builder
	dec    *array.Decimal128Builder
	ts     *array.TimestampBuilder
	date   *array.Date32Builder
	st     *array.StructBuilder
	list   *array.ListBuilder
}

// bind attaches n's children to the builders of a struct (or of the record:
// field(i) returns the i-th column's builder).
func (n *node) bindChildren(field func(i int) array.Builder) {
	i := 0
	for _, c := range n.children {
		c.bind(field(i))
		i++
		if c.kind == kLenient {
			c.b.parsed = field(i).(*array.TimestampBuilder)
			i++
		}
	}
}

func (n *node) bind(b array.Builder) {
	switch n.kind {
	case kString, kJSON, kLenient:
		n.b.str = b.(*array.StringBuilder)
	case kBool:
		n.b.bool = b.(*array.BooleanBuilder)
	case kInt:
		n.b.i64 = b.(*array.Int64Builder)
	case kDecimal:
		n.b.dec = b.(*array.Decimal128Builder)
	case kTimestamp:
		n.b.ts = b.(*array.TimestampBuilder)
	case kDate:
		n.b.date = b.(*array.Date32Builder)
	case kStruct:
		n.b.st = b.(*array.StructBuilder)
		n.bindChildren(n.b.st.FieldBuilder)
	case kList:
		n.b.list = b.(*array.ListBuilder)
		n.elem.bind(n.b.list.ValueBuilder())
	}
}

// converter appends records to the builders of a node tree.
type converter struct {
	root   *node
	s      jsonrow.Scanner
	digits []byte
	// added are the connector's fields of the row being converted, read as
	// the root object's first members; value is the scratch buffer one
	// of them is encoded into.
	added   []jsonrow.Field
	scratch []byte

	// meta collects the row's _leftovers and _changes (package columns has
	// the rule), written to left and changes; warn logs each nulled field
	// once per run.
	meta          columns.RowMeta
	left, changes *array.StringBuilder
	warn          *columns.Warner
	// dry is set while a nested top-level value is checked before it is
	// appended: a struct or list half appended cannot be taken back, so it
	// is appended only once it is known to fit. extra is set when an
	// object below the root has a member the schema lacks.
	dry, extra bool
	keybuf     []byte
}

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
// builders hold a partial row and must be discarded.
func (c *converter) record(row jsonrow.Row) error {
	c.added = nil
	if len(row.Fields) > 0 {
		c.added = row.Added()
	}
	c.meta.Reset()
	c.s.Reset(row.Raw)
	if c.s.Peek() != '{' {
		return errors.New("a record must be a JSON object")
	}
	if err := c.object(c.root); err != nil {
		return err
	}
	if !c.s.AtEnd() {
		return c.s.Syntax("data after the record's object")
	}
	for _, ch := range row.Changes {
		c.meta.Change(ch)
	}
	appendText(c.left, c.meta.LeftoversJSON())
	appendText(c.changes, c.meta.ChangesJSON())
	return nil
}

// appendText appends b, or null for nil.
func appendText(b *array.StringBuilder, text []byte) {
	if text == nil {
		b.AppendNull()
		return
	}
	b.BinaryBuilder.Append(text)
}

// member reads the value of the root's known member key into its column. A
// value the column cannot hold exactly (a *FieldError) leaves the column
// null, goes verbatim into _leftovers and is noted in _changes. A struct or
// list is checked whole before it is appended; one that fits but carries
// members the schema lacks is appended and also kept whole in _leftovers,
// so those members are not lost.
func (c *converter) member(n *node) error {
	start := c.s
	nested := (n.kind == kStruct || n.kind == kList) && c.s.Peek() != 'n'
	var err error
	if nested {
		c.dry, c.extra = true, false
		err = c.value(n)
		c.dry = false
		if err == nil {
			c.s = start
			if err = c.value(n); err != nil {
				return err // it fitted a moment ago: a bug, not data
			}
			if c.extra {
				c.s = start
				raw, err := c.s.Raw()
				if err != nil {
					return err
				}
				c.meta.LeftoverKey(n.name, raw)
			}
			return nil
		}
	} else if err = c.value(n); err == nil {
		return nil
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err // the record is not valid JSON
	}
	c.s = start
	raw, rerr := c.s.Raw()
	if rerr != nil {
		return rerr
	}
	c.meta.LeftoverKey(n.name, raw)
	c.meta.Nulled(n.name)
	if c.warn != nil {
		c.warn.Nulled(n.name, fe.Err)
	}
	return c.null(n)
}

// object reads an object's members into n's children and appends null to
// every child the object lacks. The caller has checked the '{'.
func (c *converter) object(n *node) error {
	s := &c.s
	s.Next() // '{'
	clear(n.seen)
	if n == c.root && len(c.added) > 0 {
		if err := c.addedFields(n); err != nil {
			return err
		}
	}
	if s.Peek() == '}' {
		s.Next()
	} else {
		for k := 0; ; k++ {
			key, err := s.Str()
			if err != nil {
				return err
			}
			// Records of one API list their keys in the same order: try
			// the child the k-th key was last time before the map.
			var idx int
			var known bool
			if k < len(n.order) && n.order[k] >= 0 && n.children[n.order[k]].name == string(key) {
				idx, known = n.order[k], true
			} else {
				idx, known = n.byName[string(key)]
				if !known {
					idx = -1
				}
				if k < len(n.order) {
					n.order[k] = idx
				} else if k < 4*len(n.children)+8 {
					n.order = append(n.order, idx)
				}
			}
			if err := s.Expect(':'); err != nil {
				return err
			}
			switch {
			case !known && n == c.root, known && n == c.root && n.seen[idx]:
				// Not in the schema (or a second value for one key):
				// kept verbatim in _leftovers.
				c.keybuf = jsonrow.AppendString(c.keybuf[:0], string(key))
				raw, err := s.Raw()
				if err != nil {
					return err
				}
				c.meta.Leftover(c.keybuf, raw)
			case !known:
				// Below the root: the top-level member is kept whole in
				// _leftovers (see member).
				c.extra = true
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
					err = c.value(n.children[idx])
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
	for i, ok := range n.seen {
		if !ok {
			if err := c.null(n.children[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// addedFields reads the row's added fields into the root's columns, each
// from its own JSON text, then goes back to the row's object.
func (c *converter) addedFields(n *node) error {
	outer := c.s
	defer func() { c.s = outer }()
	for _, f := range c.added {
		c.scratch = f.AppendValue(c.scratch[:0])
		idx, known := n.byName[f.Key]
		if !known {
			c.meta.LeftoverKey(f.Key, c.scratch)
			continue
		}
		n.seen[idx] = true
		c.s.Reset(c.scratch)
		if err := c.member(n.children[idx]); err != nil {
			return err
		}
	}
	return nil
}

// null appends a null to every column of n.
func (c *converter) null(n *node) error {
	if !n.nullable {
		return fieldErr(n, "missing or null, but the schema requires a value")
	}
	switch n.kind {
	case kString, kJSON:
		if !c.dry {
			n.b.str.AppendNull()
		}
	case kLenient:
		if !c.dry {
			n.b.str.AppendNull()
		}
		if !c.dry {
			n.b.parsed.AppendNull()
		}
	case kBool:
		if !c.dry {
			n.b.bool.AppendNull()
		}
	case kInt:
		if !c.dry {
			n.b.i64.AppendNull()
		}
	case kDecimal:
		if !c.dry {
			n.b.dec.AppendNull()
		}
	case kTimestamp:
		if !c.dry {
			n.b.ts.AppendNull()
		}
	case kDate:
		if !c.dry {
			n.b.date.AppendNull()
		}
	case kStruct:
		if !c.dry {
			n.b.st.AppendNull() // and to its fields
		}
	case kList:
		if !c.dry {
			n.b.list.AppendNull()
		}
	}
	return nil
}

// value reads one value into n's columns.
func (c *converter) value(n *node) error {
	s := &c.s
	first := s.Peek()
	if first == 'n' {
		if err := s.Literal("null"); err != nil {
			return err
		}
		return c.null(n)
	}
	switch n.kind {
	case kString:
		if first != '"' {
			// A number or boolean where the schema says string: its JSON
			// text is the string, so nothing is lost.
			raw, err := s.Raw()
			if err != nil {
				return err
			}
			if !c.dry {
				n.b.str.BinaryBuilder.Append(raw)
			}
			return nil
		}
		v, err := s.Str()
		if err != nil {
			return err
		}
		if !c.dry {
			n.b.str.BinaryBuilder.Append(v)
		}
	case kJSON:
		raw, err := s.Raw()
		if err != nil {
			return err
		}
		if !c.dry {
			n.b.str.BinaryBuilder.Append(raw)
		}
	case kLenient:
		if first != '"' {
			// Not a date at all (a number, say): kept as its JSON text,
			// with nothing parsed, rather than failing on a field that
			// is lenient by definition.
			raw, err := s.Raw()
			if err != nil {
				return err
			}
			if !c.dry {
				n.b.str.BinaryBuilder.Append(raw)
			}
			if !c.dry {
				n.b.parsed.AppendNull()
			}
			return nil
		}
		v, err := s.Str()
		if err != nil {
			return err
		}
		if !c.dry {
			n.b.str.BinaryBuilder.Append(v)
		}
		if us, ok := parseLenient(v); ok {
			if !c.dry {
				n.b.parsed.Append(arrow.Timestamp(us))
			}
		} else {
			if !c.dry {
				n.b.parsed.AppendNull()
			}
		}
	case kBool:
		switch first {
		case 't':
			if err := s.Literal("true"); err != nil {
				return err
			}
			if !c.dry {
				n.b.bool.Append(true)
			}
		case 'f':
			if err := s.Literal("false"); err != nil {
				return err
			}
			if !c.dry {
				n.b.bool.Append(false)
			}
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
		if !c.dry {
			n.b.i64.Append(v)
		}
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
			return &FieldError{Field: n.path, Err: decimalError(err, n.scale, text)}
		}
		if !c.dry {
			n.b.dec.Append(v)
		}
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
		if !c.dry {
			n.b.ts.Append(arrow.Timestamp(us))
		}
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
		if !c.dry {
			n.b.date.Append(arrow.Date32(d))
		}
	case kStruct:
		if first != '{' {
			return c.mismatch(n, "an object")
		}
		if !c.dry {
			n.b.st.Append(true)
		}
		return c.object(n)
	case kList:
		if first != '[' {
			return c.mismatch(n, "an array")
		}
		if !c.dry {
			n.b.list.Append(true)
		}
		s.Next()
		if s.Peek() == ']' {
			s.Next()
			return nil
		}
		for {
			if err := c.value(n.elem); err != nil {
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

// size is the bytes n's builders hold for the batch being filled, as Arrow
// lays them out (values, offsets, validity bitmaps), which is what encoding
// the row group will read.
func (n *node) size() int {
	switch n.kind {
	case kString, kJSON:
		return stringSize(n.b.str)
	case kLenient:
		return stringSize(n.b.str) + fixedSize(n.b.parsed.Len(), 8)
	case kBool:
		return fixedSize(n.b.bool.Len(), 0) + n.b.bool.Len()/8
	case kInt:
		return fixedSize(n.b.i64.Len(), 8)
	case kDecimal:
		return fixedSize(n.b.dec.Len(), 16)
	case kTimestamp:
		return fixedSize(n.b.ts.Len(), 8)
	case kDate:
		return fixedSize(n.b.date.Len(), 4)
	case kList:
		return fixedSize(n.b.list.Len(), 4) + n.elem.size()
	}
	// a struct, or the root
	total := 0
	if n.b.st != nil {
		total = fixedSize(n.b.st.Len(), 0)
	}
	for _, c := range n.children {
		total += c.size()
	}
	return total
}

// fixedSize is the size of rows values of width bytes and their validity
// bitmap.
func fixedSize(rows, width int) int { return rows*width + rows/8 }

func stringSize(b *array.StringBuilder) int { return b.DataLen() + fixedSize(b.Len(), 4) }
