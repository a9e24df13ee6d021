package parquet

// DuckDB reads the files of a real run and its answers, including the
// report in docs/parquet.md, equal what the JSON records of the same run say.
//
// DuckDB is not a Go dependency: the test drives the npm package
// @duckdb/node-api (which ships DuckDB's binary) with node, and is skipped
// unless DUCKDB_NODE_MODULES names a node_modules directory holding it:
//
//	npm install --prefix /tmp/duckdb @duckdb/node-api
//	DUCKDB_NODE_MODULES=/tmp/duckdb/node_modules go test ./connector/sink/parquet -run DuckDB -v

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
)

// ReadmeSpendingQuery is docs/parquet.md's "spending by category per month"
// report with its latest() macro written out (docs_queries_test.go runs the
// document's own text, over two runs); %s is the directory given to
// --parquet-dir.
const readmeSpendingQuery = `
with transactions as (
  -- every file of every run; a row read again later replaces the earlier one
  select * from read_parquet('%s/transactions/*.parquet', filename = true, file_row_number = true)
  qualify row_number() over (partition by id order by filename desc, file_row_number desc) = 1
)
select strftime(date at time zone 'UTC', '%%Y-%%m') as month,
       coalesce(category, 'Uncategorized') as category,
       sum(abs(coalesce(amountInAccountCurrency, amount))) as spent,
       count(*) as transactions
from transactions
where type = 'DEBIT' and _ab_cdc_deleted_at is null
group by all
order by month, spent desc`

