package jsonrow

import (
	"encoding/json"
	"testing"
)

func TestAdd(t *testing.T) {
	for _, c := range []struct {
		name, raw string
		fields    []Field
		want      string
	}{
		{"one", `{"a":1}`, []Field{String("k", "v")}, `{"k":"v","a":1}`},
		{"empty object", `{}`, []Field{String("k", "v")}, `{"k":"v"}`},
		{"spaces kept", ` { "a" : "0.10" }`, []Field{String("k", "v")}, `{"k":"v","a" : "0.10" }`},
		{"present at top", `{"k":"old","a":1}`, []Field{String("k", "v")}, `{"k":"old","a":1}`},
		{"nested only", `{"x":{"k":1},"a":1}`, []Field{String("k", "v")}, `{"k":"v","x":{"k":1},"a":1}`},
		{"in a value only", `{"x":"\"k\"","a":1}`, []Field{String("k", "v")}, `{"k":"v","x":"\"k\"","a":1}`},
		{"several", `{"a":1}`, []Field{String("k", "v"), Raw("d", json.RawMessage(`{"z":true}`)), Raw("n", nil)}, `{"k":"v","d":{"z":true},"n":null,"a":1}`},
		{"not an object", `[1]`, []Field{String("k", "v")}, `[1]`},
		{"escaping", `{"a":1}`, []Field{String("k", "Zoë \"x\" <&>")}, `{"k":"Zoë \"x\" \u003c\u0026\u003e","a":1}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := string(Add([]byte(c.raw), c.fields...))
			if got != c.want {
				t.Fatalf("Add = %s, want %s", got, c.want)
			}
			if c.raw[0] == '{' || c.raw[0] == ' ' {
				var v map[string]any
				if err := json.Unmarshal([]byte(got), &v); err != nil {
					t.Fatalf("result is not JSON: %v", err)
				}
			}
		})
	}
}

func TestJoin(t *testing.T) {
	if got := string(Join([]byte(`{"id":"t1"}`), "itemId", "i1")); got != `{"itemId":"i1","id":"t1"}` {
		t.Fatal(got)
	}
}

func TestHasKey(t *testing.T) {
	raw := []byte(`{"a":{"b":[{"c":1}]},"d":"c","e":[1,"c"]}`)
	for key, want := range map[string]bool{"a": true, "d": true, "e": true, "b": false, "c": false, "z": false} {
		if got := HasKey(raw, key); got != want {
			t.Errorf("HasKey(%q) = %v, want %v", key, got, want)
		}
	}
}
