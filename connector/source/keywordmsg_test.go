package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The messages below say what is wrong with a value in words and end with
// the fix, never in the validator's terms ("minLength: got 0, want 1",
// "got string, want integer").

// jargon is what the validator's own messages say and ours never do.
var jargon = regexp.MustCompile(`got \w+, want|(minLength|maxLength|minimum|maximum|minItems|maxItems|exclusiveMinimum|exclusiveMaximum|multipleOf|uniqueItems|enum|const): |value must be|additional propert|does not match pattern '\^\[|is not valid \w+:|'\w+' failed`)

// fixWords begin the fix every message ends with.
var fixWords = regexp.MustCompile(`: (give|write|remove|did you mean)|; (give|write|or leave|or remove)`)

const (
	pluggyBase = `"client_id":"a","client_secret":"b","item_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"]`
	ebBase     = `"application_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","private_key":"k","session_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"]`
	gcBase     = `"secret_id":"a","secret_key":"b","requisition_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"]`
)

// TestKeywordMessagesOfTheSpecs: each keyword the providers' specs use,
// failed as a user fails it, is said in words with its fix; the field's
// description names what to give where it can.
func TestKeywordMessagesOfTheSpecs(t *testing.T) {
	ids := func(n int, distinct bool) string {
		s := make([]string, n)
		for i := range s {
			j := 0
			if distinct {
				j = i
			}
			s[i] = fmt.Sprintf(`"3fa85f64-5717-4562-b3fc-%012x"`, j)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	for _, c := range []struct{ provider, cfg, want string }{
		// minLength: an empty value.
		{"pluggy", `{"client_id":"a","client_secret":"","item_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"]}`,
			`config.client_secret: is empty: give your Pluggy application's clientSecret`},
		{"gocardless", `{"secret_id":"a","secret_key":"","requisition_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"]}`,
			`config.secret_key: is empty: give the secret_key that goes with secret_id`},
		{"enablebanking", `{` + ebBase + `,"private_key_path":""}`,
			`config.private_key_path: is empty: give a value (private_key_path: path of a file holding the application's RSA private key (PEM), instead of private_key); or leave the field out`},
		{"enablebanking", `{` + ebBase + `,"account_uids":["x",""]}`,
			`config.account_uids.1: is empty: give a value (account_uids: read only these accounts of the sessions (their uid, or their identification_hash, which survives re-authorisation)); or remove it from the list`},
		// maxLength: the value is not repeated (it may be a secret, or huge).
		{"pluggy", `{"client_id":"` + strings.Repeat("x", 1234) + `","client_secret":"b","item_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"]}`,
			`config.client_id: is 1,234 characters long, more than the 200 it takes: give at most 200 characters (client_id: your Pluggy application's clientId (dashboard.pluggy.ai, Applications))`},
		// minimum, maximum: the range is given whole.
		{"pluggy", `{` + pluggyBase + `,"lookback_days":400}`,
			`config.lookback_days: 400 is more than 365, the most it takes: give a whole number from 0 to 365`},
		{"pluggy", `{` + pluggyBase + `,"max_retries":-1}`,
			`config.max_retries: -1 is less than 0, the least it takes: give a whole number from 0 to 10`},
		{"pluggy", `{` + pluggyBase + `,"item_update_poll_seconds":0}`,
			`config.item_update_poll_seconds: 0 is less than 0.01, the least it takes: give a number from 0.01 to 300`},
		{"pluggy", `{` + pluggyBase + `,"lookback_days":1e400}`,
			`config.lookback_days: 1e400 is more than 365, the most it takes: give a whole number from 0 to 365`},
		// type: a value that is the right one in quotes is shown without them.
		{"pluggy", `{` + pluggyBase + `,"requests_per_minute":"60"}`,
			`config.requests_per_minute: "60" is a string; write the number without quotes: 60`},
		{"pluggy", `{` + pluggyBase + `,"item_update_poll_seconds":" 2.5"}`,
			`config.item_update_poll_seconds: " 2.5" is a string; write the number without quotes: 2.5`},
		{"pluggy", `{` + pluggyBase + `,"trigger_item_update":"True"}`,
			`config.trigger_item_update: "True" is a string; write true or false without quotes: true`},
		{"pluggy", `{` + pluggyBase + `,"requests_per_minute":"sixty"}`,
			`config.requests_per_minute: "sixty" is a string, not a whole number: give a whole number from 0 to 100000, without quotes`},
		{"pluggy", `{` + pluggyBase + `,"max_concurrency":1.5}`,
			`config.max_concurrency: 1.5 is not a whole number: give a whole number from 1 to 32`},
		// A whole number too large for the validator to read as one.
		{"pluggy", `{` + pluggyBase + `,"max_concurrency":1e100000000}`,
			`config.max_concurrency: 1e100000000 is too large: give a whole number from 1 to 32`},
		{"pluggy", `{` + pluggyBase + `,"max_concurrency":-2.5e100000000}`,
			`config.max_concurrency: -2.5e100000000 is too small: give a whole number from 1 to 32`},
		// A number field's: the validator read it as nil and crashed
		// comparing it with the minimum ("source-pluggy crashed").
		{"pluggy", `{` + pluggyBase + `,"item_update_poll_seconds":1e100000000}`,
			`config.item_update_poll_seconds: 1e100000000 is too large: give a number from 0.01 to 300`},
		{"pluggy", `{` + pluggyBase + `,"item_update_poll_seconds":-1E+100000000}`,
			`config.item_update_poll_seconds: -1E+100000000 is too small: give a number from 0.01 to 300`},
		{"pluggy", `{` + pluggyBase + `,"item_update_poll_seconds":2.5e-100000000}`,
			`config.item_update_poll_seconds: 2.5e-100000000 is too close to 0: give a number from 0.01 to 300`},
		// A number written longer than 60 characters is not repeated,
		// as no value that long is.
		{"pluggy", `{` + pluggyBase + `,"max_concurrency":1` + strings.Repeat("0", 70) + `e100000000}`,
			`config.max_concurrency: is too large: give a whole number from 1 to 32`},
		{"pluggy", `{` + pluggyBase + `,"max_concurrency":1.` + strings.Repeat("0", 70) + `1}`,
			`config.max_concurrency: is not a whole number: give a whole number from 1 to 32`},
		{"pluggy", `{` + pluggyBase + `,"item_update_poll_seconds":-1.` + strings.Repeat("0", 70) + `1e100000000}`,
			`config.item_update_poll_seconds: is too small: give a number from 0.01 to 300`},
		// Said with the config's other faults, and not as the 0 the
		// validator is given in its place.
		{"pluggy", `{` + pluggyBase + `,"item_update_poll_seconds":1e100000000,"max_concurrency":99}`,
			`config.item_update_poll_seconds: 1e100000000 is too large: give a number from 0.01 to 300; ` +
				`config.max_concurrency: 99 is more than 32, the most it takes: give a whole number from 1 to 32`},
		{"pluggy", `{` + pluggyBase + `,"lookback_days":null}`,
			`config.lookback_days: is null: give a whole number from 0 to 365; or leave the field out for its default, 7`},
		{"pluggy", `{` + pluggyBase + `,"start_date":20250101}`,
			`config.start_date: 20250101 is a number, not text: write it in double quotes: "20250101"`},
		{"gocardless", `{` + gcBase + `,"balances":"no"}`,
			`config.balances: "no" is a string, not true or false: give true or false, without quotes`},
		{"pluggy", `{"client_id":["abc"],"client_secret":"b","item_ids":{"a":"3fa85f64-5717-4562-b3fc-2c963f66afa6"}}`,
			`config.client_id: is a list, not text: write the one value without the brackets: "abc"; ` +
				`config.item_ids: is an object, not a list: give a list in square brackets, e.g. ["d0ab10e7-c52d-45c9-8f88-e6d4ce44daa5"]`},
		// A secret's value is never repeated, whatever its shape.
		{"pluggy", `{"client_id":"a","client_secret":["s3cret-value"],"item_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"]}`,
			`config.client_secret: is a list, not text: write the one value without the brackets`},
		{"gocardless", `{"secret_id":12345678,"secret_key":"b","requisition_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"]}`,
			`config.secret_id: is a number, not text: write it in double quotes`},
		// minItems, maxItems.
		{"pluggy", `{"client_id":"a","client_secret":"b","item_ids":[]}`,
			`config.item_ids: is an empty list: give the ids (UUIDs) of the connected items to read, as source-pluggy connect prints them, e.g. ["d0ab10e7-c52d-45c9-8f88-e6d4ce44daa5"]`},
		{"enablebanking", `{"application_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","private_key":"k","session_ids":` + ids(1001, true) + `}`,
			`config.session_ids: has 1,001 items, more than the 1,000 it takes: give at most 1,000, and split a longer list across several configs`},
		{"gocardless", `{"secret_id":"a","secret_key":"b","requisition_ids":` + ids(1500, false) + `}`,
			`config.requisition_ids: has 1,500 items, more than the 1,000 it takes: 1,499 repeat others; give each once`},
	} {
		got := validationMessage(t, providerSpec(t, c.provider), c.cfg)
		if want := "Config validation error: " + c.want; got != want {
			t.Errorf("%s %.120s:\n got %s\nwant %s", c.provider, c.cfg, got, want)
		}
		if jargon.MatchString(got) {
			t.Errorf("%s: the message speaks the validator's jargon: %s", c.provider, got)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, "12345678") {
			t.Errorf("%s: the message repeats a secret: %s", c.provider, got)
		}
	}
}

// TestKeywordMessagesInWords: the keywords no spec of ours uses yet, which
// a provider's spec may: each in words, with its fix.
func TestKeywordMessagesInWords(t *testing.T) {
	spec := json.RawMessage(`{"type":"object","additionalProperties":false,
		"dependencies":{"attended":["psu_ip_address"]},
		"properties":{
			"mode":{"type":"string","enum":["daily","weekly"]},
			"version":{"const":2},
			"step":{"type":"integer","multipleOf":5,"exclusiveMinimum":0,"exclusiveMaximum":100},
			"ratio":{"type":"number","exclusiveMaximum":1},
			"tags":{"type":"array","uniqueItems":true,"minItems":2},
			"code":{"type":"string","minLength":3,"description":"The ISO 4217 currency code."},
			"lookback_days":{"type":"integer"},
			"attended":{"type":"boolean"},
			"psu_ip_address":{"type":"string"},
			"filter":{"type":"object"},
			"ids":{"type":"array","items":{"type":"string"}}}}`)
	for cfg, want := range map[string]string{
		`{"mode":"Weekly"}`:                   `config.mode: "Weekly" is not one of the values it takes: write "weekly"`,
		`{"mode":"monthly"}`:                  `config.mode: "monthly" is not one of the values it takes: give one of "daily", "weekly"`,
		`{"version":1}`:                       `config.version: 1 is not the value it takes: write 2`,
		`{"version":"2"}`:                     `config.version: "2" is not the value it takes: write 2`,
		`{"step":7}`:                          `config.step: 7 is not a multiple of 5: give a multiple of 5, such as 5 or 10`,
		`{"step":0}`:                          `config.step: 0 is too small: give a whole number more than 0 and less than 100`,
		`{"step":100}`:                        `config.step: 100 is too large: give a whole number more than 0 and less than 100`,
		`{"ratio":1}`:                         `config.ratio: 1 is too large: give a number less than 1`,
		`{"tags":["a"]}`:                      `config.tags: has 1 item, fewer than the 2 it takes: give at least 2`,
		`{"tags":["a","b","a"]}`:              `config.tags: items 0 and 2 (counting from 0) are the same: give each once`,
		`{"code":"br"}`:                       `config.code: is 2 characters long, fewer than the 3 it takes: give the ISO 4217 currency code`,
		`{"lookbak_days":3}`:                  `config.lookbak_days: is not a field of the config: did you mean lookback_days?`,
		`{"colour":"red"}`:                    `config.colour: is not a field of the config: remove it; the fields it takes: attended, code, filter, ids, lookback_days, mode, psu_ip_address, ratio, step, tags, version`,
		`{"attended":true}`:                   `config.psu_ip_address: is required when attended is given`,
		`{"filter":"a=b"}`:                    `config.filter: "a=b" is a string, not an object: give an object in braces, {…}`,
		`{"filter":"{\"a\":1}"}`:              `config.filter: "{\"a\":1}" is a string; write the object without quotes: {"a":1}`,
		`{"ids":"x"}`:                         `config.ids: "x" is a string, not a list: write it in square brackets: ["x"]`,
		`{"ids":"[\"x\"]"}`:                   `config.ids: "[\"x\"]" is a string; write the list without quotes: ["x"]`,
		`{"attended":1,"psu_ip_address":"x"}`: `config.attended: 1 is not true or false: give true or false`,
		`{"psu_ip_address":false}`:            `config.psu_ip_address: false is a boolean, not text: write it in double quotes: "false"`,
		`{"lookback_days":"1e3"}`:             `config.lookback_days: "1e3" is a string; write the number without quotes: 1e3`,
		`{"lookback_days":"7 days"}`:          `config.lookback_days: "7 days" is a string, not a whole number: give a whole number, without quotes`,
	} {
		got := validationMessage(t, spec, cfg)
		if want = "Config validation error: " + want; got != want {
			t.Errorf("%s:\n got %s\nwant %s", cfg, got, want)
		}
		if jargon.MatchString(got) {
			t.Errorf("%s: the message speaks the validator's jargon: %s", cfg, got)
		}
	}
	// A long value is not repeated: cut, a secret in it would escape
	// redaction, and whole it would swamp the message.
	long := strings.Repeat("9", 100)
	if got := validationMessage(t, spec, `{"mode":"`+long+`","lookback_days":"`+long+`"}`); strings.Contains(got, "999") {
		t.Errorf("a long value is repeated: %s", got)
	}
}

// TestEveryKeywordOfTheSpecsIsInWords breaks every constraint of every
// field of the three providers' specs, one at a time, and checks the
// message names the field, says the fix and speaks no jargon. A keyword
// a spec starts to use that this test cannot break fails it, so that a
// message in words is written for it.
func TestEveryKeywordOfTheSpecsIsInWords(t *testing.T) {
	annotations := []string{"title", "description", "default", "examples", "order", "airbyte_secret", "multiline", "items"}
	bases := map[string]string{"pluggy": pluggyBase, "gocardless": gcBase, "enablebanking": ebBase}
	breaks := 0
	for provider, base := range bases {
		raw := providerSpec(t, provider)
		var spec struct {
			Required   []string                  `json:"required"`
			Properties map[string]map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(raw, &spec); err != nil {
			t.Fatal(err)
		}
		try := func(name, keyword string, bad any) {
			t.Helper()
			var cfg map[string]any
			if err := json.Unmarshal([]byte("{"+base+"}"), &cfg); err != nil {
				t.Fatal(err)
			}
			cfg[name] = bad
			b, _ := json.Marshal(cfg)
			got := validationMessage(t, raw, string(b))
			breaks++
			switch {
			case !strings.HasPrefix(got, "Config validation error: config."+name):
				t.Errorf("%s %s %s: the message does not begin with the field: %s", provider, name, keyword, got)
			case jargon.MatchString(got):
				t.Errorf("%s %s %s: the message speaks the validator's jargon: %s", provider, name, keyword, got)
			case !fixWords.MatchString(got):
				t.Errorf("%s %s %s: the message says no fix: %s", provider, name, keyword, got)
			}
		}
		names := make([]string, 0, len(spec.Properties))
		for name := range spec.Properties {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			p := spec.Properties[name]
			for kw, v := range p {
				switch kw {
				case "type":
					wrong := map[string]any{"string": 42, "integer": "x", "number": "x", "boolean": "x", "array": map[string]any{}, "object": "x"}[v.(string)]
					try(name, kw, wrong)
					try(name, kw+" null", nil)
				case "minimum":
					try(name, kw, v.(float64)-1)
				case "maximum":
					try(name, kw, v.(float64)+1)
				case "minLength":
					try(name, kw, strings.Repeat("a", int(v.(float64))-1))
				case "maxLength":
					try(name, kw, strings.Repeat("a", int(v.(float64))+1))
				case "pattern", "format":
					try(name, kw, "not one")
				case "minItems":
					try(name, kw, []any{})
				case "maxItems":
					list := make([]any, int(v.(float64))+1)
					for i := range list {
						list[i] = fmt.Sprintf("3fa85f64-5717-4562-b3fc-%012x", i)
					}
					try(name, kw, list)
				default:
					if !slices.Contains(annotations, kw) && !strings.HasPrefix(kw, "x-") {
						t.Errorf("%s %s: keyword %s has no test here; give it a message in words (failure.describe) and break it here", provider, name, kw)
					}
				}
			}
			if items, ok := p["items"].(map[string]any); ok {
				for kw, v := range items {
					switch kw {
					case "type":
					case "pattern":
						try(name, "items pattern", []any{"not one"})
					case "minLength":
						try(name, "items minLength", []any{strings.Repeat("a", int(v.(float64))-1)})
					case "maxLength":
						try(name, "items maxLength", []any{strings.Repeat("a", int(v.(float64))+1)})
					default:
						t.Errorf("%s %s: items keyword %s has no test here", provider, name, kw)
					}
				}
			}
		}
		for _, name := range spec.Required {
			var cfg map[string]any
			_ = json.Unmarshal([]byte("{"+base+"}"), &cfg)
			delete(cfg, name)
			b, _ := json.Marshal(cfg)
			// What to give follows, from the field's description.
			if got := validationMessage(t, raw, string(b)); !strings.HasPrefix(got, "Config validation error: config."+name+": is required but missing: give ") {
				t.Errorf("%s without %s: %s", provider, name, got)
			}
		}
	}
	if breaks < 100 {
		t.Errorf("only %d values broken: the specs were not read", breaks)
	}
}

// TestProblemsWithoutTheSchema: Problems, which knows neither the schema
// nor the value (a record against its stream's schema), still speaks in
// words.
func TestProblemsWithoutTheSchema(t *testing.T) {
	sch, err := CompileSchema("s.json", []byte(`{"type":"object","properties":{"n":{"type":"integer","maximum":5},"s":{"type":"string","minLength":1},"l":{"type":"array"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for inst, want := range map[string]string{
		`{"n":6}`:     `record.n: 6 is more than 5, the most it takes: give a number of at most 5`,
		`{"n":"6"}`:   `record.n: is a string, not a whole number: give a whole number, without quotes`,
		`{"s":""}`:    `record.s: is empty: give a value`,
		`{"l":"x"}`:   `record.l: is a string, not a list: write it in square brackets`,
		`{"n":1.5}`:   `record.n: is not a whole number: give a whole number`,
		`{"s":false}`: `record.s: is a boolean, not text: write it in double quotes`,
	} {
		v, _ := jsonschema.UnmarshalJSON(strings.NewReader(inst))
		err := sch.Validate(v)
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: %v", inst, err)
		}
		if got := strings.Join(Problems("record", err), "; "); got != want {
			t.Errorf("%s:\n got %s\nwant %s", inst, got, want)
		}
	}
}
