// Package columns derives typed columns from a stream's JSON Schema. Every
// sink that types values (Parquet, PostgreSQL) maps a property to a column
// through this one derivation, so a field has the same kind in both:
//
//	JSON Schema                                  Kind
//	"string"                                     String
//	"string", "format": "date-time"              Timestamp
//	"string", "format": "date"                   Date
//	"string", "x-lenient-time": true             Lenient: kept verbatim, plus a parsed <name>_parsed timestamp
//	"string", "x-decimal-string": true           Decimal, scale x-decimal-scale or MoneyScale
//	"number"                                     Decimal, scale MoneyScale: money, never a float
//	"number", "x-decimal-scale": N               Decimal, scale N
//	"integer"                                    Int (64 bits)
//	"boolean"                                    Bool
//	"object" with properties                     Struct of its properties
//	"array" of objects with properties           List of Struct
//	object without properties, other arrays,     JSON: the value's JSON text
//	  no "type", or several non-null types
//
// A column is nullable unless the property is required, its type excludes
// null and its parent can never be null.
package columns

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MoneyScale is the number of decimal places kept for a JSON Schema "number"
// without "x-decimal-scale": money. Pluggy mostly sends cents, but Open
// Finance amounts may carry up to four places (56.8248).
const MoneyScale = 4

// DecimalPrecision is the precision of every fixed-point column: the widest
// that fits Parquet's 16-byte DECIMAL.
const DecimalPrecision = 38

// ParsedSuffix is appended to the name of a Lenient field to name the sibling
// column holding its parsed timestamp.
const ParsedSuffix = "_parsed"

// Kind is how one JSON Schema property is stored.
type Kind int

// The kinds, from the JSON Schema's type and format.
const (
	String    Kind = iota // text
	JSON                  // the value's JSON text
	Bool                  // boolean
	Int                   // 64-bit integer
	Decimal               // exact fixed point, Scale places
	Timestamp             // an instant, from an RFC 3339 string
	Date                  // a calendar date, from YYYY-MM-DD
	Lenient               // text kept verbatim + <name>_parsed timestamp
	Struct                // the object's properties
	List                  // a list of Struct (Elem)
)

func (k Kind) String() string {
	return [...]string{"string", "json", "boolean", "int64", "decimal", "timestamp", "date", "lenient time", "struct", "list"}[k]
}

// Column is one property of a stream's schema, and for Struct and List the
// tree of its own properties.
type Column struct {
	Name     string // JSON property name, and column name
	Path     string // dotted path from the record root, for errors
	Kind     Kind
	Nullable bool
	Scale    int32     // Decimal
	Children []*Column // Struct and the root, in declaration order
	Elem     *Column   // List: the element struct
}

// jsonSchema is the subset of draft-07 the sinks understand, plus the
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

// Derive turns a stream's JSON Schema into its column tree: a Struct root
// whose Children are the top-level properties. The root must be an object
// with properties.
func Derive(raw json.RawMessage) (*Column, error) {
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
	root := &Column{Kind: Struct}
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
func deriveChildren(n *Column, s *jsonSchema, present bool) error {
	required := map[string]bool{}
	for _, r := range s.Required {
		required[r] = true
	}
	columns := map[string]string{} // column name -> the property it comes from
	for _, p := range s.Properties.props {
		path := p.name
		if n.Path != "" {
			path = n.Path + "." + p.name
		}
		c, err := deriveColumn(p.name, path, p.schema, required[p.name] && present)
		if err != nil {
			return err
		}
		names := []string{c.Name}
		if c.Kind == Lenient {
			names = append(names, c.Name+ParsedSuffix)
		}
		for _, col := range names {
			if other, dup := columns[col]; dup {
				return fmt.Errorf("field %s: column %q would also be made from property %q; rename one", path, col, other)
			}
			columns[col] = p.name
		}
		n.Children = append(n.Children, c)
	}
	return nil
}

// deriveColumn maps one property. requiredPresent is true when the value can
// never be absent: the property is required and its parent is never null.
func deriveColumn(name, path string, s *jsonSchema, requiredPresent bool) (*Column, error) {
	types, null := s.Type.split()
	n := &Column{Name: name, Path: path, Nullable: null || !requiredPresent}
	if len(types) == 2 && contains(types, "integer") && contains(types, "number") {
		types = []string{"number"}
	}
	if len(types) != 1 {
		// No type, or a mix (string or number, say): keep the JSON text.
		n.Kind = JSON
		return n, nil
	}
	scale := int32(MoneyScale)
	if s.DecimalScale != nil {
		if *s.DecimalScale < 0 || *s.DecimalScale > DecimalPrecision {
			return nil, fmt.Errorf("field %s: x-decimal-scale %d is outside 0..%d", path, *s.DecimalScale, DecimalPrecision)
		}
		scale = int32(*s.DecimalScale)
	}
	switch types[0] {
	case "string":
		switch {
		case s.DecimalString:
			n.Kind, n.Scale = Decimal, scale
		case s.Format == "date-time":
			n.Kind = Timestamp
		case s.Format == "date":
			n.Kind = Date
		case s.LenientTime:
			n.Kind = Lenient
		default:
			n.Kind = String
		}
	case "number":
		n.Kind, n.Scale = Decimal, scale
	case "integer":
		n.Kind = Int
	case "boolean":
		n.Kind = Bool
	case "object":
		if len(s.Properties.props) == 0 {
			// A free-form map: its keys are not known, so no struct.
			n.Kind = JSON
			return n, nil
		}
		n.Kind = Struct
		if err := deriveChildren(n, s, !n.Nullable); err != nil {
			return nil, err
		}
	case "array":
		if s.Items == nil {
			n.Kind = JSON
			return n, nil
		}
		itemTypes, itemNull := s.Items.Type.split()
		if len(itemTypes) != 1 || itemTypes[0] != "object" || len(s.Items.Properties.props) == 0 {
			// Arrays of scalars, of mixed values, of free-form objects.
			n.Kind = JSON
			return n, nil
		}
		n.Kind = List
		n.Elem = &Column{Name: "element", Path: path + "[]", Kind: Struct, Nullable: itemNull}
		if err := deriveChildren(n.Elem, s.Items, !itemNull); err != nil {
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
