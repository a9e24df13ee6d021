package jsonrow

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzStringPaths: StringPaths never panics, accepts every JSON value
// encoding/json accepts, gives each path once, and finds none in a value
// without a string.
func FuzzStringPaths(f *testing.F) {
	f.Add([]byte(`{"a":"x","b":[1,"y",{"c":"z"}],"d":{"e\u0041":null}}`))
	f.Add([]byte(`["a",["b"],{}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		paths, err := StringPaths(b, func([]byte) bool { return true })
		if !json.Valid(b) {
			return
		}
		if err != nil && !strings.Contains(err.Error(), "nested too deep") {
			t.Fatalf("%q: %v", b, err)
		}
		seen := map[string]bool{}
		for _, p := range paths {
			if seen[p] {
				t.Fatalf("%q: path %q twice", b, p)
			}
			seen[p] = true
		}
		if !bytes.Contains(b, []byte(`"`)) && len(paths) != 0 {
			t.Fatalf("%q: paths %q without a string", b, paths)
		}
	})
}
