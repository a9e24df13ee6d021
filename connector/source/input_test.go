package source

import (
	"os"
	"path/filepath"
	"testing"
)

// TestInputFileWithABOM: a JSON file saved with a UTF-8 byte order mark (as
// Windows editors save it) is read as the JSON after it; it failed with
// "invalid character 'ï' looking for beginning of value".
func TestInputFileWithABOM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte("\ufeff{\"a\":1}"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := readInput("config", path)
	if err != nil || string(b) != `{"a":1}` {
		t.Fatalf("read %q, %v; want the JSON without its BOM", b, err)
	}
}

// TestDuplicateKey: a key given twice in one object is found wherever it
// is, by its path; equal keys in different objects are not duplicates.
func TestDuplicateKey(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,"b":2}`:                              "",
		`{"a":1,"a":2}`:                              "a",
		`{"a":{"b":1},"c":{"b":2}}`:                  "",
		`{"a":{"b":1,"b":1}}`:                        "a.b",
		`{"items":[{"id":"x"},{"id":"y","id":"z"}]}`: "items[1].id",
		`{"a":[[],{"k":[1,{"x":1,"x":2}]}]}`:         "a[1].k[1].x",
		`{"a\u0062":1,"ab":2}`:                       "ab",
	} {
		if got := duplicateKey([]byte(in)); got != want {
			t.Errorf("duplicateKey(%s) = %q, want %q", in, got, want)
		}
	}
}
