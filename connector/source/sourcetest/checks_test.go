package sourcetest

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// TestCheckSpecRules: each rule the acceptance tests (or the platform's
// form) hold a spec to is reported, and a spec keeping them all is not.
func TestCheckSpecRules(t *testing.T) {
	good := `{"type":"object","required":["token"],"properties":{
		"token":{"type":"string","title":"Token","description":"d","order":0,"airbyte_secret":true},
		"days":{"type":"integer","title":"Days","description":"d","order":1,"minimum":1,"default":7,"examples":[3]},
		"ids":{"type":"array","title":"Ids","description":"d","order":2,"items":{"type":"string"}}}}`
	cases := []struct{ name, spec, want string }{
		{"good", good, ""},
		{"default refused", strings.Replace(good, `"default":7`, `"default":0`, 1), "its default 0 is not a value it accepts"},
		{"example refused", strings.Replace(good, `"examples":[3]`, `"examples":["3"]`, 1), "its examples[0]"},
		{"secret object", strings.Replace(good, `"items":{"type":"string"}}`, `"items":{"type":"string"},"airbyte_secret":true}`, 1), "spec.ids is airbyte_secret but typed array"},
		{"no title", strings.Replace(good, `"title":"Days",`, ``, 1), "spec.days has no title"},
		{"items of another type", strings.Replace(good, `"items":{"type":"string"}`, `"items":{"type":"boolean"}`, 1), "items must be one type"},
		{"display_type without oneOf", strings.Replace(good, `"order":1,`, `"order":1,"display_type":"dropdown",`, 1), "display_type dropdown"},
		{"nested group", strings.Replace(good, `"items":{"type":"string"}`, `"items":{"type":"object","properties":{"x":{"type":"string","group":"g"}}}`, 1), "group is for top-level properties only"},
	}
	for _, c := range cases {
		rec := &recorder{TB: t}
		CheckSpecRules(rec, json.RawMessage(c.spec))
		checkReported(t, c.name, rec.errs, c.want)
	}
}

// TestCheckConfigMatchesSpec: a config the spec refuses is reported; its
// keys starting with "_" are left out, as the acceptance tests do.
func TestCheckConfigMatchesSpec(t *testing.T) {
	spec := json.RawMessage(`{"type":"object","required":["token"],"properties":{"token":{"type":"string"},"days":{"type":"integer","minimum":1}}}`)
	for _, c := range []struct {
		name string
		cfg  map[string]any
		want string
	}{
		{"good", map[string]any{"token": "t", "_comment": 1}, ""},
		{"missing", map[string]any{"days": 3}, "config.token: is required"},
		{"out of range", map[string]any{"token": "t", "days": 0}, "config.days"},
	} {
		rec := &recorder{TB: t}
		CheckConfigMatchesSpec(rec, spec, c.cfg)
		checkReported(t, c.name, rec.errs, c.want)
	}
}

// TestValidateRecordsAsTheAcceptanceTests: strict integers, primary keys
// with every part a scalar, and stream schemas open to added fields.
func TestValidateRecordsAsTheAcceptanceTests(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","properties":{"id":{"type":["string","null"]},"n":{"type":["integer","null"]},"x":{"type":"number"},"list":{"type":"array","items":{"type":"object","properties":{"k":{"type":"integer"}}}}}}`)
	cat := &protocol.Catalog{Streams: []protocol.Stream{{Name: "s", JSONSchema: schema, SupportedSyncModes: []protocol.SyncMode{protocol.FullRefresh}, SourceDefinedPrimaryKey: [][]string{{"id"}}}}}
	record := func(data string) []byte {
		return []byte(`{"type":"RECORD","record":{"stream":"s","data":` + data + `,"emitted_at":1}}` + "\n")
	}
	for _, c := range []struct{ name, data, want string }{
		{"good", `{"id":"a","n":1,"x":1.5,"list":[{"k":2}]}`, ""},
		{"integer with a fraction", `{"id":"a","n":1.0}`, "record.n is typed integer"},
		{"nested integer with an exponent", `{"id":"a","list":[{"k":1e2}]}`, "record.list[0].k is typed integer"},
		{"null key", `{"id":null}`, "primary key part [id] is null"},
		{"missing key", `{"n":1}`, "primary key part [id] is missing"},
	} {
		rec := &recorder{TB: t}
		r := &Result{Stdout: record(c.data)}
		r.parse(t)
		ValidateRecords(rec, r, cat)
		checkReported(t, c.name, rec.errs, c.want)
	}

	closed := json.RawMessage(`{"type":"object","additionalProperties":true,"properties":{"id":{"type":"string"},"o":{"type":"object","additionalProperties":false,"properties":{}}}}`)
	rec := &recorder{TB: t}
	CheckCatalog(rec, &protocol.Catalog{Streams: []protocol.Stream{{Name: "s", JSONSchema: closed, SupportedSyncModes: []protocol.SyncMode{protocol.FullRefresh}}}}, nil)
	checkReported(t, "closed object", rec.errs, "s.o: additionalProperties is not true")
}

