package main

import (
	"context"
	"flag"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless"
	"github.com/source-pluggy/source-pluggy/connector/source"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in catalogs/ and testdata/golden/")

// TestCatalogFiles keeps catalogs/ in step with discover.
// Regenerate with: go test ./cmd/source-gocardless-bank-data -run TestCatalogFiles -update
func TestCatalogFiles(t *testing.T) {
	cfg := []byte(`{"secret_id":"x","secret_key":"y","requisition_ids":["8126e9fb-93c9-4228-937c-68f0383c2df7"]}`)
	conn, err := gocardless.Source{}.Open(context.Background(), cfg, source.Env{})
	st.Must(t, err, "open")
	st.CheckCatalogFiles(t, conn.Streams(), map[string]bool{"gocardless_bank_data_full_refresh.json": false, "gocardless_bank_data_incremental.json": true},
		*update, "go test ./cmd/source-gocardless-bank-data -run TestCatalogFiles -update")
}