type duckResult struct {
	Version string   `json:"version"`
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// duckdb runs one query (through duckdbStatements, with DuckDB's version
// asked first) and fails the test if DuckDB refuses it.
func duckdb(t *testing.T, modules, sql string) duckResult {
	t.Helper()
	res := duckdbStatements(t, modules, []string{"select version()", sql})
	for _, r := range res {
		if r.Error != "" {
			t.Fatalf("duckdb: %s\n%s", r.Error, sql)
		}
	}
	return duckResult{Version: fmt.Sprint(res[0].Rows[0][0]), Columns: res[1].Columns, Rows: res[1].Rows}
}

// duckdbModules returns DUCKDB_NODE_MODULES where DuckDB can run (the
// variable set and node installed), and "" after logging why not.
func duckdbModules(t testing.TB) string {
	t.Helper()
	modules := os.Getenv("DUCKDB_NODE_MODULES")
	if modules == "" {
		t.Log("DuckDB skipped: DUCKDB_NODE_MODULES is not set (see the top of duckdb_test.go)")
		return ""
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Log("DuckDB skipped: no node")
		return ""
	}
	return modules
}

func TestDuckDBReadsTheFiles(t *testing.T) {
	modules := duckdbModules(t)
	if modules == "" {
		t.Skip()
	}
	r := newFakeRun(t, fake.Options{Items: 2, AccountsPerItem: 3, TransactionsPerAccount: 800, PageSize: 200})
	dir := t.TempDir()
	res := runEnv(t, []string{RowsPerFileEnv + "=1000"}, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir)
	if res.Code != 0 {
		t.Fatalf("read exited %d\n%s", res.Code, res.Stderr)
	}
	records := res.Records()["transactions"]

	// Row by row: id, exact amount, timestamp instant, a nested lenient
	// time's parsed column, nulls.
	q := duckdb(t, modules, `select id, amount::varchar, epoch_us(date), epoch_us(createdAt), category,
		creditCardMetadata.purchaseDate, epoch_us(creditCardMetadata.purchaseDate_parsed), paymentData.payer.documentNumber.value
		from read_parquet('`+dir+`/transactions/*.parquet') order by filename, file_row_number`)
	t.Logf("DuckDB %s read %d transactions from %d files", q.Version, len(q.Rows), len(streamFiles(t, filepath.Join(dir, "transactions"))))
	if len(q.Rows) != len(records) {
		t.Fatalf("DuckDB read %d transactions, the run printed %d", len(q.Rows), len(records))
	}
	for i, raw := range records {
		var rec struct {
			ID, Date, CreatedAt string
			Amount              json.Number
			Category            *string
			CreditCardMetadata  *struct{ PurchaseDate *string }
			PaymentData         *struct {
				Payer *struct{ DocumentNumber *struct{ Value *string } }
			}
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		us := func(s string) any {
			tm, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				t.Fatal(err)
			}
			return big.NewInt(tm.UnixMicro()).String()
		}
		var purchase, purchaseParsed, doc any
		if rec.CreditCardMetadata != nil && rec.CreditCardMetadata.PurchaseDate != nil {
			purchase = *rec.CreditCardMetadata.PurchaseDate
			if p := referenceLenient(*rec.CreditCardMetadata.PurchaseDate); p != nil {
				tm, _ := time.Parse("2006-01-02T15:04:05.000000Z", strings.TrimPrefix(p.(string), "ts:"))
				purchaseParsed = big.NewInt(tm.UnixMicro()).String()
			}
		}
		if p := rec.PaymentData; p != nil && p.Payer != nil && p.Payer.DocumentNumber != nil && p.Payer.DocumentNumber.Value != nil {
			doc = *p.Payer.DocumentNumber.Value
		}
		var category any
		if rec.Category != nil {
			category = *rec.Category
		}
		want := []any{rec.ID, decString(t, string(rec.Amount)), us(rec.Date), us(rec.CreatedAt), category, purchase, purchaseParsed, doc}
		got := q.Rows[i]
		if got[1] != nil {
			got[1] = decString(t, got[1].(string))
		}
		for j := range got {
			if n, ok := got[j].(float64); ok { // BIGINTs may come as numbers or strings
				got[j] = big.NewFloat(n).Text('f', 0)
			}
		}
		if !equalValue(toAnySlice(got), want) {
			t.Errorf("transaction %d: DuckDB says %v, JSON says %v", i, got, want)
		}
	}

	// docs/parquet.md's report, against the same computed from the JSON.
	report := duckdb(t, modules, strings.ReplaceAll(sprintf(readmeSpendingQuery, dir), "\t", "  "))
	want := map[[2]string]*big.Rat{}
	count := map[[2]string]int{}
	for _, raw := range records {
		var rec struct {
			Date, Type                      string
			Category                        *string
			Amount, AmountInAccountCurrency *json.Number
			Deleted                         *string `json:"_ab_cdc_deleted_at"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		if rec.Type != "DEBIT" || rec.Deleted != nil {
			continue
		}
		tm, _ := time.Parse(time.RFC3339Nano, rec.Date)
		cat := "Uncategorized"
		if rec.Category != nil {
			cat = *rec.Category
		}
		amount := rec.Amount
		if rec.AmountInAccountCurrency != nil {
			amount = rec.AmountInAccountCurrency
		}
		v, _ := new(big.Rat).SetString(string(*amount))
		key := [2]string{tm.UTC().Format("2006-01"), cat}
		if want[key] == nil {
			want[key] = new(big.Rat)
		}
		want[key].Add(want[key], v.Abs(v))
		count[key]++
	}
	if len(report.Rows) != len(want) {
		t.Errorf("report has %d rows, want %d", len(report.Rows), len(want))
	}
	for _, row := range report.Rows {
		key := [2]string{row[0].(string), row[1].(string)}
		if want[key] == nil || decString(t, row[2].(string)) != canonDec(want[key]) || fmt.Sprint(row[3]) != fmt.Sprint(count[key]) {
			t.Errorf("report row %v: want spent %v over %d transactions", row, want[key], count[key])
		}
	}
	var months []string
	for k := range want {
		months = append(months, k[0])
	}
	sort.Strings(months)
	t.Logf("spending by category per month: %d rows over %s..%s, every sum exact", len(report.Rows), months[0], months[len(months)-1])
}

func decString(t *testing.T, s string) string {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("not a decimal: %q", s)
	}
	return canonDec(r)
}

func toAnySlice(v []any) []any { return v }

func sprintf(format, dir string) string {
	return strings.NewReplacer("%%", "%", "%s", dir).Replace(format)
}
