package jsonrow

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzRow checks jsonrow against encoding/json on any input: HasKey agrees
// with a decoder's view of the top-level keys of a valid object (escaped
// spellings included), a valid object with fields added stays valid JSON
// with each key once at the top level, and AppendString writes what
// json.Marshal writes.
func FuzzRow(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","itemId":"b"}`, `{"item\u0049d":1}`, `{"a":{"itemId":1}}`, `{"a":"\"itemId\":1"}`,
		`{}`, ` { "x" : [1, {"itemId": 2}] , "itemId":null}`, `{"a":"\\","b":"\ud83d\ude00"}`, `[1]`, `{"a":`,
	} {
		f.Add([]byte(s), "itemId")
	}
	f.Fuzz(func(t *testing.T, raw []byte, key string) {
		if got, want := AppendString(nil, key), mustMarshal(t, key); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, want %s", key, got, want)
		}
		if !utf8.ValidString(key) || key == "zz-json" {
			return // a key of ours is valid text, and not the second field's
		}
		keys, ok := topKeys(raw)
		if !ok {
			_ = HasKey(raw, key) // must not panic
			return
		}
		if got := HasKey(raw, key); got != (keys[key] > 0) {
			t.Fatalf("HasKey(%s, %q) = %v, encoding/json sees %d", raw, key, got, keys[key])
		}
		row := Row{Raw: raw, Fields: []Field{String(key, "v"), Raw("zz-json", json.RawMessage(`{"n":1}`))}}
		out := row.Bytes()
		after, ok := topKeys(out)
		if !ok {
			t.Fatalf("%s with fields added is not a JSON object: %s", raw, out)
		}
		if after[key] != max(keys[key], 1) {
			t.Fatalf("%s: key %q %d times after adding it, %d before", out, key, after[key], keys[key])
		}
	})
}

func mustMarshal(t *testing.T, s string) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// topKeys counts the top-level keys of a valid JSON object, as
// encoding/json decodes them; ok is false for anything else.
func topKeys(raw []byte) (map[string]int, bool) {
	if !json.Valid(raw) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	keys := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		k, _ := tok.(string)
		keys[k]++
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, false
		}
	}
	return keys, true
}

// FuzzScan checks the Scanner against encoding/json: it accepts exactly
// the valid JSON texts (nesting past MaxDepth aside), and a string decodes
// to what json.Unmarshal makes of it.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2.5e-3,{"b":null}],"c":"\u00e9\ud83d\ude00\"","d":true}`, `"\ud800x"`, `-0.0E+1`, `01`, `[1,]`, `{"a" 1}`, "\"\x01\"", `  "a\/b"  `, `1e`, `[`, `nul`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Scanner
		s.Reset(b)
		_, err := s.Raw()
		ok := err == nil && s.AtEnd()
		if errors.Is(err, ErrTooDeep) {
			return
		}
		if want := json.Valid(b); ok != want {
			t.Fatalf("Scanner accepts %q: %v (%v), encoding/json: %v", b, ok, err, want)
		}
		if !ok {
			return
		}
		s.Reset(b)
		if s.Peek() == '"' {
			got, err := s.Str()
			var want string
			if jerr := json.Unmarshal(b, &want); err != nil || jerr != nil || (utf8.Valid(got) && string(got) != want) {
				t.Fatalf("Str(%q) = %q, %v; encoding/json %q, %v", b, got, err, want, jerr)
			}
		}
		// Walked with Object, Array and Text, it decodes to what
		// encoding/json makes of it.
		s.Reset(b)
		got, err := walk(&s, 0)
		if err != nil {
			if errors.Is(err, ErrTooDeep) {
				return
			}
			t.Fatalf("walking %q: %v", b, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("walking %q gave %#v, encoding/json %#v", b, got, want)
		}
	})
}

// walk decodes the value that comes next as encoding/json does into an
// any with UseNumber: a repeated key's last value wins.
func walk(s *Scanner, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, ErrTooDeep
	}
	switch s.Peek() {
	case '{':
		m := map[string]any{}
		err := s.Object(func(key []byte) error {
			k := text(key)
			v, err := walk(s, depth+1)
			m[k] = v
			return err
		})
		return m, err
	case '[':
		a := []any{}
		err := s.Array(func() error {
			v, err := walk(s, depth+1)
			a = append(a, v)
			return err
		})
		return a, err
	case '"':
		return s.Text()
	case 't':
		return true, s.Literal("true")
	case 'f':
		return false, s.Literal("false")
	case 'n':
		return nil, s.Literal("null")
	}
	n, err := s.Number()
	return json.Number(n), err
}
