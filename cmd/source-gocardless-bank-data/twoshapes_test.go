package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestCurrencyExchangeBothShapesInEverySink: the fake sends currencyExchange
// as an array on some rows and as a single object on others, as live
// answers do. Every record validates against the discovered schema (which
// declares both), and Parquet's JSON-text column and PostgreSQL's jsonb
// column hold each value exactly, with nothing nulled, left over or noted.
func TestCurrencyExchangeBothShapesInEverySink(t *testing.T) {
	e := newEnv(t, fake.Options{})
	dir, url := t.TempDir(), pgtest.DB(t)
	r := e.read(e.catalog(true, "transactions"), "--parquet-dir", dir, "--postgres", url)

	want := map[string]string{} // account_id|transaction_key -> currencyExchange as sent
	shapes := map[byte]int{}
	for _, raw := range r.Records()["transactions"] {
		var x struct {
			AccountID string          `json:"account_id"`
			Key       string          `json:"transaction_key"`
			FX        json.RawMessage `json:"currencyExchange"`
		}
		st.Must(t, json.Unmarshal(raw, &x), "record")
		if len(x.FX) > 0 {
			want[x.AccountID+"|"+x.Key] = string(x.FX)
			shapes[x.FX[0]]++
		}
	}
	if shapes['['] == 0 || shapes['{'] == 0 {
		t.Fatalf("currencyExchange read as %d arrays and %d objects: the test needs both", shapes['['], shapes['{'])
	}

	seen := 0
	for _, row := range st.ParquetStrings(t, dir, "transactions", "account_id", "transaction_key", "currencyExchange", "_changes", "_leftovers") {
		w, ok := want[*row["account_id"]+"|"+*row["transaction_key"]]
		if !ok {
			continue
		}
		seen++
		if got := row["currencyExchange"]; got == nil || *got != w {
			t.Errorf("Parquet currencyExchange %v, want %s", got, w)
		}
		if row["_changes"] != nil {
			t.Errorf("Parquet _changes %s for a value its column holds", *row["_changes"])
		}
		if l := row["_leftovers"]; l != nil && strings.Contains(*l, "currencyExchange") {
			t.Errorf("Parquet _leftovers %s", *l)
		}
	}
	if seen != len(want) {
		t.Errorf("%d rows with currencyExchange in Parquet, %d read", seen, len(want))
	}

	conn := pgtest.Connect(t, url)
	for k, w := range want {
		account, key, _ := strings.Cut(k, "|")
		var same, noted, leftover bool
		err := conn.QueryRow(context.Background(), `SELECT "currencyExchange" = $3::jsonb, _changes IS NOT NULL, coalesce(_leftovers ? 'currencyExchange', false)
			FROM gocardless.transactions WHERE account_id = $1 AND transaction_key = $2`, account, key, w).Scan(&same, &noted, &leftover)
		st.Must(t, err, "transaction "+k)
		if !same || noted || leftover {
			t.Errorf("PostgreSQL row %s: currencyExchange equal %v, _changes set %v, in _leftovers %v (sent %s)", k, same, noted, leftover, w)
		}
	}
}
