package parquet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// MoneyScale is the number of decimal places kept for a JSON Schema "number"
// without "x-decimal-scale": money. Pluggy mostly sends cents, but Open
// Finance amounts may carry up to four places (56.8248), and a DECIMAL(18,2)
// column would have to round those. Four places hold every amount seen; a
// value with a fifth non-zero place fails the write instead of being rounded.
const MoneyScale = 4

// decimalPrecision is the precision of every decimal column: the widest that
// fits Parquet's 16-byte DECIMAL, so an amount never overflows a column whose
// scale is right.
const decimalPrecision = 38

// ParsedSuffix is appended to the name of an "x-lenient-time" field to name
// the sibling column holding its parsed timestamp.
const ParsedSuffix = "_parsed"

// kind is how one JSON Schema property is stored.
type kind int

const (
	kString    kind = iota // utf8
	kJSON                  // utf8 holding the value's JSON text
	kBool                  // boolean
	kInt                   // int64
	kDecimal               // decimal128(38, scale)
	kTimestamp             // timestamp(us, UTC), from an RFC 3339 string
	kDate                  // date32, from YYYY-MM-DD
	kLenient               // utf8 kept verbatim + <name>_parsed timestamp(us, UTC)
	kStruct                // struct of the object's properties
	kList                  // list<struct> of an array of objects
)

func (k kind) String() string {
	return [...]string{"string", "json", "boolean", "int64", "decimal", "timestamp", "date", "lenient time", "struct", "list"}[k]
}

// node is one column (or group of columns) derived from a JSON Schema
// property; a record is converted by walking its JSON along the node tree.
type node struct {
	name     string // JSON property name, and column name
	path     string // dotted path from the record root, for errors
	kind     kind
	nullable bool
	scale    int32 // kDecimal

	children []*node        // kStruct and the root
	byName   map[string]int // child index by JSON property name
	seen     []bool         // per child, while converting one object
	order    []int          // child index of each key position last time (-1: unknown key)
	elem     *node          // kList: the element struct

	b builders // bound to the current batch
}

// jsonSchema is the subset of draft-07 the sink understands, plus the
// project's annotations (see package schemas).
type jsonSchema struct {
	Type          typeList     `json:"type"`
	Format        string       `json:"format"`
	Properties    orderedProps `json:"properties"`
	Items         *jsonSchema  `json:"items"`
	Required      []string     `json:"required"`
	LenientTime   bool         `json:"x-lenient-time"`
	DecimalScale  *int         `json:"x-decimal-scale"`
	DecimalString bool         `json:"x-decimal-string"`
}

// typeList is "type" as a string or an array of strings.
type typeList []string

func (t *typeList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = typeList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf(`"type" must be a string or an array of strings`)
	}
	*t = many
	return nil
}

// prop is one entry of "properties".
type prop struct {
	name   string
	schema *jsonSchema
}

// orderedProps keeps "properties" in declaration order, which becomes the
// column order.
type orderedProps struct {
	set   bool
	props []prop
}

func (o *orderedProps) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf(`"properties" must be an object`)
	}
	o.set = true
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name := tok.(string)
		var s jsonSchema
		if err := dec.Decode(&s); err != nil {
			return fmt.Errorf("property %q: %w", name, err)
		}
		o.props = append(o.props, prop{name: name, schema: &s})
	}
	_, err = dec.Token()
	return err
}

// deriveRoot turns a stream's JSON Schema into the node tree its records are
// converted along. The root must be an object with properties.
func deriveRoot(raw json.RawMessage) (*node, error) {
	var s jsonSchema
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("reading the JSON Schema: %w", err)
	}
	nonNull, _ := s.Type.split()
	if len(nonNull) != 1 || nonNull[0] != "object" {
		return nil, fmt.Errorf(`the JSON Schema's root must have "type": "object", not %v`, []string(s.Type))
	}
	if len(s.Properties.props) == 0 {
		return nil, fmt.Errorf("the JSON Schema's root has no properties: nothing to make columns of")
	}
	root := &node{kind: kStruct}
	if err := deriveChildren(root, &s, true); err != nil {
		return nil, err
	}
	return root, nil
}

// split returns the non-null types and whether "null" is allowed.
func (t typeList) split() (nonNull []string, null bool) {
	for _, ty := range t {
		if ty == "null" {
			null = true
			continue
		}
		nonNull = append(nonNull, ty)
	}
	return nonNull, null
}

// deriveChildren fills n's children from s's properties. present says n can
// never be null itself, so a required child may be a non-nullable column.
func deriveChildren(n *node, s *jsonSchema, present bool) error {
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	n.byName = map[string]int{}
	columns := map[string]string{} // column name -> the property it comes from
	for _, p := range s.Properties.props {
		path := p.name
		if n.path != "" {
			path = n.path + "." + p.name
		}
		c, err := deriveNode(p.name, path, p.schema, required[p.name] && present)
		if err != nil {
			return err
		}
		names := []string{c.name}
		if c.kind == kLenient {
			names = append(names, c.name+ParsedSuffix)
		}
		for _, col := range names {
			if other, dup := columns[col]; dup {
				return fmt.Errorf("field %s: column %q would also be made from property %q; rename one", path, col, other)
			}
			columns[col] = p.name
		}
		n.byName[p.name] = len(n.children)
		n.children = append(n.children, c)
	}
	n.seen = make([]bool, len(n.children))
	return nil
}

