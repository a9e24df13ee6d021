package main

import (
	"encoding/json"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// holdingMoney are the numbers of an investment that Pluggy computes
// (pluggy-api.md §12: amountOriginal = quantity × unit price, all
// "number, format double" with no scale limit).
var holdingMoney = []string{"value", "quantity", "amount", "balance", "amountOriginal", "amountProfit", "amountWithdrawal", "taxes", "taxes2"}

// TestPreciseInvestmentHoldingsAreKept: the investments themselves carry
// money with more than four decimals (pluggy-api.md §12, the recorded
// Nubank CDB: "value": 0.010186, "quantity": 126680.3034, "amount":
// 1290.45, "amountOriginal": 1266.803034; fund quotas with ten places and
// amounts with the thirteen places of a computed double). Every digit
// reaches the JSON records as served; with --parquet-dir a value that fits
// DECIMAL(38,12) is exact in its column and one with a thirteenth place is
// null there and verbatim in _leftovers; with --postgres the unconstrained
// numeric columns hold every digit. Nothing is rounded.
func TestPreciseInvestmentHoldingsAreKept(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5, PreciseInvestmentMoney: true})
	var page struct{ Results []map[string]json.RawMessage }
	e.apiGet("/investments?itemId="+e.fake.ItemIDs()[0], &page)
	served := map[string]map[string]string{} // id -> field -> number text
	scales := map[int]int{}
	for _, inv := range page.Results {
		var id string
		st.Must(t, json.Unmarshal(inv["id"], &id), "investment id")
		served[id] = map[string]string{}
		for _, f := range holdingMoney {
			if v := string(inv[f]); v != "" && v != "null" {
				served[id][f] = v
				scales[scaleOf(v)]++
			}
		}
	}
	recorded := false
	for _, m := range served {
		recorded = recorded || (m["value"] == "0.010186" && m["quantity"] == "126680.3034" && m["amount"] == "1290.45" && m["amountOriginal"] == "1266.803034")
	}
	if !recorded || scales[10] == 0 || scales[13] == 0 || scales[2] == 0 {
		t.Fatalf("the fake serves no recorded CDB (%v) or not every scale: %v", recorded, scales)
	}

	dir := t.TempDir()
	r := e.read(e.catalog(false, "investments"), "--parquet-dir", dir)
	recs := r.Records()["investments"]
	if len(recs) != len(served) {
		t.Fatalf("%d investments emitted, %d served", len(recs), len(served))
	}
	for _, raw := range recs {
		var x map[string]json.RawMessage
		st.Must(t, json.Unmarshal(raw, &x), "investment")
		var id string
		st.Must(t, json.Unmarshal(x["id"], &id), "investment id")
		for f, want := range served[id] {
			if got := string(x[f]); got != want {
				t.Errorf("investment %s %s: %s emitted, %s served", id, f, got, want)
			}
		}
	}

	for _, r := range leftoverRows(t, dir, "investments", len(served)) {
		row, left := r.row, r.left
		id, _ := row["id"].(string)
		for col, want := range served[id] {
			exact, _ := new(big.Rat).SetString(want)
			typed, _ := row[col].(*big.Rat)
			switch {
			case scaleOf(want) <= 12:
				if typed == nil || typed.Cmp(exact) != 0 || left[col] != nil {
					t.Errorf("Parquet investment %s %s: column %v, leftover %s; served %s, which fits DECIMAL(38,12)", id, col, typed, left[col], want)
				}
			case typed != nil || string(left[col]) != want:
				t.Errorf("Parquet investment %s %s: column %v, leftover %s; served %s, which must be kept verbatim in _leftovers", id, col, typed, left[col], want)
			}
		}
	}

	t.Run("postgres", func(t *testing.T) {
		url := pgtest.DB(t)
		e.read(e.catalog(false, "investments"), "--postgres", url)
		conn := pgtest.Connect(t, url)
		cols := make([]string, len(holdingMoney))
		for i, f := range holdingMoney {
			cols[i] = `coalesce("` + f + `"::text, 'null')`
		}
		got := pgRows(t, conn, `SELECT id, coalesce(_leftovers::text, '{}'), `+strings.Join(cols, ", ")+` FROM pluggy.investments`)
		if len(got) != len(served) {
			t.Fatalf("%d rows in pluggy.investments, %d investments served", len(got), len(served))
		}
		for _, line := range got {
			v := strings.Split(line, "|")
			id, left := v[0], v[1]
			for i, f := range holdingMoney {
				want, ok := served[id][f]
				if !ok {
					continue
				}
				if v[2+i] != want || strings.Contains(left, `"`+f+`"`) {
					t.Errorf("PostgreSQL investment %s %s: column %s, _leftovers %s; served %s, every digit in the numeric column", id, f, v[2+i], left, want)
				}
			}
		}
	})
}

