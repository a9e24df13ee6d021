package parquet

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
)

// MoneyScale is the number of decimal places kept for a JSON Schema "number"
// without "x-decimal-scale": money (see columns.MoneyScale). A value with a
// fifth non-zero place fails the write instead of being rounded.
const MoneyScale = columns.MoneyScale

// decimalPrecision is the precision of every decimal column: the widest that
// fits Parquet's 16-byte DECIMAL, so an amount never overflows a column whose
// scale is right.
const decimalPrecision = columns.DecimalPrecision

// ParsedSuffix is appended to the name of an "x-lenient-time" field to name
// the sibling column holding its parsed timestamp.
const ParsedSuffix = columns.ParsedSuffix

// kind is how one JSON Schema property is stored; the derivation is shared
// with every typed sink (package columns).
type kind = columns.Kind

const (
	kString    = columns.String    // utf8
	kJSON      = columns.JSON      // utf8 holding the value's JSON text
	kBool      = columns.Bool      // boolean
	kInt       = columns.Int       // int64
	kDecimal   = columns.Decimal   // decimal128(38, scale)
	kTimestamp = columns.Timestamp // timestamp(us, UTC), from an RFC 3339 string
	kDate      = columns.Date      // date32, from YYYY-MM-DD
	kLenient   = columns.Lenient   // utf8 kept verbatim + <name>_parsed timestamp(us, UTC)
	kStruct    = columns.Struct    // struct of the object's properties
	kList      = columns.List      // list<struct> of an array of objects
)

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

// deriveRoot turns a stream's JSON Schema into the node tree its records are
// converted along. The root must be an object with properties.
func deriveRoot(raw json.RawMessage) (*node, error) {
	c, err := columns.Derive(raw)
	if err != nil {
		return nil, err
	}
	return newNode(c), nil
}

// newNode mirrors a derived column tree as conversion nodes. Every column
// is nullable, whatever the schema requires: a value the column cannot hold
// is written as null (and kept in _leftovers), never fails the stream.
func newNode(c *columns.Column) *node {
	n := &node{name: c.Name, path: c.Path, kind: c.Kind, nullable: true, scale: c.Scale}
	if c.Kind == kStruct {
		n.byName = make(map[string]int, len(c.Children))
		for i, cc := range c.Children {
			n.byName[cc.Name] = i
			n.children = append(n.children, newNode(cc))
		}
		n.seen = make([]bool, len(n.children))
	}
	if c.Elem != nil {
		n.elem = newNode(c.Elem)
	}
	return n
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

// arrowSchema returns the Arrow schema of root's records: the stream's
// columns, then _leftovers and _changes (JSON text, null when empty).
func (n *node) arrowSchema(meta map[string]string) *arrow.Schema {
	var md *arrow.Metadata
	if len(meta) > 0 {
		m := arrow.MetadataFrom(meta)
		md = &m
	}
	fields := append(n.childFields(),
		arrow.Field{Name: columns.Leftovers, Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: columns.Changes, Type: arrow.BinaryTypes.String, Nullable: true})
	return arrow.NewSchema(fields, md)
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
