package source

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// providerSpec is a provider's spec.json, read from its package (the
// providers import this package, so it cannot import them).
func providerSpec(t *testing.T, provider string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", provider, "spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// validationMessage validates cfg against spec and returns the error's text.
func validationMessage(t *testing.T, spec json.RawMessage, cfg string) string {
	t.Helper()
	// Decoded as loadConfig decodes a config: numbers stay as written.
	dec := json.NewDecoder(strings.NewReader(cfg))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		t.Fatal(err)
	}
	err := validateConfig(spec, obj)
	if err == nil {
		t.Fatalf("config %s passed validation", cfg)
	}
	return userMessage(err)
}

// TestDateMessages: a date that does not parse says so in words, with
// the way to write it (the same date in YYYY-MM-DD where the input is one
// written another way), never with Go's time layout ("2006-01-02").
func TestDateMessages(t *testing.T) {
	spec := providerSpec(t, "pluggy")
	const base = `"client_id":"a","client_secret":"b","item_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"]`
	for in, want := range map[string]string{
		"2026/01/01":           `config.start_date: '2026/01/01' is not a date: write it as YYYY-MM-DD: 2026-01-01`,
		"2026.1.5":             `config.start_date: '2026.1.5' is not a date: write it as YYYY-MM-DD: 2026-01-05`,
		"31/01/2026":           `config.start_date: '31/01/2026' is not a date: write it as YYYY-MM-DD: 2026-01-31`,
		"01/02/2026":           `config.start_date: '01/02/2026' is not a date: write it as YYYY-MM-DD: 2026-02-01 if you mean 1 February, 2026-01-02 if 2 January`,
		"2025-13-45":           `config.start_date: '2025-13-45' is not a date: there is no month 13; write it as YYYY-MM-DD, e.g. 2025-01-31`,
		"2025-02-30":           `config.start_date: '2025-02-30' is not a date: February 2025 has no day 30; write it as YYYY-MM-DD, e.g. 2025-01-31`,
		"2025-01-31T00:00:00Z": `config.start_date: '2025-01-31T00:00:00Z' is not a date: it has more than the date; write it as YYYY-MM-DD: 2025-01-31`,
		"yesterday":            `config.start_date: 'yesterday' is not a date: write it as YYYY-MM-DD, e.g. 2025-01-31`,
	} {
		got := validationMessage(t, spec, `{`+base+`,"start_date":`+strconvQuote(in)+`}`)
		if want = "Config validation error: " + want; got != want {
			t.Errorf("start_date %q:\n got %s\nwant %s", in, got, want)
		}
		if strings.Contains(got, "2006") || strings.Contains(got, "parsing time") {
			t.Errorf("start_date %q: the message shows Go's time layout: %s", in, got)
		}
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestDateTimeMessages: the same for a date-time, which no config of
// ours has but a provider's may.
func TestDateTimeMessages(t *testing.T) {
	spec := json.RawMessage(`{"type":"object","properties":{"since":{"type":"string","format":"date-time"}}}`)
	for in, want := range map[string]string{
		"2025-01-31":           `'2025-01-31' is not a date-time: it has no time; write it as YYYY-MM-DDTHH:MM:SS with Z (UTC) or an offset, e.g. 2025-01-31T00:00:00Z`,
		"2025-01-31 09:15:00":  `'2025-01-31 09:15:00' is not a date-time: it has no time zone; write it as YYYY-MM-DDTHH:MM:SS with Z (UTC) or an offset, e.g. 2025-01-31T09:15:00Z`,
		"2025-13-01T00:00:00Z": `'2025-13-01T00:00:00Z' is not a date-time: there is no month 13; write it as YYYY-MM-DDTHH:MM:SS with Z (UTC) or an offset, e.g. 2025-01-31T09:30:00Z`,
		"soon":                 `'soon' is not a date-time: write it as YYYY-MM-DDTHH:MM:SS with Z (UTC) or an offset, e.g. 2025-01-31T09:30:00Z`,
	} {
		got := validationMessage(t, spec, `{"since":`+strconvQuote(in)+`}`)
		if want = "Config validation error: config.since: " + want; got != want {
			t.Errorf("since %q:\n got %s\nwant %s", in, got, want)
		}
	}
}

// TestURLMessage: a base_url without a scheme is "not a URL", with the
// value as it should be written.
func TestURLMessage(t *testing.T) {
	got := validationMessage(t, providerSpec(t, "pluggy"), `{"client_id":"a","client_secret":"b","item_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"],"base_url":"api.pluggy.ai"}`)
	if want := `Config validation error: config.base_url: 'api.pluggy.ai' is not a URL: write it in full, with its scheme, e.g. https://api.pluggy.ai`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestUUIDMessages: every provider's id fields say "is not a UUID", how a
// UUID is written, and what the field holds and where it comes from (its
// description), never the regular expression.
func TestUUIDMessages(t *testing.T) {
	for _, c := range []struct{ provider, cfg, want string }{
		{"pluggy", `{"client_id":"a","client_secret":"b","item_ids":["not-a-uuid"]}`,
			`config.item_ids.0: 'not-a-uuid' is not a UUID: give the id as 32 hex digits in groups of 8-4-4-4-12, e.g. 3fa85f64-5717-4562-b3fc-2c963f66afa6 (item_ids: the ids (UUIDs) of the connected items to read, as source-pluggy connect prints them)`},
		{"enablebanking", `{"application_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","private_key":"k","session_ids":["not-a-uuid"]}`,
			`config.session_ids.0: 'not-a-uuid' is not a UUID: give the id as 32 hex digits in groups of 8-4-4-4-12, e.g. 3fa85f64-5717-4562-b3fc-2c963f66afa6 (session_ids: the ids (UUIDs) of the authorised sessions whose accounts are read, as source-enablebanking connect prints them)`},
		{"enablebanking", `{"application_id":"my app","private_key":"k","session_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"]}`,
			`config.application_id: 'my app' is not a UUID: give the id as 32 hex digits in groups of 8-4-4-4-12, e.g. 3fa85f64-5717-4562-b3fc-2c963f66afa6 (application_id: the id (a UUID) of your Enable Banking application, from the Control Panel)`},
		{"gocardless", `{"secret_id":"a","secret_key":"b","requisition_ids":["3fa85f6457174562b3fc2c963f66afa6"]}`,
			`config.requisition_ids.0: '3fa85f6457174562b3fc2c963f66afa6' is not a UUID: it lacks the dashes; write it as 8-4-4-4-12 hex digits: 3fa85f64-5717-4562-b3fc-2c963f66afa6 (requisition_ids: the ids (UUIDs) of the linked requisitions (bank links) whose accounts are read, as source-gocardless-bank-data connect prints them)`},
		{"gocardless", `{"secret_id":"a","secret_key":"b","requisition_ids":["3fa85f64-5717-4562-b3fc-2c963f66afa6"],"account_ids":["https://x/accounts/3fa85f64-5717-4562-b3fc-2c963f66afa7/"]}`,
			`config.account_ids.0: 'https://x/accounts/3fa85f64-5717-4562-b3fc-2c963f66afa7/' is not a UUID: give the id alone: 3fa85f64-5717-4562-b3fc-2c963f66afa7 (account_ids: read only these accounts of the requisitions: their ids (UUIDs), as the accounts stream gives them)`},
	} {
		got := validationMessage(t, providerSpec(t, c.provider), c.cfg)
		if want := "Config validation error: " + c.want; got != want {
			t.Errorf("%s %s:\n got %s\nwant %s", c.provider, c.cfg, got, want)
		}
		if strings.Contains(got, "pattern") || strings.Contains(got, "[0-9a-fA-F]") {
			t.Errorf("%s: the message shows the regular expression: %s", c.provider, got)
		}
	}
}

// TestPatternRecognition: a pattern is known as a UUID's or a date's by
// what it accepts, however it is spelled; any other pattern is quoted.
func TestPatternRecognition(t *testing.T) {
	for _, p := range []string{
		`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`,
		`^(?i)[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$`,
		`^[[:xdigit:]]{8}-[[:xdigit:]]{4}-[[:xdigit:]]{4}-[[:xdigit:]]{4}-[[:xdigit:]]{12}$`,
	} {
		if !acceptsOnlyUUIDs(p) {
			t.Errorf("%s is not recognised as a UUID's pattern", p)
		}
	}
	for _, p := range []string{`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, `[0-9a-fA-F-]+`, `^.{36}$`, `(`} {
		if acceptsOnlyUUIDs(p) {
			t.Errorf("%s is taken for a UUID's pattern", p)
		}
	}
	if !acceptsOnlyDates(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`) || !acceptsOnlyDates(`^\d{4}-\d\d-\d\d$`) || acceptsOnlyDates(`^\d+$`) {
		t.Error("date patterns are not told apart")
	}
	spec := json.RawMessage(`{"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z]{3}$","description":"The ISO 4217 currency code. Upper case."}}}`)
	got := validationMessage(t, spec, `{"code":"brl"}`)
	if want := `Config validation error: config.code: 'brl' does not match pattern '^[A-Z]{3}$' (code: the ISO 4217 currency code)`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestRequiredNearMiss: a required field that is missing while the config
// holds a key close to it names that key; one with nothing close does not.
func TestRequiredNearMiss(t *testing.T) {
	eb := providerSpec(t, "enablebanking")
	const app = `"application_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","private_key":"k"`
	for cfg, want := range map[string]string{
		`{` + app + `,"session_id":["3fa85f64-5717-4562-b3fc-2c963f66afa6"]}`: `config.session_ids: is required but missing; the config has "session_id": did you mean session_ids?`,
		`{` + app + `,"sessionIds":"x"}`:                                      `config.session_ids: is required but missing; the config has "sessionIds": did you mean session_ids?`,
		`{` + app + `,"sesion_ids":"x","session-ids":"y"}`:                    `config.session_ids: is required but missing; the config has "sesion_ids", "session-ids": did you mean session_ids?`,
		`{` + app + `,"sessions":"x"}`:                                        `config.session_ids: is required but missing; the config has "sessions": did you mean session_ids?`,
		`{` + app + `,"connections":"x"}`:                                     `config.session_ids: is required but missing: give the ids (UUIDs) of the authorised sessions whose accounts are read, as source-enablebanking connect prints them`,
		`{` + app + `,"account_uids":["a"]}`:                                  `config.session_ids: is required but missing: give the ids (UUIDs) of the authorised sessions whose accounts are read, as source-enablebanking connect prints them`,
	} {
		if got := validationMessage(t, eb, cfg); got != "Config validation error: "+want {
			t.Errorf("%s:\n got %s\nwant Config validation error: %s", cfg, got, want)
		}
	}
	pl := providerSpec(t, "pluggy")
	got := validationMessage(t, pl, `{"client_id":"a","clientsecret":"b","item_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6"}`)
	want := `Config validation error: config.client_secret: is required but missing; the config has "clientsecret": did you mean client_secret?; ` +
		`config.item_ids: is required but missing; the config has "item_id": did you mean item_ids?`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestUnknownKeyWarningSuggests: read's WARN for an unknown key names the
// field it most likely misspells, and still lists the known fields.
func TestUnknownKeyWarningSuggests(t *testing.T) {
	spec := providerSpec(t, "pluggy")
	keys := configKeys{own: []string{"emit_activate_version_messages"}}
	for key, want := range map[string]string{
		"start_dat":                     `config field "start_dat" is not a setting of this connector and is ignored (did you mean start_date?); known fields: `,
		"lookback_day":                  `config field "lookback_day" is not a setting of this connector and is ignored (did you mean lookback_days?); known fields: `,
		"MaxConcurrency":                `config field "MaxConcurrency" is not a setting of this connector and is ignored (did you mean max_concurrency?); known fields: `,
		"emit_activate_version_message": `config field "emit_activate_version_message" is not a setting of this connector and is ignored (did you mean emit_activate_version_messages?); known fields: `,
		"colour":                        `config field "colour" is not a setting of this connector and is ignored; known fields: `,
	} {
		w := ignoreUnknownKeys(spec, map[string]any{key: 1, "start_date": "2025-01-01"}, keys)
		if len(w) != 1 || !strings.HasPrefix(w[0], want) || !strings.Contains(w[0], "base_url, client_id, client_secret") {
			t.Errorf("%s: got %q, want it to start %q and list the known fields", key, w, want)
		}
	}
}

func TestNameDistance(t *testing.T) {
	for _, c := range []struct {
		key, name string
		near      bool
	}{
		{"session_id", "session_ids", true},
		{"start_dat", "start_date", true},
		{"strat_date", "start_date", true}, // a swap is one edit
		{"Start-Date", "start_date", true},
		{"categories", "category", true},
		{"balance", "balances", true},
		{"startdate_x", "start_date", true},
		{"end_date", "start_date", false},
		{"sessions", "session_ids", true},
		{"accounts", "session_ids", false},
		{"ids", "id", true},
		{"ab", "id", false},
		{"abc", "id", false},
		{"base_uri", "base_url", true},
		{"private_key_path", "private_key", false},
	} {
		if got := nameDistance(c.key, c.name) >= 0; got != c.near {
			t.Errorf("nameDistance(%q, %q) = %d; near should be %v", c.key, c.name, nameDistance(c.key, c.name), c.near)
		}
	}
}
