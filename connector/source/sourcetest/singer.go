package sourcetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/source-pluggy/source-pluggy/connector/source"
)

// CheckSingerDiscoverMatchesSchema runs tap (a binary started under its
// tap name) with config: --discover, then a sync of every stream. Each
// stream's discovered schema must be the schema its SCHEMA message
// declares, every declared top-level property must have its ["properties",
// name] metadata, and the members the tap adds to every selection
// (_leftovers, _sdc_deleted_at) and the key properties must be automatic: a
// Meltano user selecting or listing fields (meltano select --list) sees
// the catalog, and a target makes its columns from the SCHEMA.
func CheckSingerDiscoverMatchesSchema(t *testing.T, tap, config string) {
	t.Helper()
	out, stderr, code := Exec(t, tap, "--config", config, "--discover")
	if code != 0 {
		t.Fatalf("--discover exited %d: %s", code, stderr)
	}
	var cat struct {
		Streams []struct {
			TapStreamID string          `json:"tap_stream_id"`
			Schema      json.RawMessage `json:"schema"`
			Metadata    []struct {
				Breadcrumb []string       `json:"breadcrumb"`
				Metadata   map[string]any `json:"metadata"`
			} `json:"metadata"`
		} `json:"streams"`
	}
	Must(t, json.Unmarshal(out, &cat), "--discover output")
	out, stderr, code = Exec(t, tap, "--config", config)
	if code != 0 {
		t.Fatalf("the sync exited %d: %s", code, stderr)
	}
	schemas := map[string]json.RawMessage{}
	keys := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m struct {
			Type          string          `json:"type"`
			Stream        string          `json:"stream"`
			Schema        json.RawMessage `json:"schema"`
			KeyProperties []string        `json:"key_properties"`
		}
		Must(t, json.Unmarshal(sc.Bytes(), &m), "a Singer message")
		if m.Type == "SCHEMA" {
			schemas[m.Stream], keys[m.Stream] = m.Schema, m.KeyProperties
		}
	}
	if len(schemas) == 0 {
		t.Fatal("the sync sent no SCHEMA message")
	}
	for _, s := range cat.Streams {
		schema, ok := schemas[s.TapStreamID]
		if !ok {
			continue // no record, so no SCHEMA
		}
		delete(schemas, s.TapStreamID)
		var got, want map[string]any
		Must(t, json.Unmarshal(s.Schema, &got), s.TapStreamID, " discovered schema")
		Must(t, json.Unmarshal(schema, &want), s.TapStreamID, " SCHEMA")
		props, _ := want["properties"].(map[string]any)
		discovered, _ := got["properties"].(map[string]any)
		for name := range props {
			if _, ok := discovered[name]; !ok {
				t.Errorf("stream %s: its SCHEMA declares %q, which the discovered catalog's schema lacks", s.TapStreamID, name)
			}
		}
		for name := range discovered {
			if !reflect.DeepEqual(discovered[name], props[name]) {
				t.Errorf("stream %s: the discovered schema's %q is not its SCHEMA's", s.TapStreamID, name)
			}
		}
		delete(got, "properties")
		delete(want, "properties")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("stream %s: the discovered schema differs from its SCHEMA message's outside its properties", s.TapStreamID)
		}
		inclusion := map[string]any{}
		for _, md := range s.Metadata {
			if len(md.Breadcrumb) == 2 && md.Breadcrumb[0] == "properties" {
				inclusion[md.Breadcrumb[1]] = md.Metadata["inclusion"]
			}
		}
		for name := range props {
			in, ok := inclusion[name]
			auto := name == "_leftovers" || name == "_sdc_deleted_at" || slices.Contains(keys[s.TapStreamID], name)
			switch {
			case !ok:
				t.Errorf("stream %s: no metadata breadcrumb [\"properties\", %q] for a field its SCHEMA declares", s.TapStreamID, name)
			case auto && in != "automatic":
				t.Errorf("stream %s: %s has inclusion %v, want automatic (the tap always emits it)", s.TapStreamID, name, in)
			}
		}
	}
	for name := range schemas {
		t.Errorf("the sync sent a SCHEMA for %s, which --discover does not list", name)
	}
}

