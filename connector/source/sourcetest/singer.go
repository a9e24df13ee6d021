package sourcetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
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
