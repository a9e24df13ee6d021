package singer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os/exec"
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
// format is left out as the SDK's validator leaves it unchecked (its
// sink parses date and date-time, which dateFormat reads, and time, which
// no schema may use until it does); the rest annotate.
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
			case k == "format" && v == "time":
				t.Errorf("%s %s: format time, which a Meltano SDK target parses (time.fromisoformat) and dateFormat does not read", file, path)
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

// dateCases are strings in a date or date-time member, each with whether
// every Meltano SDK target reads it as a date-time and as a date
// (Python 3.11's datetime.fromisoformat and date.fromisoformat, which the
// SDK parses with, and dateutil's parser.parse, which older SDKs did:
// TestDateCasesAsPythonReadsThem checks these against them where Python
// is installed), and whether the tap leaves it in place. It leaves none
// a target cannot read; the few it moves though all read them are ISO
// 8601 spellings no API of ours writes.
var dateCases = []struct {
	s                  string
	pyTime, pyDate     bool // every target reads it as a date-time, a date
	keptTime, keptDate bool // the tap keeps it in a date-time, a date member
}{
	{"2024-05-01T10:20:30Z", true, false, true, false},
	{"2024-05-01T10:20:30.123456Z", true, false, true, false},
	{"2024-05-01T10:20:30.1234567+01:00", true, false, true, false},
	{"2024-05-01t10:20:30-03:30", true, false, true, false},
	{"2024-05-01 10:20:30", true, false, true, false},
	{"2024-05-01T10:20", true, false, true, false},
	{"2024-05-01T10:20Z", true, false, true, false},
	{"2024-05-01T10:20:30,5", true, false, true, false},
	{"2024-05-01T10:20:30+0100", true, false, true, false},
	{"2024-05-01", true, true, true, true},
	{"2024-02-29", true, true, true, true},
	{"9999-12-31T23:59:59.999999-00:00", true, false, true, false},
	{"0001-01-01T00:00:00Z", true, false, true, false},
	{"2024-13-45", false, false, false, false},
	{"0000-00-00T00:00:00", false, false, false, false},
	{"0000-01-01", false, false, false, false},
	{"31/12/2024", false, false, false, false},
	{"2023-02-29", false, false, false, false},
	{"2024-05-01T24:00:00", false, false, false, false},
	{"2024-05-01T10:20:60", false, false, false, false},
	{"2024-05-01T10:20:30z", false, false, false, false},
	{"2024-05-01T10:20:30+24:00", false, false, false, false},
	{"2024-05-01T10:20:30.", false, false, false, false},
	{"2024-05-01T10:20:30 ", false, false, false, false},
	{"2024-05-01T1:20:30", false, false, false, false},
	{"2024-5-1", false, false, false, false},
	{"2024-05-01T10:20:30+01:00Z", false, false, false, false},
	{"", false, false, false, false},
	{"2024-W01-1", false, false, false, false},
	{"2024-05-01X10:20:30", false, false, false, false},
	{"１２３４-05-01", false, false, false, false},
	// Read by every target, moved all the same.
	{"20240501", true, true, false, false},
	{"2024-05-01T10", true, false, false, false},
	{"2024-05-01T10:20:30+01", true, false, false, false},
	{"2024-05-01T10:20:30 Z", true, false, false, false},
	{"2024-05-01T10:20:30+01:60", true, false, false, false},
}

// TestDateReadsAsEveryTarget: the tap keeps in place a date or date-time
// every Meltano SDK target reads and moves the rest (2024-13-45,
// 0000-00-00T00:00:00, 31/12/2024, a date-time where it says date), as
// sourcetest.SDKReadsDate, the tests' model of the SDK's parse, tells;
// never one a target cannot read.
func TestDateReadsAsEveryTarget(t *testing.T) {
	for _, c := range dateCases {
		for _, f := range []struct {
			d        dateFormat
			name     string
			py, kept bool
		}{{dateTime, "date-time", c.pyTime, c.keptTime}, {dateDate, "date", c.pyDate, c.keptDate}} {
			got := f.d.reads([]byte(c.s))
			if got != f.kept {
				t.Errorf("%q as a %s: kept %v, want %v", c.s, f.name, got, f.kept)
			}
			if got && !f.py {
				t.Errorf("%q as a %s: kept, where a target cannot read it", c.s, f.name)
			}
			if m := sourcetest.SDKReadsDate(f.name, c.s); m != got {
				t.Errorf("%q as a %s: the SDK's model says %v, the tap %v", c.s, f.name, m, got)
			}
		}
	}
}