// SingerRecords reads a Singer tap's stdout and checks each RECORD as a
// Meltano SDK target does before loading it (SDKProblems): valid against
// its stream's latest SCHEMA, with every key property there. Such a target
// stops the whole load at the first record that fails
// (fail_on_record_validation_exception). It returns the records by stream,
// each as sent.
func SingerRecords(t *testing.T, stdout []byte) map[string][]json.RawMessage {
	t.Helper()
	type stream struct {
		schema *jsonschema.Schema
		doc    any
		keys   []string
	}
	streams := map[string]*stream{}
	records := map[string][]json.RawMessage{}
	failed := 0
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		var m struct {
			Type          string          `json:"type"`
			Stream        string          `json:"stream"`
			Schema        json.RawMessage `json:"schema"`
			KeyProperties []string        `json:"key_properties"`
			Record        json.RawMessage `json:"record"`
		}
		Must(t, json.Unmarshal(sc.Bytes(), &m), "a Singer message")
		switch m.Type {
		case "SCHEMA":
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Schema))
			Must(t, err, "SCHEMA of ", m.Stream)
			c := SDKCompiler()
			url := "mem:///" + m.Stream + ".json"
			Must(t, c.AddResource(url, doc), "SCHEMA of ", m.Stream)
			sch, err := c.Compile(url)
			Must(t, err, "SCHEMA of ", m.Stream)
			streams[m.Stream] = &stream{sch, decodeNumbers(t, m.Schema), m.KeyProperties}
		case "RECORD":
			s := streams[m.Stream]
			if s == nil {
				t.Fatalf("line %d: a RECORD of %s before its SCHEMA", line, m.Stream)
			}
			records[m.Stream] = append(records[m.Stream], m.Record)
			problems := SDKProblems(t, s.schema, s.doc, m.Record)
			problems = append(problems, SDKDateProblems(s.doc, decodeNumbers(t, m.Record))...)
			var members map[string]json.RawMessage
			Must(t, json.Unmarshal(m.Record, &members), "a record of ", m.Stream)
			for _, k := range s.keys {
				if _, ok := members[k]; !ok {
					problems = append(problems, "key property "+k+" is missing")
				}
			}
			if len(problems) > 0 {
				if failed++; failed <= 5 {
					t.Errorf("line %d: a %s record a Meltano SDK target refuses: %s\n%.500s", line, m.Stream, strings.Join(problems, "; "), m.Record)
				}
			}
		}
	}
	Must(t, sc.Err(), "the tap's stdout")
	if failed > 5 {
		t.Errorf("%d records in all are refused", failed)
	}
	return records
}

// SDKProblems is why a Meltano SDK target's validator refuses value
// against sch (compiled by SDKCompiler from doc, the schema decoded with
// json.Number), none when it takes it. Besides what sch says, a number
// with a fraction or an exponent is no integer (1.0, 1e2): the SDK reads
// such a JSON number as a Python Decimal, which jsonschema does not count
// as an integer, where draft 7 and this package's validator do.
func SDKProblems(t testing.TB, sch *jsonschema.Schema, doc any, value []byte) []string {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	Must(t, err, "a value")
	var problems []string
	if err := sch.Validate(inst); err != nil {
		problems = source.Problems("record", err)
	}
	for _, p := range notStrictIntegers(doc, decodeNumbers(t, value), "record") {
		problems = append(problems, p+" is typed integer but written with a fraction or an exponent, which the SDK reads as a Decimal, no integer")
	}
	return problems
}

