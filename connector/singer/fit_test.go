package singer

import (
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
	"github.com/source-pluggy/source-pluggy/schemas"
)

// TestFitCoversTheSchemasKeywords: fit checks type, properties, items,
// required and pattern, and takes every object to allow members it does
// not list; a keyword the streams' schemas came to use beyond those (an
// enum, a minimum, additionalProperties false) would let a record through
// that a Meltano SDK target refuses, so it must be added to fit first.
// format is left out as the SDK leaves it unchecked; the rest annotate.
func TestFitCoversTheSchemasKeywords(t *testing.T) {
	checked := map[string]bool{"type": true, "properties": true, "items": true, "required": true, "pattern": true}
	annotations := map[string]bool{"format": true, "description": true, "title": true, "$schema": true,
		"x-lenient-time": true, "x-decimal-scale": true, "x-decimal-string": true}
	var walk func(file, path string, node map[string]any)
	walk = func(file, path string, node map[string]any) {
		for k, v := range node {
			switch {
			case k == "additionalProperties":
				if v != true {
					t.Errorf("%s %s: additionalProperties %v; fit takes every object to allow members it does not list", file, path, v)
				}
			case !checked[k] && !annotations[k]:
				t.Errorf("%s %s: keyword %q, which fit does not check", file, path, k)
			}
		}
		props, _ := node["properties"].(map[string]any)
		for name, c := range props {
			child, _ := c.(map[string]any)
			walk(file, path+"."+name, child)
		}
		if items, ok := node["items"].(map[string]any); ok {
			walk(file, path+"[]", items)
		}
	}
	n := 0
	for _, fsys := range []fs.FS{schemas.Pluggy, schemas.GoCardless, schemas.EnableBanking} {
		files, err := fs.Glob(fsys, "*/*.json")
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			raw, err := fs.ReadFile(fsys, file)
			if err != nil {
				t.Fatal(err)
			}
			var node map[string]any
			if err := json.Unmarshal(raw, &node); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			walk(file, "", node)
			n++
		}
	}
	if n < 15 {
		t.Fatalf("only %d schemas found", n)
	}
}

// TestPinnedValue: what stands in place of a key property's, the
// replication key's or a required member's misfit: null where the type
// takes it, else the value's text where it takes a string (never the text
// of null, which would give every keyless row the key "null"), else
// nothing (the value stays as sent).
func TestPinnedValue(t *testing.T) {
	for _, c := range []struct{ schema, value, want string }{
		{`{"type":"string"}`, `12345`, `"12345"`},
		{`{"type":"string"}`, `true`, `"true"`},
		{`{"type":"string"}`, `{"id":"x"}`, `"{\"id\":\"x\"}"`},
		{`{"type":"string"}`, `null`, ``},
		{`{"type":["string","null"]}`, `20250101`, `null`},
		{`{"type":"integer"}`, `"5"`, ``},
		{`{"type":"integer"}`, `5.0`, ``},
	} {
		var node map[string]any
		if err := json.Unmarshal([]byte(c.schema), &node); err != nil {
			t.Fatal(err)
		}
		if got := string(pinnedValue(compileFit(node), []byte(c.value))); got != c.want {
			t.Errorf("%s for %s: %s, want %s", c.value, c.schema, got, c.want)
		}
	}
}

// TestFitAgreesWithJSONSchema: what the encoder takes for a fit is what a
// Meltano SDK target's validator accepts (sourcetest.SDKProblems), value
// by value: integers in plain digits only (the SDK reads 1.0 and 1e2 as
// Decimals, no integers), nested properties, array items, required
// members, patterns, formats unchecked and null only where the type takes
// it.
func TestFitAgreesWithJSONSchema(t *testing.T) {
	schemas := []string{
		`{"type":"integer"}`,
		`{"type":["integer","null"]}`,
		`{"type":["number","null"]}`,
		`{"type":"string","format":"date"}`,
		`{"type":["string","null"],"pattern":"^[-+]?[0-9]+(\\.[0-9]+)?$"}`,
		`{"type":["array","object","null"],"items":{"type":"object","properties":{"n":{"type":"integer"}}},"properties":{"n":{"type":"string"}}}`,
		`{"type":["object","null"],"required":["b"],"properties":{"a":{"type":["array","null"],"items":{"type":["string","null"]}},"b":{"type":"boolean"}}}`,
		`{"description":"anything"}`,
	}
	values := []string{`null`, `true`, `0`, `-1`, `1.0`, `1.5`, `1e2`, `1E-2`, `12e400`, `""`, `"x"`, `"-5.50"`, `"1.234,56"`,
		`"2024-13-45"`, `[]`, `[{"n":1},{"n":"1"}]`, `[{"n":1.0}]`, `{}`, `{"n":"x"}`, `{"n":1}`, `{"b":true}`, `{"b":true,"a":["x",null]}`,
		`{"b":true,"a":[1]}`, `{"a":null}`, `{"b":"true"}`}
	for _, s := range schemas {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		c := sourcetest.SDKCompiler()
		if err := c.AddResource("mem:///s.json", doc); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile("mem:///s.json")
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var node map[string]any
		if err := dec.Decode(&node); err != nil {
			t.Fatal(err)
		}
		f := compileFit(node)
		for _, v := range values {
			valid := len(sourcetest.SDKProblems(t, sch, node, []byte(v))) == 0
			var sc jsonrow.Scanner
			sc.Reset([]byte(v))
			m, err := f.check(&sc)
			if err != nil || !sc.AtEnd() {
				t.Fatalf("%s against %s: %v", v, s, err)
			}
			if (m == nil) != valid {
				t.Errorf("%s against %s: the validator says valid %v, fit says %v", v, s, valid, m)
			}
		}
	}
}

