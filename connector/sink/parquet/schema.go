package parquet

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
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
	key      string // name as an object's key, colon included: see jsonrow.Key
	path     string // dotted path from the record root, for errors
	kind     kind
	nullable bool
	scale    int32 // kDecimal

	children []*node        // kStruct and the root
	byName   map[string]int // child index by JSON property name
	seen     []bool         // per child, while converting one object
	order    []int          // child index of each key position last time (-1: unknown key)
	elem     *node          // kList: the element struct

	// lazy is set on a top-level object without a list inside, whose
	// nulls come in runs (an account's rows without card details, or
	// without a merchant): from the second null row of a run on, pending
	// counts them instead of a null going to each of its leaves, until
	// the object has a value again or the row group ends (see
	// converter.null). nulls is the length of the run so far.
	lazy           bool
	nulls, pending int

	// def and rep are the node's definition and repetition levels when
	// it holds a value (Dremel's encoding, which Parquet stores): def
	// counts the optional nodes from the root to it, itself included; rep
	// the lists around it. A null node gives each leaf below it level
	// def-1.
	def, rep int16
	// col is the leaf column of a scalar node (a lenient time's parsed
	// sibling is col+1); lo and hi bound the leaf columns of its subtree,
	// which are consecutive in the file's column order.
	col, lo, hi int
}

// deriveRoot turns a stream's JSON Schema into the node tree its records are
// converted along. The root must be an object with properties.
func deriveRoot(raw json.RawMessage) (*node, error) {
	c, err := columns.Derive(raw)
	if err != nil {
		return nil, err
	}
	root := newNode(c)
	next := 0
	root.place(0, 0, &next)
	for _, n := range root.children {
		n.lazy = n.kind == kStruct && !n.hasList()
	}
	return root, nil
}

// hasList reports whether n or a node below it is a list.
func (n *node) hasList() bool {
	if n.kind == kList {
		return true
	}
	for _, c := range n.children {
		if c.hasList() {
			return true
		}
	}
	return false
}

// newNode mirrors a derived column tree as conversion nodes. Every column
// is nullable, whatever the schema requires: a value the column cannot hold
// is written as null (and kept in _leftovers), never fails the stream.
func newNode(c *columns.Column) *node {
	n := &node{name: c.Name, key: jsonrow.Key(c.Name), path: c.Path, kind: c.Kind, nullable: true, scale: c.Scale}
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

// place sets the levels and leaf column numbers of n's subtree, n having
// levels def and rep; next is the next free leaf column number.
func (n *node) place(def, rep int16, next *int) {
	n.def, n.rep, n.lo = def, rep, *next
	switch n.kind {
	case kStruct:
		for _, c := range n.children {
			c.place(def+1, rep, next)
		}
	case kList:
		// optional group n (LIST) { repeated group list { optional group
		// element { ... } } }: the repeated group adds a definition and a
		// repetition level, the element one definition level.
		n.elem.place(def+2, rep+1, next)
	case kLenient:
		n.col = *next
		*next += 2
	default:
		n.col = *next
		*next++
	}
	n.hi = *next
}

// leaves returns the leaf columns of n's subtree in file order, fresh.
func (n *node) leaves() []column {
	var out []column
	var walk func(n *node)
	walk = func(n *node) {
		switch n.kind {
		case kStruct:
			for _, c := range n.children {
				walk(c)
			}
		case kList:
			walk(n.elem)
		default:
			c := newColumn(physicalOf(n.kind), n.def, n.rep)
			out = append(out, c)
			if n.kind == kLenient {
				c.phys = pInt64
				out = append(out, c)
			}
		}
	}
	for _, c := range n.children {
		walk(c)
	}
	return out
}

// physicalOf returns how a scalar kind is stored.
func physicalOf(k kind) physical {
	switch k {
	case kBool:
		return pBool
	case kInt, kTimestamp:
		return pInt64
	case kDate:
		return pInt32
	case kDecimal:
		return pFixed16
	}
	return pBytes
}

// parquetNodes returns the Parquet schema nodes n is stored as: one, or two
// for a lenient time (the verbatim string and its parsed sibling). The
// types are those pqarrow gives the equivalent Arrow types, so readers see
// the same schema as before the sink wrote columns itself.
func (n *node) parquetNodes() ([]schema.Node, error) {
	rep := parquet.Repetitions.Optional
	if !n.nullable {
		rep = parquet.Repetitions.Required
	}
	prim := func(name string, lt schema.LogicalType, pt parquet.Type, length int) ([]schema.Node, error) {
		p, err := schema.NewPrimitiveNodeLogical(name, rep, lt, pt, length, -1)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", n.path, err)
		}
		return []schema.Node{p}, nil
	}
	switch n.kind {
	case kString, kJSON:
		return prim(n.name, schema.StringLogicalType{}, parquet.Types.ByteArray, -1)
	case kLenient:
		s, err := prim(n.name, schema.StringLogicalType{}, parquet.Types.ByteArray, -1)
		if err != nil {
			return nil, err
		}
		t, err := prim(n.name+ParsedSuffix, tsLogical, parquet.Types.Int64, -1)
		return append(s, t...), err
	case kBool:
		return prim(n.name, schema.NoLogicalType{}, parquet.Types.Boolean, -1)
	case kInt:
		return prim(n.name, schema.NewIntLogicalType(64, true), parquet.Types.Int64, -1)
	case kDecimal:
		return prim(n.name, schema.NewDecimalLogicalType(decimalPrecision, n.scale), parquet.Types.FixedLenByteArray, 16)
	case kTimestamp:
		return prim(n.name, tsLogical, parquet.Types.Int64, -1)
	case kDate:
		return prim(n.name, schema.DateLogicalType{}, parquet.Types.Int32, -1)
	case kStruct:
		fields, err := n.childNodes()
		if err != nil {
			return nil, err
		}
		g, err := schema.NewGroupNode(n.name, rep, fields, -1)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", n.path, err)
		}
		return []schema.Node{g}, nil
	case kList:
		elem, err := n.elem.parquetNodes()
		if err != nil {
			return nil, err
		}
		l, err := schema.ListOfWithName(n.name, elem[0], rep, -1)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", n.path, err)
		}
		return []schema.Node{l}, nil
	}
	return nil, fmt.Errorf("column %s: unknown kind %v", n.path, n.kind)
}

