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