// FuzzFitAgreesWithJSONSchema: for any JSON value, fit and a Meltano SDK
// target's validator (sourcetest.SDKProblems) agree on whether it fits
// each schema, the tricky spellings among the seeds: escapes and unicode
// in strings and keys, -0, 1e2, 1E+2, huge numbers, nested arrays of
// objects, empty objects and arrays. A value with a key twice is left
// out: Python keeps the last, fit checks every one (it then moves a
// member a target would have taken, never the reverse).
func FuzzFitAgreesWithJSONSchema(f *testing.F) {
	schemas := []string{
		`{"type":"integer"}`,
		`{"type":["integer","null"]}`,
		`{"type":["number","null"]}`,
		`{"type":"boolean"}`,
		`{"type":["string","null"],"pattern":"^[-+]?[0-9]+(\\.[0-9]+)?$"}`,
		`{"type":["array","null"],"items":{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"n":{"type":["integer","null"]},"tags":{"type":"array","items":{"type":"string"}}}}}`,
		`{"type":["object","null"],"required":["b"],"properties":{"a":{"type":["array","null"],"items":{"type":["string","null"]}},"b":{"type":"boolean"},"o":{"type":"object","properties":{"amount":{"type":"string","pattern":"^[-+]?[0-9]+(\\.[0-9]+)?$"}}}}}`,
		`{"properties":{"n":{"type":"integer"}},"items":{"type":"number"}}`,
		`{"type":"object"}`,
		`{"type":"array"}`,
	}
	for i := range schemas {
		for _, v := range []string{`null`, `-0`, `-0.0`, `1e2`, `1E+2`, `123456789012345678901234567890`, `1.5e400`, `"\u0031\u0032"`, `"١٢"`, `"12\n"`, `"+1.0"`,
			`"\ud800"`, `[]`, `{}`, `[{}]`, `[{"id":"a","tags":[]},{"id":"b","n":1.0}]`, `[{"\u0069d":"x","n":-0}]`, `{"b":true,"o":{"amount":"-5.50"}}`,
			`{"b":false,"o":{"amount":"5,50"}}`, `{"b":true,"a":[[]]}`, `{"n":1e0}`, `[1,2.5,"x"]`} {
			f.Add(uint8(i), []byte(v))
		}
	}
	compiled := make([]*jsonschema.Schema, len(schemas))
	nodes := make([]map[string]any, len(schemas))
	for i, s := range schemas {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
		if err != nil {
			f.Fatal(err)
		}
		c := sourcetest.SDKCompiler()
		if err := c.AddResource("mem:///s.json", doc); err != nil {
			f.Fatal(err)
		}
		if compiled[i], err = c.Compile("mem:///s.json"); err != nil {
			f.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&nodes[i]); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, value []byte) {
		if !json.Valid(value) || repeatsAKey(value) {
			t.Skip()
		}
		i := int(which) % len(schemas)
		valid := len(sourcetest.SDKProblems(t, compiled[i], nodes[i], value)) == 0
		var sc jsonrow.Scanner
		sc.Reset(value)
		m, err := compileFit(nodes[i]).check(&sc)
		if errors.Is(err, jsonrow.ErrTooDeep) {
			t.Skip()
		}
		if err != nil || !sc.AtEnd() {
			t.Fatalf("%s against %s: %v", value, schemas[i], err)
		}
		if (m == nil) != valid {
			t.Errorf("%s against %s: the validator says valid %v, fit says %+v", value, schemas[i], valid, m)
		}
	})
}

// repeatsAKey reports whether an object in JSON value v has a key twice.
func repeatsAKey(v []byte) bool {
	var sc jsonrow.Scanner
	sc.Reset(v)
	repeats := false
	var walk func() error
	walk = func() error {
		switch sc.Peek() {
		case '{':
			seen := map[string]bool{}
			return sc.Object(func(key []byte) error {
				if seen[string(key)] {
					repeats = true
				}
				seen[string(key)] = true
				return walk()
			})
		case '[':
			return sc.Array(walk)
		}
		return sc.Skip()
	}
	return walk() != nil || repeats
}
