package main

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestCatalogCursorFieldIgnoredIsSaid: transactions keep their own cursor
// (the source defines it, as the Airbyte protocol allows); a hand-made
// catalog naming another cursor_field got no word that it was ignored.
func TestCatalogCursorFieldIgnoredIsSaid(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 5})
	path := e.catalog(true, "transactions")
	raw, err := os.ReadFile(path)
	st.Must(t, err, "catalog")
	var cat protocol.ConfiguredCatalog
	st.Must(t, json.Unmarshal(raw, &cat), "catalog")
	cat.Streams[0].CursorField = []string{"value_date"}
	r := e.read(st.WriteFile(t, "catalog-value-date.json", cat))
	if !r.Warned(`catalog.streams[0].cursor_field "value_date" is ignored: stream "transactions" keeps its own cursor`, "remove cursor_field") {
		t.Errorf("no WARN that the catalog's cursor_field is ignored:\n%s", r.Stdout)
	}
	if r := e.read(path); r.Warned("is ignored: stream") {
		t.Error("a WARN about cursor_field for the catalog's own (the source's) cursor")
	}
}
