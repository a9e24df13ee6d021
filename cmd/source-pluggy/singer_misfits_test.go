package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestSingerMisfitsKeptInLeftovers: values the schemas do not expect, as
// the real API sends them (the fake's Misfits: a transaction's
// creditCardMetadata an array where the schema says object, its order a
// string where it says integer; investments with more decimals and a
// metadata member the schema lacks) and a field no schema declares, reach a
// Singer target as records that validate against their SCHEMA, as a
// Meltano SDK target checks each before loading it (and stops the load at
// the first that fails): each misfit is moved into the record's _leftovers
// as sent, with one WARNING per field. Values that fit stay in place.
func TestSingerMisfitsKeptInLeftovers(t *testing.T) {
	var mu sync.Mutex
	served := map[string]map[string]string{} // transaction id → field → value as sent
	record := func(h http.Handler) http.Handler {
		return st.Rewrite(h, func(r *http.Request) bool { return r.URL.Path == "/v2/transactions" }, func(b []byte) []byte {
			var page struct {
				Results []map[string]json.RawMessage `json:"results"`
			}
			if json.Unmarshal(b, &page) == nil {
				mu.Lock()
				for _, row := range page.Results {
					var id string
					_ = json.Unmarshal(row["id"], &id)
					served[id] = map[string]string{}
					for _, f := range []string{"creditCardMetadata", "order", "brandNewField"} {
						served[id][f] = string(st.Canonical(t, row[f]))
					}
				}
				mu.Unlock()
			}
			return b
		})
	}
	e := newHostileEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 30}, fake.Hostile{Misfits: true, ExtraField: "brandNewField"}, record)
	out, stderr, code := st.Exec(t, tapBin(t), "--config", e.config(nil))
	if code != 0 {
		t.Fatalf("the sync exited %d:\n%s", code, stderr)
	}
	records := st.SingerRecords(t, out)
	txns := records["transactions"]
	if len(txns) == 0 || len(txns) != len(served) {
		t.Fatalf("%d transactions, the fake served %d", len(txns), len(served))
	}
	for _, field := range []string{"creditCardMetadata", "order", "brandNewField"} {
		kept, inPlace := st.SingerLeftovers(t, txns, field)
		if len(kept) != len(txns) || inPlace != 0 {
			t.Errorf("%s: %d records keep it in _leftovers, %d in place; want all %d in _leftovers", field, len(kept), inPlace, len(txns))
		}
		var want []string
		for _, row := range served {
			want = append(want, row[field])
		}
		slices.Sort(kept)
		slices.Sort(want)
		if !slices.Equal(kept, want) {
			t.Errorf("%s in _leftovers is not what the fake sent", field)
		}
	}
	for _, field := range []string{"creditCardMetadata", "order"} {
		if n := strings.Count(string(stderr), "WARNING stream 'transactions': field \""+field+"\" is declared "); n != 1 {
			t.Errorf("%d WARNINGs name transactions' %s, want 1:\n%s", n, field, stderr)
		}
	}
	if !strings.Contains(string(stderr), `field "order" is declared integer or null in the stream's schema, but in a record it is a string`) {
		t.Errorf("the WARNING about order does not say what came:\n%s", stderr)
	}
	// An investment's amountOriginal of 14 decimals and a metadata object
	// with a member the schema lacks fit: they stay in place.
	for _, field := range []string{"amountOriginal", "metadata"} {
		if _, inPlace := st.SingerLeftovers(t, records["investments"], field); inPlace == 0 || inPlace != len(records["investments"]) {
			t.Errorf("investments' %s: %d of %d records keep it in place", field, inPlace, len(records["investments"]))
		}
	}
}
