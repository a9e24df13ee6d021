package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy"
	"github.com/source-pluggy/source-pluggy/connector/source"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in catalogs/")

// TestCatalogFiles keeps catalogs/ in step with discover: the files users
// and tests pass to read are what source.Configure makes of the streams.
// Regenerate with: go test ./cmd/source-pluggy -run TestCatalogFiles -update
func TestCatalogFiles(t *testing.T) {
	cfg := []byte(`{"client_id":"x","client_secret":"y","item_ids":["d0ab10e7-c52d-45c9-8f88-e6d4ce44daa5"]}`)
	conn, err := pluggy.Source{}.Open(context.Background(), cfg, source.Env{})
	st.Must(t, err, "open")
	for name, incremental := range map[string]bool{"pluggy_full_refresh.json": false, "pluggy_incremental.json": true} {
		want, err := json.MarshalIndent(source.Configure(conn.Streams(), incremental), "", "  ")
		st.Must(t, err, name)
		want = append(want, '\n')
		path := filepath.Join(st.RepoRoot(), "catalogs", name)
		if *update {
			st.Must(t, os.WriteFile(path, want, 0o644), name)
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale or missing (%v); run: go test ./cmd/source-pluggy -run TestCatalogFiles -update", path, err)
		}
	}
}