// TestDateCasesAsPythonReadsThem: dateCases' verdicts are Python's and
// dateutil's, where a python3 with dateutil is installed (the Meltano SDK
// depends on it).
func TestDateCasesAsPythonReadsThem(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH; dateCases stay as checked when they were written")
	}
	const script = `
import datetime, json, sys
from dateutil import parser
def ok(fn, s):
    try:
        fn(s)
        return True
    except Exception:
        return False
print(json.dumps([[ok(datetime.datetime.fromisoformat, s) and ok(parser.parse, s), ok(datetime.date.fromisoformat, s) and ok(parser.parse, s)] for s in json.load(sys.stdin)]))
`
	var in []string
	for _, c := range dateCases {
		in = append(in, c.s)
	}
	raw, _ := json.Marshal(in)
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(raw)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "ModuleNotFoundError") {
			t.Skipf("python3 has no dateutil: %s", strings.TrimSpace(stderr.String()))
		}
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	if v := pythonVersion(t, py); v < "3.11" {
		t.Skipf("python3 is %s; the SDK's fromisoformat is 3.11's", v)
	}
	var verdicts [][2]bool
	if err := json.Unmarshal(out, &verdicts); err != nil || len(verdicts) != len(dateCases) {
		t.Fatalf("python3 said %s (%v)", out, err)
	}
	for i, c := range dateCases {
		if verdicts[i] != [2]bool{c.pyTime, c.pyDate} {
			t.Errorf("%q: Python reads it as a date-time, a date: %v, dateCases says %v, %v", c.s, verdicts[i], c.pyTime, c.pyDate)
		}
	}
}

// pythonVersion is py's major.minor, zero-padded ("3.09") so that it
// compares as text.
func pythonVersion(t *testing.T, py string) string {
	out, err := exec.Command(py, "-c", `import sys; print("%d.%02d" % sys.version_info[:2])`).Output()
	if err != nil {
		t.Fatalf("python3 --version: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// FuzzDateReadsAsTheSDK: for any string, the tap keeps it in a date or
// date-time member exactly where sourcetest.SDKReadsDate, a model of the
// SDK's parse built on regexp and time.Parse rather than civil, says
// every target reads it.
func FuzzDateReadsAsTheSDK(f *testing.F) {
	for _, c := range dateCases {
		f.Add(c.s)
	}
	for _, s := range []string{"2024-05-01T10:20:30.000000000001Z", "2024-05-01T10:20:30-2359", "2024-05-01T10:20:30+23:60",
		"2024-04-31", "1900-02-29", "2000-02-29T00:00", "2024-05-01T10:20:30.5Z ", "2024-05-01T10:20:30.5\x00", "2024-05-01T10:20:3",
		"2024-05-01T10:20:30+1:00", "2024-05-01T10:20:30-00:0", "2024-05-01T10:20:30+01:00:00", "+2024-05-01", "2024-05-01\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range []dateFormat{dateTime, dateDate} {
			name := map[dateFormat]string{dateTime: "date-time", dateDate: "date"}[d]
			if got, want := d.reads([]byte(s)), sourcetest.SDKReadsDate(name, s); got != want {
				t.Errorf("%q as a %s: the tap keeps it %v, the SDK's model reads it %v", s, name, got, want)
			}
		}
	})
}

// BenchmarkDateReads measures dateFormat.reads on the spellings the APIs
// write: RFC 3339 with milliseconds, a date, and an offset without its
// colon (the slow path).
func BenchmarkDateReads(b *testing.B) {
	for _, c := range []struct {
		name string
		d    dateFormat
		s    string
	}{
		{"rfc3339", dateTime, "2024-05-01T10:20:30.123Z"},
		{"date", dateDate, "2024-05-01"},
		{"offset without colon", dateTime, "2024-05-01T10:20:30.123+0100"},
	} {
		s := []byte(c.s)
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				if !c.d.reads(s) {
					b.Fatal(c.s)
				}
			}
		})
	}
}
