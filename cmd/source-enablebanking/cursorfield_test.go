package main

import (
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
	r := e.read(st.EditCatalog(t, path, func(cat *protocol.ConfiguredCatalog) { cat.Streams[0].CursorField = []string{"value_date"} }))
	if !r.Warned(`catalog.streams[0].cursor_field "value_date" is ignored: stream "transactions" keeps its own cursor`, "remove cursor_field") {
		t.Errorf("no WARN that the catalog's cursor_field is ignored:\n%s", r.Stdout)
	}
	if r := e.read(path); r.Warned("is ignored: stream") {
		t.Error("a WARN about cursor_field for the catalog's own (the source's) cursor")
	}
}

// TestCatalogNamespaceIgnoredIsSaid: a configured stream with a namespace
// (discover gives none) is read by its name, and a WARN says its records
// carry no namespace, where nothing did.
func TestCatalogNamespaceIgnoredIsSaid(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 5})
	path := e.catalog(true, "transactions")
	r := e.read(st.EditCatalog(t, path, func(cat *protocol.ConfiguredCatalog) { cat.Streams[0].Stream.Namespace = "bank" }))
	if !r.Warned(`catalog.streams[0].stream.namespace "bank" is ignored: this source's streams have no namespace`, "set the namespace in the destination") {
		t.Errorf("no WARN that the catalog's namespace is ignored:\n%s", r.Stdout)
	}
	if len(r.Records()["transactions"]) == 0 {
		t.Error("the stream with a namespace was not read")
	}
	for _, m := range r.OfType(protocol.TypeRecord) {
		if m.Record.Namespace != "" {
			t.Fatalf("a record carries namespace %q", m.Record.Namespace)
		}
	}
	if r := e.read(path); r.Warned("namespace") {
		t.Error("a WARN about a namespace for a catalog without one")
	}
}

// TestCatalogPrimaryKeyNotTheStreamsIsSaid: a hand-made catalog giving a
// stream another primary_key than its own (the destination dedups on it;
// this source and its sinks key rows by their own) got no word; the same
// key in another order is the same key.
func TestCatalogPrimaryKeyNotTheStreamsIsSaid(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 5})
	path := e.catalog(true, "transactions")
	r := e.read(st.EditCatalog(t, path, func(cat *protocol.ConfiguredCatalog) {
		cat.Streams[0].PrimaryKey = [][]string{{"value_date"}}
	}))
	if !r.Warned(`catalog.streams[0].primary_key [["value_date"]] is not stream "transactions"'s key, [["account_key"],["transaction_key"]] (set by the source)`, "remove primary_key") {
		t.Errorf("no WARN that the catalog's primary_key is not the stream's:\n%s", r.Stdout)
	}
	if len(r.Records()["transactions"]) == 0 {
		t.Error("the stream was not read")
	}
	r = e.read(st.EditCatalog(t, path, func(cat *protocol.ConfiguredCatalog) {
		cat.Streams[0].PrimaryKey = [][]string{{"transaction_key"}, {"account_key"}}
	}))
	if r.Warned("primary_key") {
		t.Errorf("a WARN about the stream's own key in another order:\n%s", r.Stdout)
	}
}
