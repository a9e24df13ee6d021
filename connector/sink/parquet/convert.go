package parquet

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

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
}

// FieldError is a record value the sink cannot store without changing it. The
// write fails rather than rounding, truncating or guessing.
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
	return nil
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
			if !known {
				// Not in the schema: kept in the JSON output only.
				if err := s.Skip(); err != nil {
					return err
				}
			} else {
				if n.seen[idx] {
					return fieldErr(n.children[idx], "the key appears twice in one object")
				}
				n.seen[idx] = true
				if err := c.value(n.children[idx]); err != nil {
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
		idx, known := n.byName[f.Key]
		if !known {
			continue // not in the schema: kept in the JSON output only
		}
		n.seen[idx] = true
		c.scratch = f.AppendValue(c.scratch[:0])
		c.s.Reset(c.scratch)
		if err := c.value(n.children[idx]); err != nil {
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
		n.b.str.AppendNull()
	case kLenient:
		n.b.str.AppendNull()
		n.b.parsed.AppendNull()
	case kBool:
		n.b.bool.AppendNull()
	case kInt:
		n.b.i64.AppendNull()
	case kDecimal:
		n.b.dec.AppendNull()
	case kTimestamp:
		n.b.ts.AppendNull()
	case kDate:
		n.b.date.AppendNull()
	case kStruct:
		n.b.st.AppendNull() // and to its fields
	case kList:
		n.b.list.AppendNull()
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
			n.b.str.BinaryBuilder.Append(raw)
			return nil
		}
		v, err := s.Str()
		if err != nil {
			return err
		}
		n.b.str.BinaryBuilder.Append(v)
	case kJSON:
		raw, err := s.Raw()
		if err != nil {
			return err
		}
		n.b.str.BinaryBuilder.Append(raw)
	case kLenient:
		if first != '"' {
			// Not a date at all (a number, say): kept as its JSON text,
			// with nothing parsed, rather than failing on a field that
			// is lenient by definition.
			raw, err := s.Raw()
			if err != nil {
				return err
			}
			n.b.str.BinaryBuilder.Append(raw)
			n.b.parsed.AppendNull()
			return nil
		}
		v, err := s.Str()
		if err != nil {
			return err
		}
		n.b.str.BinaryBuilder.Append(v)
		if us, ok := parseLenient(v); ok {
			n.b.parsed.Append(arrow.Timestamp(us))
		} else {
			n.b.parsed.AppendNull()
		}
	case kBool:
		switch first {
		case 't':
			if err := s.Literal("true"); err != nil {
				return err
			}
			n.b.bool.Append(true)
		case 'f':
			if err := s.Literal("false"); err != nil {
				return err
			}
			n.b.bool.Append(false)
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
		n.b.i64.Append(v)
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
		n.b.dec.Append(v)
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
		n.b.ts.Append(arrow.Timestamp(us))
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
		n.b.date.Append(arrow.Date32(d))
	case kStruct:
		if first != '{' {
			return c.mismatch(n, "an object")
		}
		n.b.st.Append(true)
		return c.object(n)
	case kList:
		if first != '[' {
			return c.mismatch(n, "an array")
		}
		n.b.list.Append(true)
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
