package main

import (
	"context"
	"flag"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking"
	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/source"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in catalogs/ and testdata/golden/")

// TestCatalogFiles keeps catalogs/ in step with discover.
// Regenerate with: go test ./cmd/source-enablebanking -run TestCatalogFiles -update
func TestCatalogFiles(t *testing.T) {
	f := fake.New(fake.Options{Sessions: 1})
	cfg := []byte(`{"application_id":"` + f.ApplicationID() + `","private_key":` + quote(f.PrivateKeyPEM()) + `,"session_ids":["8126e9fb-93c9-4228-937c-68f0383c2df7"]}`)
	conn, err := enablebanking.Source{}.Open(context.Background(), cfg, source.Env{})
	st.Must(t, err, "open")
	st.CheckCatalogFiles(t, conn.Streams(), map[string]bool{"enablebanking_full_refresh.json": false, "enablebanking_incremental.json": true},
		*update, "go test ./cmd/source-enablebanking -run TestCatalogFiles -update")
}
