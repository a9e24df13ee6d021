package singer

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/internal/civil"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// fit is what a stream's SCHEMA asks of one value, compiled for the
// encoder: the JSON types it takes and, where the schema says more, the
// properties, items, required members and pattern of its parts. It checks
// what a Meltano SDK target's validator checks of our schemas (every
// keyword they use but format, which the SDK leaves unchecked by default),
// so that a record the encoder passes is one such a target accepts:
// type (an integer is written in plain digits: see integral), properties,
// items, required and pattern; and, of a top-level member whose schema
// says format date or date-time, what the target's parse of it takes
// (date).
// Annotations (description, title, x-…) ask nothing.
type fit struct {
	types    kind // 0: any
	props    map[string]*fit
	items    *fit
	required []string
	pattern  *regexp.Regexp
	// date is the format of a top-level string member that a Meltano SDK
	// target parses (dateDate, dateTime; 0: none).
	date dateFormat
	// deep: the value's parts must be walked (props, items, required or
	// pattern); else its first byte tells.
	deep bool
	// label is types in words ("object or null"), for the WARNING.
	label string
	// order is props by the position its members last came in (see
	// lookup).
	order []slot
}

// slot is an object member's name as last seen at one position, and what
// the schema says of it: f, and known, whether it declares it.
type slot struct {
	name  string
	f     *fit
	known bool
}

// lookup is m[key], found first in order, the names the object at hand's
// kind came with last time: an API lists the members of its rows in one
// order, so comparing key with the name at position i spares the hash of
// a map lookup (and the string the name would take). A new order is
// learnt as it comes. Only one goroutine may use order at a time (the
// encoder's lock).
func lookup(m map[string]*fit, order *[]slot, i int, key []byte) (*fit, string, bool) {
	if i < len(*order) {
		if s := (*order)[i]; s.name == string(key) {
			return s.f, s.name, s.known
		}
	}
	f, known := m[string(key)]
	for len(*order) <= i {
		*order = append(*order, slot{})
	}
	name := string(key)
	(*order)[i] = slot{name: name, f: f, known: known}
	return f, name, known
}

// kind is a set of JSON types, one bit each.
type kind uint8

const (
	kindNull kind = 1 << iota
	kindBoolean
	kindObject
	kindArray
	kindNumber
	kindInteger
	kindString
)

var kindNames = []struct {
	k    kind
	name string
}{
	{kindObject, "object"}, {kindArray, "array"}, {kindString, "string"}, {kindNumber, "number"},
	{kindInteger, "integer"}, {kindBoolean, "boolean"}, {kindNull, "null"},
}

func kindOf(name string) kind {
	for _, n := range kindNames {
		if n.name == name {
			return n.k
		}
	}
	return 0
}

// compileFit compiles a schema node decoded with UseNumber. A node that
// asks nothing is nil.
func compileFit(node map[string]any) *fit {
	f := &fit{}
	switch t := node["type"].(type) {
	case string:
		f.types = kindOf(t)
	case []any:
		for _, x := range t {
			s, _ := x.(string)
			k := kindOf(s)
			if k == 0 {
				f.types = 0 // a name JSON Schema lacks: take any value
				break
			}
			f.types |= k
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for name, child := range props {
			c, _ := child.(map[string]any)
			if cf := compileFit(c); cf != nil {
				if f.props == nil {
					f.props = map[string]*fit{}
				}
				f.props[name] = cf
			}
		}
	}
	if items, ok := node["items"].(map[string]any); ok {
		f.items = compileFit(items)
	}
	if req, ok := node["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok {
				f.required = append(f.required, s)
			}
		}
	}
	if p, ok := node["pattern"].(string); ok {
		// Python's re and Go's RE2 read the patterns our schemas use
		// alike; one RE2 cannot read is not checked.
		f.pattern, _ = regexp.Compile(p)
	}
	f.deep = f.props != nil || f.items != nil || f.required != nil || f.pattern != nil
	if f.types == 0 && !f.deep {
		return nil
	}
	f.label = f.types.String()
	return f
}