// TestLegacyInvestmentTransactionsAreKept: Pluggy embeds each investment's
// movements in its "transactions" member for applications created before
// 2023-03-20 (pluggy-api.md §6; null for newer ones), with members the
// schema's item does not list (movementType, netAmount, expenses, ...).
// The investments stream emits the list as served; with --parquet-dir the
// typed column keeps what it knows and _leftovers the whole list verbatim;
// with --postgres the jsonb column holds it whole.
func TestLegacyInvestmentTransactionsAreKept(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5, LegacyInvestmentTransactions: true})
	var page struct{ Results []map[string]json.RawMessage }
	e.apiGet("/investments?itemId="+e.fake.ItemIDs()[0], &page)
	served := map[string]string{} // investment id -> its "transactions", compacted
	for _, inv := range page.Results {
		var id string
		st.Must(t, json.Unmarshal(inv["id"], &id), "investment id")
		var list []json.RawMessage
		if json.Unmarshal(inv["transactions"], &list) != nil || len(list) == 0 {
			t.Fatalf("investment %s: the fake embedded no movements: %s", id, inv["transactions"])
		}
		served[id] = compact(t, inv["transactions"])
	}

	dir := t.TempDir()
	r := e.read(e.catalog(false, "investments"), "--parquet-dir", dir)
	recs := r.Records()["investments"]
	if len(recs) != len(served) {
		t.Fatalf("%d investments emitted, %d served", len(recs), len(served))
	}
	for _, raw := range recs {
		var x struct {
			ID           string
			Transactions json.RawMessage
		}
		st.Must(t, json.Unmarshal(raw, &x), "investment")
		if got := compact(t, x.Transactions); got != served[x.ID] {
			t.Errorf("investment %s: transactions emitted as %s, served %s", x.ID, got, served[x.ID])
		}
	}

	for _, r := range leftoverRows(t, dir, "investments", len(served)) {
		id, _ := r.row["id"].(string)
		if list := r.left["transactions"]; list == nil || compact(t, list) != served[id] {
			t.Errorf("Parquet investment %s: _leftovers.transactions %s; served %s, whose members the schema lacks", id, list, served[id])
		}
	}

	t.Run("postgres", func(t *testing.T) {
		url := pgtest.DB(t)
		e.read(e.catalog(false, "investments"), "--postgres", url)
		conn := pgtest.Connect(t, url)
		got := pgRows(t, conn, `SELECT id, coalesce(transactions::text, 'null') FROM pluggy.investments`)
		if len(got) != len(served) {
			t.Fatalf("%d rows in pluggy.investments, %d investments served", len(got), len(served))
		}
		for _, line := range got {
			id, list, _ := strings.Cut(line, "|")
			if !sameJSON(t, json.RawMessage(list), json.RawMessage(served[id])) { // jsonb orders members its own way
				t.Errorf("PostgreSQL investment %s: transactions %s; served %s", id, list, served[id])
			}
		}
	})
}

// leftoverRow is a Parquet row read back, with its _leftovers decoded (nil
// when the row has none).
type leftoverRow struct {
	row  map[string]any
	left map[string]json.RawMessage
}

// leftoverRows reads back every row of a stream's Parquet files under dir,
// which must hold want rows.
func leftoverRows(t *testing.T, dir, stream string, want int) []leftoverRow {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, stream, "*.parquet"))
	st.Must(t, err, "glob")
	var out []leftoverRow
	for _, f := range files {
		for _, row := range parquetRows(t, f) {
			r := leftoverRow{row: row}
			if text, _ := row["_leftovers"].(string); text != "" {
				st.Must(t, json.Unmarshal([]byte(text), &r.left), "_leftovers")
			}
			out = append(out, r)
		}
	}
	if len(out) != want {
		t.Fatalf("%d Parquet rows of %s, %d served", len(out), stream, want)
	}
	return out
}
