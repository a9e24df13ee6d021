// Package jsonrow edits API rows as bytes. Providers pass records through as
// the API served them, so fields the API adds later and the exact digits of
// amounts survive; the connector only adds its own join and key fields in
// front, without decoding and re-encoding the row.
package jsonrow

import (
	"bytes"
	"encoding/json"
)

// Field is one member to add to a row: a key and its JSON-encoded value.
type Field struct {
	Key   string
	Value json.RawMessage
}

// String is a field with a string value.
func String(key, value string) Field {
	v, _ := json.Marshal(value) // a string always encodes
	return Field{Key: key, Value: v}
}

// Raw is a field whose value is already JSON (an object, null, a number).
// An empty value is written as null.
func Raw(key string, value json.RawMessage) Field {
	if len(bytes.TrimSpace(value)) == 0 {
		value = json.RawMessage("null")
	}
	return Field{Key: key, Value: value}
}

// Join returns the JSON object raw with "key":"value" added in front, unless
// raw already has key at its top level. Providers use it for the join ids an
// API leaves out of a row (Pluggy's itemId, GoCardless's account_id).
func Join(raw []byte, key, value string) []byte {
	return Add(raw, String(key, value))
}

// Add returns the JSON object raw with fields added in front, in order, each
// unless raw already has its key at the top level. Every other byte of raw is
// kept. raw that is not an object is returned unchanged.
func Add(raw []byte, fields ...Field) []byte {
	i := bytes.IndexByte(raw, '{')
	if i < 0 {
		return raw
	}
	rest := bytes.TrimLeft(raw[i+1:], " \t\r\n")
	n := len(raw)
	for _, f := range fields {
		n += len(f.Key) + len(f.Value) + 4
	}
	out := make([]byte, 0, n+1)
	out = append(out, '{')
	added := 0
	for _, f := range fields {
		if HasKey(raw, f.Key) {
			continue
		}
		if added > 0 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(f.Key)
		out = append(out, k...)
		out = append(out, ':')
		out = append(out, f.Value...)
		added++
	}
	if added == 0 {
		return raw
	}
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}

// HasKey reports whether the JSON object raw has key at its top level. The
// common answer (the key appears nowhere) costs one byte search; only a row
// that mentions the key is tokenized, so a key nested deeper does not count.
func HasKey(raw []byte, key string) bool {
	quoted, _ := json.Marshal(key)
	if !bytes.Contains(raw, quoted) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if k, _ := tok.(string); k == key {
			return true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}
