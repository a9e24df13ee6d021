// Package jsonrow is a record as it travels from a provider to every output:
// the API's JSON object, passed through byte for byte, plus the fields the
// connector adds (the ids that join a row to its parents, tombstone
// markers). Fields the API adds later and the exact digits of amounts
// survive because nothing decodes and re-encodes the row; only an encoder
// (Airbyte, Singer) or a sink (Parquet) decides how to lay the added fields
// out, and none of them copies the row to do it.
package jsonrow

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Row is one record of a stream.
type Row struct {
	// Raw is a JSON object, usually a slice of an API page. It must not be
	// modified or kept past the call it is passed to.
	Raw []byte
	// Fields are added in front of Raw's members, in order, each unless Raw
	// has the key at its top level (the API's own value wins).
	Fields []Field
	// Tombstone marks the record of a row the API no longer has; its Raw
	// carries _ab_cdc_deleted_at. A sink that keeps tables (PostgreSQL)
	// tells it apart from a row without parsing it.
	Tombstone bool
	// Changes are what the connector did to Raw's values before emitting
	// it (invalid UTF-8 replaced, say). Rare: nil for almost every row.
	Changes []Change
}

// Of is a row of raw alone.
func Of(raw []byte) Row { return Row{Raw: raw} }

// With is a row of raw with fields added in front.
func With(raw []byte, fields ...Field) Row { return Row{Raw: raw, Fields: fields} }

// Field is one member the connector adds to a row.
type Field struct {
	Key string
	// str is a string value, escaped when it is written; json, when isJSON,
	// a value that is already JSON (an object, null, a number).
	str    string
	json   json.RawMessage
	isJSON bool
}

// String is a field with a string value. It costs no allocation: the value
// is escaped only when an encoder writes it.
func String(key, value string) Field { return Field{Key: key, str: value} }

// Raw is a field whose value is already JSON. An empty value is null; a
// value spanning lines is compacted, as every output keeps a row on one line.
func Raw(key string, value json.RawMessage) Field {
	if len(bytes.TrimSpace(value)) == 0 {
		value = json.RawMessage("null")
	}
	if bytes.IndexByte(value, '\n') >= 0 || bytes.IndexByte(value, '\r') >= 0 {
		var c bytes.Buffer
		if json.Compact(&c, value) == nil {
			value = c.Bytes()
		}
	}
	return Field{Key: key, json: value, isJSON: true}
}

// Str returns the field's string value, and false if it is a JSON value.
func (f Field) Str() (string, bool) { return f.str, !f.isJSON }

// JSON returns the field's value as JSON text.
func (f Field) JSON() []byte {
	if f.isJSON {
		return f.json
	}
	return AppendString(nil, f.str)
}

// AppendValue appends the field's value as JSON.
func (f Field) AppendValue(b []byte) []byte {
	if f.isJSON {
		return append(b, f.json...)
	}
	return AppendString(b, f.str)
}

// Added returns the fields of r that are written, i.e. those whose key Raw
// lacks at its top level. It allocates only when a field is dropped.
func (r Row) Added() []Field {
	escaped := bytes.IndexByte(r.Raw, '\\') >= 0 // one search for every field
	for i, f := range r.Fields {
		if hasKey(r.Raw, f.Key, escaped) {
			kept := append([]Field(nil), r.Fields[:i]...)
			for _, g := range r.Fields[i+1:] {
				if !hasKey(r.Raw, g.Key, escaped) {
					kept = append(kept, g)
				}
			}
			return kept
		}
	}
	return r.Fields
}

// AppendTo appends the row as one JSON object: the added fields, then Raw's
// members as they are. A Raw that spans lines is compacted, so the row
// stays on one line; a Raw that is not an object is appended as it is.
func (r Row) AppendTo(b []byte) []byte {
	raw := r.Raw
	if bytes.IndexByte(raw, '\n') >= 0 || bytes.IndexByte(raw, '\r') >= 0 {
		var c bytes.Buffer
		if json.Compact(&c, raw) == nil {
			raw = c.Bytes()
		} else { // not JSON: still never more than one line
			raw = bytes.Map(func(r rune) rune {
				if r == '\n' || r == '\r' {
					return ' '
				}
				return r
			}, raw)
		}
	}
	fields := r.Fields
	if len(fields) > 0 {
		fields = Row{Raw: raw, Fields: fields}.Added()
	}
	body := bytes.TrimLeft(raw, " \t")
	if len(fields) == 0 || len(body) == 0 || body[0] != '{' {
		return append(b, raw...)
	}
	body = bytes.TrimLeft(body[1:], " \t")
	b = append(b, '{')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, f.Key)
		b = append(b, ':')
		b = f.AppendValue(b)
	}
	if len(body) > 0 && body[0] != '}' {
		b = append(b, ',')
	}
	return append(b, body...)
}

// Bytes is the row as one JSON object (see AppendTo).
func (r Row) Bytes() []byte {
	if len(r.Fields) == 0 {
		return r.Raw
	}
	return r.AppendTo(make([]byte, 0, len(r.Raw)+32*len(r.Fields)))
}

// Join returns the JSON object raw with "key":"value" added in front, unless
// raw already has key at its top level.
func Join(raw []byte, key, value string) []byte {
	return Add(raw, String(key, value))
}

// Add returns Row{Raw: raw, Fields: fields}.Bytes(): raw with the fields
// added in front, each unless raw has its key at the top level.
func Add(raw []byte, fields ...Field) []byte {
	return Row{Raw: raw, Fields: fields}.Bytes()
}

// AppendString appends s as a JSON string, as encoding/json writes it
// (HTML characters escaped too, invalid UTF-8 replaced), without
// reflection: the common plain-ASCII string is copied between quotes.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// FillNull returns raw with the top-level null value of key replaced by the
// string value: Pluggy sends an investment movement's investmentId as null
// at times (its SDK types it string | null), and a null join field must
// still name its parent. raw without key, or with any other value there, is
// returned unchanged (With adds a missing key).
func FillNull(raw []byte, key, value string) []byte {
	end, ok := topLevelNull(raw, key)
	if !ok {
		return raw
	}
	out := make([]byte, 0, len(raw)+len(value)+2)
	out = append(out, raw[:end-len("null")]...)
	out = AppendString(out, value)
	return append(out, raw[end:]...)
}

// topLevelNull returns the offset just past the value of key at the top
// level of raw, and whether that value is null.
func topLevelNull(raw []byte, key string) (int, bool) {
	if !bytes.Contains(raw, AppendString(nil, key)) {
		return 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return 0, false
		}
		if k, _ := tok.(string); k == key {
			return int(dec.InputOffset()), string(v) == "null"
		}
	}
	return 0, false
}