// SDKDateProblems is why a Meltano SDK target, having validated record
// against doc (a SCHEMA's schema, decoded), fails as it parses the
// record's dates: it parses every top-level member whose schema is a
// string of format date or date-time (_parse_timestamps_in_record) and,
// by default (datetime_error_treatment ERROR), stops the load at the
// first it cannot read (SDKReadsDate). Nested members it does not parse.
func SDKDateProblems(doc, record any) []string {
	node, _ := doc.(map[string]any)
	props, _ := node["properties"].(map[string]any)
	rec, _ := record.(map[string]any)
	var problems []string
	for name, v := range rec {
		p, _ := props[name].(map[string]any)
		format, _ := p["format"].(string)
		s, isString := v.(string)
		if !typeAmong(p["type"], "string") || (format != "date" && format != "date-time") || !isString {
			continue
		}
		if !SDKReadsDate(format, s) {
			problems = append(problems, fmt.Sprintf("record.%s, of format %s, is a string the SDK cannot parse as one", name, format))
		}
	}
	slices.Sort(problems)
	return problems
}

// sdkDate is the shape of the dates and date-times every Meltano SDK
// target reads: Python's date.fromisoformat and datetime.fromisoformat
// (3.11's) read them, and dateutil's parser.parse, which the SDK used
// before; each reads more, but not the same more. The ranges are
// time.Parse's to check.
var sdkDate = regexp.MustCompile(`^(\d{4})-\d\d-\d\d(?:([Tt ])(\d\d:\d\d)(:\d\d(?:[.,]\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$`)

// SDKReadsDate reports whether s, in a member of format format ("date"
// or "date-time"), is a date every Meltano SDK target's parse reads (see
// sdkDate): a date, YYYY-MM-DD, for date; that date, alone or with a
// time and an optional zone, for date-time. Python's years begin at 1,
// and its zones end before ±24:00 (past minute 59 too, as civil; Python
// reads +01:60 as +02:00); the rest of each range (the month's
// days, 23:59:59) is time.Parse's, which reads a fraction of any length.
func SDKReadsDate(format, s string) bool {
	m := sdkDate.FindStringSubmatch(s)
	if m == nil || m[1] == "0000" || (format == "date" && len(s) != 10) {
		return false
	}
	if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
		return false
	}
	if m[3] == "" {
		return true
	}
	clock := m[3] + m[4]
	if m[4] == "" {
		clock += ":00"
	}
	if _, err := time.Parse("15:04:05", strings.Replace(clock, ",", ".", 1)); err != nil {
		return false
	}
	if zone := strings.ReplaceAll(m[5], ":", ""); len(zone) == 5 {
		if _, err := time.Parse("-0700", zone); err != nil || zone[1:3] > "23" || zone[3:] > "59" {
			return false
		}
	}
	return true
}

// SDKCompiler is a JSON Schema compiler that validates as a Meltano SDK
// target does by default: draft 7 unless the schema says otherwise, and
// format never checked (the SDK passes jsonschema an empty FormatChecker;
// this package's validator checks formats of drafts before 2019 unless
// each is replaced, as here, by one that takes any value).
func SDKCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	for _, name := range []string{"date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
		"ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uri-template", "json-pointer",
		"relative-json-pointer", "regex", "uuid", "period", "semver"} {
		c.RegisterFormat(&jsonschema.Format{Name: name, Validate: func(any) error { return nil }})
	}
	return c
}

// SingerLeftovers is, record by record, the value each of records keeps
// under field in its _leftovers object (Canonical, so that it compares
// with what the API sent by meaning), and how many records hold field in
// place too, as a member of their own.
func SingerLeftovers(t *testing.T, records []json.RawMessage, field string) (kept []string, inPlace int) {
	t.Helper()
	for _, raw := range records {
		var rec struct {
			Leftovers map[string]json.RawMessage `json:"_leftovers"`
		}
		Must(t, json.Unmarshal(raw, &rec), "record")
		if v, ok := rec.Leftovers[field]; ok {
			kept = append(kept, string(Canonical(t, v)))
		}
		var members map[string]json.RawMessage
		Must(t, json.Unmarshal(raw, &members), "record")
		if _, ok := members[field]; ok {
			inPlace++
		}
	}
	return kept, inPlace
}
