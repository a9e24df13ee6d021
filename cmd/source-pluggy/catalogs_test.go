package main

import (
	"context"
	"flag"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy"
	"github.com/source-pluggy/source-pluggy/connector/source"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in catalogs/ and testdata/golden/")

// TestCatalogFiles keeps catalogs/ in step with discover: the files users
// and tests pass to read are what source.Configure makes of the streams.
// Regenerate with: go test ./cmd/source-pluggy -run TestCatalogFiles -update
func TestCatalogFiles(t *testing.T) {
	cfg := []byte(`{"client_id":"x","client_secret":"y","item_ids":["d0ab10e7-c52d-45c9-8f88-e6d4ce44daa5"]}`)
	conn, err := pluggy.Source{}.Open(context.Background(), cfg, source.Env{})
	st.Must(t, err, "open")
	st.CheckCatalogFiles(t, conn.Streams(), map[string]bool{"pluggy_full_refresh.json": false, "pluggy_incremental.json": true},
		*update, "go test ./cmd/source-pluggy -run TestCatalogFiles -update")
}
