package source

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCatalogFromDiscover: discover's output passed as --catalog (or its
// streams unwrapped, or a Singer catalog) is an error that says what it
// is and how to make a configured catalog, not "streams is empty".
func TestCatalogFromDiscover(t *testing.T) {
	discovered := `{"type":"CATALOG","catalog":{"streams":[{"name":"items","json_schema":{"type":"object"},"supported_sync_modes":["full_refresh"]},` +
		`{"name":"transactions","json_schema":{"type":"object"},"supported_sync_modes":["full_refresh","incremental"]}]}}`
	for name, c := range map[string]struct{ body, want string }{
		"discover's output": {discovered, "is the output of discover (a CATALOG message), not a configured catalog; read takes a configured catalog"},
		"its catalog":       {`{"streams":[{"name":"items","json_schema":{"type":"object"}}]}`, "holds discover's streams as they are, not configured streams; read takes a configured catalog"},
		"a Singer catalog":  {`{"streams":[{"tap_stream_id":"items","stream":"items","schema":{},"metadata":[]}]}`, "is a Singer catalog (its streams have tap_stream_id)"},
		"an empty message":  {`{"type":"CATALOG","catalog":{}}`, "is the output of discover"},
	} {
		_, err := parseCatalog("disc.json", []byte(c.body), stubStreams)
		if err == nil || FailureTypeOf(err) != "config_error" {
			t.Fatalf("%s: %v; want a config error", name, err)
		}
		msg := userMessage(err)
		if !strings.HasPrefix(msg, "catalog disc.json ") || !strings.Contains(msg, c.want) || !strings.Contains(msg, "catalogs/") ||
			!strings.Contains(msg, `{"stream": {...}, "sync_mode": "full_refresh" or "incremental", "destination_sync_mode": "overwrite" or "append_dedup"}`) {
			t.Errorf("%s: %s\nwant it to say %q, name catalogs/ and show a configured stream", name, msg, c.want)
		}
	}
	// The jq command the message gives makes a catalog read takes.
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq is not installed")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "my disc.json")
	if err := os.WriteFile(path, []byte(discovered), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := parseCatalog(path, []byte(discovered), stubStreams)
	_, cmd, ok := strings.Cut(userMessage(err), "make one of this file: ")
	if !ok || !strings.Contains(cmd, "'"+path+"'") {
		t.Fatalf("no jq command quoting the path in %v", err)
	}
	out, err := exec.Command("sh", "-c", "cd "+shellQuote(dir)+" && "+cmd+" && cat configured_catalog.json").CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	sel, err := parseCatalog("configured_catalog.json", out, stubStreams)
	if err != nil || len(sel) != 2 || sel[0].Mode != "full_refresh" {
		t.Fatalf("the catalog jq made: %v, %v\n%s", sel, err, out)
	}
}