// tsLogical is the type of the timestamp columns: microseconds, UTC.
var tsLogical = schema.NewTimestampLogicalType(true, schema.TimeUnitMicros)

func (n *node) childNodes() (schema.FieldList, error) {
	var out schema.FieldList
	for _, c := range n.children {
		nodes, err := c.parquetNodes()
		if err != nil {
			return nil, err
		}
		out = append(out, nodes...)
	}
	return out, nil
}

// parquetSchema returns the Parquet schema of root's records: the stream's
// columns, then _leftovers and _changes (JSON text, null when empty).
func (n *node) parquetSchema() (*schema.GroupNode, error) {
	fields, err := n.childNodes()
	if err != nil {
		return nil, err
	}
	for _, name := range []string{columns.Leftovers, columns.Changes} {
		p, err := schema.NewPrimitiveNodeLogical(name, parquet.Repetitions.Optional, schema.StringLogicalType{}, parquet.Types.ByteArray, -1, -1)
		if err != nil {
			return nil, err
		}
		fields = append(fields, p)
	}
	return schema.NewGroupNode("schema", parquet.Repetitions.Required, fields, -1)
}

// describe prints the column tree, one column per line, with the Arrow
// type a reader maps each column to, for tests and docs.
func (n *node) describe() string {
	var sb strings.Builder
	var walk func(n *node, name, indent string)
	walk = func(n *node, name, indent string) {
		null := ""
		if !n.nullable {
			null = " not null"
		}
		switch n.kind {
		case kStruct:
			fmt.Fprintf(&sb, "%s%s struct%s\n", indent, name, null)
			for _, c := range n.children {
				walk(c, c.name, indent+"  ")
			}
			return
		case kList:
			fmt.Fprintf(&sb, "%s%s list%s\n", indent, name, null)
			walk(n.elem, "element", indent+"  ")
			return
		}
		typ := map[kind]string{
			kString: "utf8", kJSON: "utf8", kLenient: "utf8", kBool: "bool", kInt: "int64",
			kTimestamp: "timestamp[us, tz=UTC]", kDate: "date32",
		}[n.kind]
		if n.kind == kDecimal {
			typ = fmt.Sprintf("decimal(%d, %d)", decimalPrecision, n.scale)
		}
		fmt.Fprintf(&sb, "%s%s %s%s\n", indent, name, typ, null)
		if n.kind == kLenient {
			fmt.Fprintf(&sb, "%s%s timestamp[us, tz=UTC]\n", indent, name+ParsedSuffix)
		}
	}
	for _, c := range n.children {
		walk(c, c.name, "")
	}
	return sb.String()
}