func (k kind) String() string {
	if k == 0 {
		return "any value"
	}
	var names []string
	for _, n := range kindNames {
		if k&n.k != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// mismatch says where and how a value does not fit: path inside the
// member (empty: the member itself; innermost first, as check unwinds),
// and what came, in words, never the value (it may be personal data).
type mismatch struct {
	path    []string
	want    string
	got     string
	missing bool // path names a required member the object lacks
}

// words is the mismatch of member field in words, for the WARNING: "is
// a string", "has a number at meta.a, where the schema says string",
// "lacks meta.b, which the schema requires".
func (m *mismatch) words(field string) string {
	if len(m.path) == 0 {
		return "is " + m.got
	}
	path := append(slices.Clone(m.path), field)
	slices.Reverse(path)
	where := strings.ReplaceAll(strings.Join(path, "."), ".[]", "[]")
	if m.missing {
		return "lacks " + where + ", which the schema requires"
	}
	return "has " + m.got + " at " + where + ", where the schema says " + m.want
}

// check consumes the value sc is at and reports the first way it does not
// fit f (nil: it fits; a nil f takes anything). err is a syntax error in
// the value. Only a value whose schema has parts to check (deep) is
// walked; the others are told by their first byte (a number by its text
// where only an integer fits).
func (f *fit) check(sc *jsonrow.Scanner) (*mismatch, error) {
	k := firstKind(sc.Peek())
	if f == nil {
		return nil, sc.Skip()
	}
	if k == kindNumber {
		switch {
		case f.types == 0 || f.types&kindNumber != 0:
			return nil, sc.Skip()
		case f.types&kindInteger == 0:
			return &mismatch{want: f.label, got: "a number"}, sc.Skip()
		}
		n, err := sc.Number()
		if err != nil {
			return nil, err
		}
		if !integral(n) {
			return &mismatch{want: f.label, got: "a number with a fraction or an exponent"}, nil
		}
		return nil, nil
	}
	if f.types != 0 && f.types&k == 0 {
		return &mismatch{want: f.label, got: kindWords(k)}, sc.Skip()
	}
	if !f.deep && (f.date == 0 || k != kindString) {
		return nil, sc.Skip()
	}
	var bad *mismatch
	switch k {
	case kindObject:
		var seen []bool
		if f.required != nil {
			seen = make([]bool, len(f.required))
		}
		i := -1
		err := sc.Object(func(key []byte) error {
			i++
			if seen != nil {
				if j := slices.Index(f.required, string(key)); j >= 0 {
					seen[j] = true
				}
			}
			cf, name, _ := lookup(f.props, &f.order, i, key)
			if cf == nil {
				return sc.Skip()
			}
			m, err := cf.check(sc)
			if m != nil && bad == nil {
				m.path = append(m.path, name)
				bad = m
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if i := slices.Index(seen, false); i >= 0 && bad == nil {
			bad = &mismatch{path: []string{f.required[i]}, missing: true}
		}
	case kindArray:
		err := sc.Array(func() error {
			m, err := f.items.check(sc)
			if m != nil && bad == nil {
				m.path = append(m.path, "[]")
				bad = m
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	case kindString:
		if f.pattern == nil && f.date == 0 {
			return nil, sc.Skip()
		}
		s, err := sc.Str()
		if err != nil {
			return nil, err
		}
		switch {
		case f.pattern != nil && !f.pattern.Match(s):
			bad = &mismatch{want: "a string matching " + f.pattern.String(), got: "a string that does not match the schema's pattern " + f.pattern.String()}
		case f.date != 0 && !f.date.reads(s):
			bad = &mismatch{want: f.date.String(), got: "a string that is no " + f.date.String() + " a target can read"}
		}
	default:
		return nil, sc.Skip()
	}
	return bad, nil
}

// firstKind is the kind of the JSON value that starts with byte c (a
// number's: kindNumber, integral or not).
func firstKind(c byte) kind {
	switch c {
	case 'n':
		return kindNull
	case 't', 'f':
		return kindBoolean
	case '{':
		return kindObject
	case '[':
		return kindArray
	case '"':
		return kindString
	}
	return kindNumber
}

func kindWords(k kind) string {
	switch k {
	case kindNull:
		return "null"
	case kindBoolean:
		return "a boolean"
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	case kindString:
		return "a string"
	}
	return "a number"
}

// integral reports whether JSON number text n is an integer to a Meltano
// SDK target: plain digits. The SDK reads a number with a fraction or an
// exponent (1.0, 1e2) as a Python Decimal, which jsonschema does not
// count as an integer, whatever its value.
func integral(n []byte) bool {
	return !bytes.ContainsAny(n, ".eE")
}

// compileFits is, for each top-level property of a SCHEMA, what its value
// must be (nil: anything), the set of declared members.
func compileFits(schema json.RawMessage) map[string]*fit {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	var node map[string]any
	if dec.Decode(&node) != nil {
		return nil
	}
	props, _ := node["properties"].(map[string]any)
	if len(props) == 0 {
		return nil
	}
	fits := make(map[string]*fit, len(props))
	for name, child := range props {
		c, _ := child.(map[string]any)
		f := compileFit(c)
		if d := dateFormatOf(c); d != 0 && f != nil && f.types&kindString != 0 {
			f.date = d
		}
		fits[name] = f
	}
	return fits
}

// dateFormat is a string format a Meltano SDK target parses.
type dateFormat uint8

const (
	dateDate dateFormat = 1 + iota // "date"
	dateTime                       // "date-time"
)

func (d dateFormat) String() string {
	if d == dateDate {
		return "date (YYYY-MM-DD)"
	}
	return "date-time (RFC 3339)"
}

// dateFormatOf is the format of schema node c that a Meltano SDK target
// parses, 0 for any other. The SDK's sink, after validating a record
// (formats unchecked), parses every top-level member whose schema is a
// string of format date, date-time or time (_parse_timestamps_in_record;
// nested members it leaves as they are), and with the default
// datetime_error_treatment, ERROR, a string it cannot parse stops the
// load. No schema of ours says time (TestFitCoversTheSchemasKeywords).
func dateFormatOf(c map[string]any) dateFormat {
	switch c["format"] {
	case "date":
		return dateDate
	case "date-time":
		return dateTime
	}
	return 0
}

// reads reports whether every Meltano SDK target reads s as a date (d is
// dateDate) or a date-time: the SDK parses with Python's
// date.fromisoformat and datetime.fromisoformat (3.11's, backported to
// older Pythons), and before that with dateutil's parser.parse, which
// targets pinned to an old SDK still run. Taken are the spellings all of
// them read, as civil reads them: YYYY-MM-DD for a date; for a date-time
// that date alone, or followed by T, t or a space, HH:MM, optional
// seconds with a fraction of any length (. or ,), and an optional zone,
// Z, ±HH:MM or ±HHMM. Refused: year 0000 (Python's years begin at 1),
// the zone z, which fromisoformat refuses, the spellings not all of them
// read (2024-W01-1, 31/12/2024, 2024-05-01T00:00:00 for a date), and a
// few all read that no API writes (20240501, a bare hour, +01): a value
// moved that a target would have read is kept whole in _leftovers, one
// kept that it cannot read stops its load (TestDateReadsAsEveryTarget). The common case, RFC 3339 as the APIs
// write it, costs one pass of civil.DateTime and no allocation.
func (d dateFormat) reads(s []byte) bool {
	if len(s) < 10 || string(s[:4]) == "0000" {
		return false
	}
	if len(s) == 10 {
		_, _, _, ok := civil.Date(s)
		return ok
	}
	if d == dateDate {
		return false
	}
	_, n, _, ok := civil.DateTime(s, false)
	if ok && n == len(s) {
		return s[n-1] != 'z'
	}
	// ±HHMM: civil reads ±HH:MM only.
	var buf [48]byte
	if i := len(s) - 5; i >= 16 && (s[i] == '+' || s[i] == '-') {
		if _, ok := civil.Digits(s[i+1:]); ok {
			t := append(append(append(buf[:0], s[:i+3]...), ':'), s[i+3:]...)
			_, n, _, ok := civil.DateTime(t, false)
			return ok && n == len(t)
		}
	}
	return false
}
