package source

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// The fuzz targets below feed the three input files a user hands the
// connector (config, catalog, state) through the same loading code `read`
// uses. Each must end in a value or in a config_error; never a panic, never
// another failure type, and a config's secret never in the message. Seeds
// live in testdata/fuzz/<target>/; CI runs each target briefly (.ci/run).

// fuzzSource is a Source whose spec has the shapes a real spec has: a
// secret, a list with a pattern, bounded integers, a date.
type fuzzSource struct{}

func (fuzzSource) Name() string { return "source-fuzz" }
func (fuzzSource) Spec() protocol.Spec {
	return protocol.Spec{ConnectionSpecification: json.RawMessage(`{
		"type": "object", "required": ["token", "ids"], "additionalProperties": true,
		"properties": {
			"token": {"type": "string", "airbyte_secret": true, "minLength": 1, "maxLength": 100},
			"ids": {"type": "array", "minItems": 1, "maxItems": 5, "items": {"type": "string", "pattern": "^[a-z0-9-]+$"}},
			"days": {"type": "integer", "minimum": 0, "maximum": 365},
			"start": {"type": "string", "format": "date"},
			"base_url": {"type": "string", "format": "uri"}
		}}`)}
}
func (fuzzSource) Open(context.Context, json.RawMessage, Env) (Conn, error) { return nil, nil }

// mustBeConfigError fails unless err is a config_error.
func mustBeConfigError(t *testing.T, what string, input []byte, err error) {
	t.Helper()
	if ft := FailureTypeOf(err); ft != protocol.ConfigError {
		t.Fatalf("%s of %q: %s error %v, want config_error", what, input, ft, err)
	}
	if userMessage(err) == "" {
		t.Fatalf("%s of %q: an error with no message", what, input)
	}
}

func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{
		`{"token":"s3cret-token","ids":["a","b"],"days":7,"start":"2025-01-31"}`,
		`{"token":"s3cret-token","ids":"a,b"}`,
		`{"token":["s3cret-token"],"ids":[1]}`,
		`{"token":"s3cret-token","ids":["UPPER"],"days":1e400}`,
		`{"token":"s3cret-token","ids":["a"],"_comment":"x","unknown":{"deep":[1,2]}}`,
		`[]`, `null`, `{"token":"x"} {}`, "{\"token\":\"\xff\"}", `{"token":`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, raw []byte) {
		file, err := os.CreateTemp(dir, "config-*.json")
		if err != nil {
			t.Fatal(err)
		}
		path := file.Name()
		defer os.Remove(path)
		if _, err := file.Write(raw); err != nil {
			t.Fatal(err)
		}
		file.Close()
		secrets := &secret.Redactor{}
		cfg, warnings, err := loadConfig(fuzzSource{}, path, secrets, configKeys{})
		if err != nil {
			mustBeConfigError(t, "loadConfig", raw, err)
			// A secret the config carries never survives into what is printed.
			var obj map[string]any
			if json.Unmarshal(raw, &obj) == nil {
				if tok, ok := obj["token"].(string); ok && len(tok) >= 6 && !strings.Contains(secret.Mask, tok) {
					if msg := secrets.String(userMessage(err) + err.Error()); strings.Contains(msg, tok) {
						t.Fatalf("the secret %q is in the error %q", tok, msg)
					}
				}
			}
			return
		}
		if !utf8.Valid(raw) {
			t.Fatalf("accepted invalid UTF-8: %q", raw)
		}
		var obj map[string]any
		if err := json.Unmarshal(cfg, &obj); err != nil || obj == nil {
			t.Fatalf("accepted config re-encodes as %q: %v", cfg, err)
		}
		if _, ok := obj["token"].(string); !ok {
			t.Fatalf("accepted a config without a string token: %s", cfg)
		}
		for _, w := range warnings {
			if !strings.HasPrefix(w, "config field ") {
				t.Fatalf("warning %q does not name a field", w)
			}
		}
	})
}

func FuzzParseCatalog(f *testing.F) {
	for _, s := range []string{
		`{"streams":[{"stream":{"name":"items","json_schema":{},"supported_sync_modes":["full_refresh"]},"sync_mode":"full_refresh","destination_sync_mode":"overwrite"}]}`,
		`{"streams":[{"stream":{"name":"transactions"},"sync_mode":"incremental","cursor_field":["createdAt"]}]}`,
		`{"streams":[{"stream":{"name":"items"},"sync_mode":"full_refresh"},{"stream":{"name":"items"},"sync_mode":"full_refresh"}]}`,
		`{"streams":[{"stream":{"name":"nope"},"sync_mode":"full_refresh"}]}`,
		`{"streams":[{"stream":{"name":"items"},"sync_mode":5}]}`,
		`{"streams":{}}`, `{"streams":[]}`, `{"streams":["items"]}`, `[]`, `null`, `{"streams":[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sel, err := parseCatalog("fuzz.json", raw, stubStreams)
		if err != nil {
			mustBeConfigError(t, "parseCatalog", raw, err)
			return
		}
		if len(sel) == 0 {
			t.Fatalf("accepted a catalog with no streams: %q", raw)
		}
		seen := map[string]bool{}
		for _, s := range sel {
			name := s.Stream.Name()
			if seen[name] {
				t.Fatalf("stream %s selected twice from %q", name, raw)
			}
			seen[name] = true
			ok := false
			for _, m := range SyncModes(s.Stream) {
				ok = ok || m == s.Mode
			}
			if !ok {
				t.Fatalf("stream %s accepted in mode %q from %q", name, s.Mode, raw)
			}
		}
	})
}

func FuzzParseState(f *testing.F) {
	for _, s := range []string{
		`[{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":{"version":1,"accounts":{}}},"sourceStats":{"recordCount":3.0}}]`,
		`{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":{"a":1}}}`,
		`[{"type":"GLOBAL","global":{"shared_state":{},"stream_states":[{"stream_descriptor":{"name":"items"},"stream_state":{"__ab_no_cursor_state_message":true}}]}}]`,
		`{"transactions":{"version":1},"items":null}`,
		`[{"type":"STREAM","stream":{"stream_descriptor":{"name":"balances"},"stream_state":{}}}]`,
		`[{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":"yesterday"}}]`,
		`[{"type":"STREAM"}]`, `[{"type":"PARTIAL"}]`, `42`, `""`, `[]`, `null`, ``, `[{"type":"STREAM",`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		states, err := ParseState("fuzz.json", raw, stubStreams)
		if err != nil {
			mustBeConfigError(t, "ParseState", raw, err)
			return
		}
		for name, st := range states {
			if name != "items" && name != "transactions" {
				t.Fatalf("state for unknown stream %q accepted from %q", name, raw)
			}
			if len(st) == 0 || st[0] != '{' || !json.Valid(st) {
				t.Fatalf("state of %s is %q, want a JSON object (from %q)", name, st, raw)
			}
			if bytes.Equal(bytes.TrimSpace(st), []byte(`{"__ab_no_cursor_state_message":true}`)) {
				t.Fatalf("the full-refresh sentinel came back as %s's state", name)
			}
		}
	})
}

// The fuzz corpus directory must exist for `go test -fuzz` to add to it; a
// missing one is a setup mistake worth a clear failure.
func TestFuzzCorporaPresent(t *testing.T) {
	for _, target := range []string{"FuzzLoadConfig", "FuzzParseCatalog", "FuzzParseState"} {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", target))
		if err != nil || len(entries) == 0 {
			t.Errorf("no seed corpus for %s: %v", target, err)
		}
	}
}