// deriveNode maps one property. requiredPresent is true when the value can
// never be absent: the property is required and its parent is never null.
func deriveNode(name, path string, s *jsonSchema, requiredPresent bool) (*node, error) {
	types, null := s.Type.split()
	n := &node{name: name, path: path, nullable: null || !requiredPresent}
	if len(types) == 2 && contains(types, "integer") && contains(types, "number") {
		types = []string{"number"}
	}
	if len(types) != 1 {
		// No type, or a mix (string or number, say): keep the JSON text.
		n.kind = kJSON
		return n, nil
	}
	scale := int32(MoneyScale)
	if s.DecimalScale != nil {
		if *s.DecimalScale < 0 || *s.DecimalScale > decimalPrecision {
			return nil, fmt.Errorf("field %s: x-decimal-scale %d is outside 0..%d", path, *s.DecimalScale, decimalPrecision)
		}
		scale = int32(*s.DecimalScale)
	}
	switch types[0] {
	case "string":
		switch {
		case s.DecimalString:
			n.kind, n.scale = kDecimal, scale
		case s.Format == "date-time":
			n.kind = kTimestamp
		case s.Format == "date":
			n.kind = kDate
		case s.LenientTime:
			n.kind = kLenient
		default:
			n.kind = kString
		}
	case "number":
		n.kind, n.scale = kDecimal, scale
	case "integer":
		n.kind = kInt
	case "boolean":
		n.kind = kBool
	case "object":
		if len(s.Properties.props) == 0 {
			// A free-form map: its keys are not known, so no struct.
			n.kind = kJSON
			return n, nil
		}
		n.kind = kStruct
		if err := deriveChildren(n, s, !n.nullable); err != nil {
			return nil, err
		}
	case "array":
		if s.Items == nil {
			n.kind = kJSON
			return n, nil
		}
		itemTypes, itemNull := s.Items.Type.split()
		if len(itemTypes) != 1 || itemTypes[0] != "object" || len(s.Items.Properties.props) == 0 {
			// Arrays of scalars, of mixed values, of free-form objects.
			n.kind = kJSON
			return n, nil
		}
		n.kind = kList
		n.elem = &node{name: "element", path: path + "[]", kind: kStruct, nullable: itemNull}
		if err := deriveChildren(n.elem, s.Items, !itemNull); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("field %s: unknown JSON Schema type %q", path, types[0])
	}
	return n, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Arrow types of the columns.
var (
	tsType   = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	dateType = arrow.FixedWidthTypes.Date32
)

// fields returns the Arrow fields n is stored as: one, or two for a lenient
// time (the verbatim string and its parsed sibling).
func (n *node) fields() []arrow.Field {
	f := arrow.Field{Name: n.name, Nullable: n.nullable}
	switch n.kind {
	case kString, kJSON:
		f.Type = arrow.BinaryTypes.String
	case kBool:
		f.Type = arrow.FixedWidthTypes.Boolean
	case kInt:
		f.Type = arrow.PrimitiveTypes.Int64
	case kDecimal:
		f.Type = &arrow.Decimal128Type{Precision: decimalPrecision, Scale: n.scale}
	case kTimestamp:
		f.Type = tsType
	case kDate:
		f.Type = dateType
	case kLenient:
		f.Type = arrow.BinaryTypes.String
		return []arrow.Field{f, {Name: n.name + ParsedSuffix, Type: tsType, Nullable: true}}
	case kStruct:
		f.Type = arrow.StructOf(n.childFields()...)
	case kList:
		f.Type = arrow.ListOfField(arrow.Field{Name: "element", Type: arrow.StructOf(n.elem.childFields()...), Nullable: n.elem.nullable})
	}
	return []arrow.Field{f}
}

func (n *node) childFields() []arrow.Field {
	var out []arrow.Field
	for _, c := range n.children {
		out = append(out, c.fields()...)
	}
	return out
}

// arrowSchema returns the Arrow schema of root's records.
func (n *node) arrowSchema(meta map[string]string) *arrow.Schema {
	var md *arrow.Metadata
	if len(meta) > 0 {
		m := arrow.MetadataFrom(meta)
		md = &m
	}
	return arrow.NewSchema(n.childFields(), md)
}

// describe prints the column tree, one column per line, for tests and docs.
func (n *node) describe() string {
	var sb strings.Builder
	var walk func(fs []arrow.Field, indent string)
	walk = func(fs []arrow.Field, indent string) {
		for _, f := range fs {
			null := ""
			if !f.Nullable {
				null = " not null"
			}
			switch t := f.Type.(type) {
			case *arrow.StructType:
				fmt.Fprintf(&sb, "%s%s struct%s\n", indent, f.Name, null)
				walk(t.Fields(), indent+"  ")
			case *arrow.ListType:
				fmt.Fprintf(&sb, "%s%s list%s\n", indent, f.Name, null)
				walk([]arrow.Field{t.ElemField()}, indent+"  ")
			default:
				fmt.Fprintf(&sb, "%s%s %s%s\n", indent, f.Name, f.Type, null)
			}
		}
	}
	walk(n.childFields(), "")
	return sb.String()
}