// checkReported fails unless errs holds exactly one error, containing
// want, or none when want is "".
func checkReported(t *testing.T, name string, errs []string, want string) {
	t.Helper()
	switch {
	case want == "" && len(errs) > 0:
		t.Errorf("%s: unexpected %q", name, errs)
	case want != "" && (len(errs) != 1 || !strings.Contains(errs[0], want)):
		t.Errorf("%s: got %q, want one error with %q", name, errs, want)
	}
}

// TestRepeatedReadsCompared: CheckFullRefreshRepeatable and
// CheckReReadIdentical report a record that changed, went missing or came
// twice, a second read emitted no later than the first, and leave out the
// volatile fields.
func TestRepeatedReadsCompared(t *testing.T) {
	cat := &protocol.Catalog{Streams: []protocol.Stream{{Name: "s", JSONSchema: json.RawMessage(`{"type":"object"}`), SourceDefinedPrimaryKey: [][]string{{"id"}}}}}
	read := func(at int, rows ...string) *Result {
		var lines []string
		for _, row := range rows {
			lines = append(lines, `{"type":"RECORD","record":{"stream":"s","data":`+row+`,"emitted_at":`+fmt.Sprint(at)+`}}`)
		}
		r := &Result{Stdout: []byte(strings.Join(lines, "\n") + "\n")}
		r.parse(t)
		return r
	}
	volatile := map[string][]string{"s": {"at"}}
	a, b := `{"id":"a","v":1,"at":1}`, `{"id":"b","v":2,"at":1}`
	for _, c := range []struct {
		name          string
		first, second *Result
		want          string
	}{
		{"same but for the volatile field", read(1, a, b), read(2, b, strings.Replace(a, `"at":1`, `"at":2`, 1)), ""},
		{"changed", read(1, a, b), read(2, a, strings.Replace(b, `"v":2`, `"v":3`, 1)), "key b differs"},
		{"missing", read(1, a, b), read(2, a), "b is in the first read only"},
		{"new", read(1, a), read(2, a, b), "b is in the second read only"},
		{"twice", read(1, a, b), read(2, a, b, b), "key b read 1 times, then 2 times"},
		{"not later", read(2, a, b), read(2, a, b), "not after the first read's last"},
	} {
		rec := &recorder{TB: t}
		CheckFullRefreshRepeatable(rec, c.first, c.second, cat, volatile)
		checkReported(t, c.name, rec.errs, c.want)
	}

	rec := &recorder{TB: t}
	if again := CheckReReadIdentical(rec, read(1, a, b), read(2, strings.Replace(a, `"at":1`, `"at":9`, 1)), cat, volatile); again["s"] != 1 {
		t.Errorf("re-read counted %d, want 1", again["s"])
	}
	checkReported(t, "re-read as it was", rec.errs, "")
	rec = &recorder{TB: t}
	CheckReReadIdentical(rec, read(1, a, b), read(2, strings.Replace(a, `"v":1`, `"v":5`, 1)), cat, volatile)
	checkReported(t, "re-read changed", rec.errs, "key a came again from the resumed read with other content")
}

// TestCheckTraceOnFailure: a read that fails without an ERROR trace (here
// a program that prints nothing) is reported.
func TestCheckTraceOnFailure(t *testing.T) {
	bin, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1) to stand in for a binary printing nothing")
	}
	rec := &recorder{TB: t}
	CheckTraceOnFailure(rec, bin, "config.json")
	checkReported(t, "silent failure", rec.errs, "printed no ERROR trace")
}
