package parquet

// The DuckDB queries of docs/parquet.md, taken from the document itself and
// run against a folder holding two runs, give the numbers of the data as it
// is now: each transaction once in its latest version, deleted and replaced
// rows gone, each account once. A folder with one run cannot tell a query
// that reads every file from one that reads the current rows; with two it
// can: the second run writes the rows of its lookback window again, the
// tombstones of the rows Pluggy deleted or replaced, and a second copy of
// every full-refresh stream (which once doubled the "accounts joined to
// their transactions" sums and counted installments 1.7 times).
//
// Skipped, like the other DuckDB tests, unless DUCKDB_NODE_MODULES names a
// node_modules directory holding @duckdb/node-api (see duckdb_test.go).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// docSQL is one statement of an sql block of docs/parquet.md.
type docSQL struct {
	section string // the "## " heading it is under
	text    string
}

// docsSQL returns every statement of every ```sql block of docs/parquet.md.
func docsSQL(t *testing.T) []docSQL {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sourcetest.RepoRoot(), "docs", "parquet.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []docSQL
	section, in := "", false
	var block strings.Builder
	for line := range strings.SplitSeq(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case in && trimmed == "```":
			in = false
			if strings.TrimSpace(stripSQLComments(block.String())) != "" {
				out = append(out, docSQL{section, strings.TrimSpace(block.String())})
			}
			block.Reset()
		case in:
			// A statement ends with a line whose code (before any --
			// comment) ends with a semicolon.
			if code := strings.TrimSpace(stripSQLComments(line)); strings.HasSuffix(code, ";") {
				block.WriteString(strings.TrimSuffix(strings.TrimRight(line, " \t"), ";") + "\n")
				if strings.TrimSpace(stripSQLComments(block.String())) != "" {
					out = append(out, docSQL{section, strings.TrimSpace(block.String())})
				}
				block.Reset()
				continue
			}
			block.WriteString(line + "\n")
		case trimmed == "```sql":
			in = true
		case strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		}
	}
	return out
}

var sqlComment = regexp.MustCompile(`--[^\n]*`)

func stripSQLComments(s string) string { return sqlComment.ReplaceAllString(s, "") }

const duckdbStatementsScript = `
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const out = [];
  for (const sql of JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'))) {
    try {
      const r = await con.runAndReadAll(sql);
      out.push({ columns: r.columnNames(), rows: r.getRowsJson() });
    } catch (e) {
      out.push({ error: String(e.message || e) });
    }
  }
  process.stdout.write(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
`

type duckStatement struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	Error   string   `json:"error"`
}

// duckdbStatements runs the statements one after another in one DuckDB
// connection (so a macro one defines is there for the next).
func duckdbStatements(t *testing.T, modules string, stmts []string) []duckStatement {
	t.Helper()
	dir := t.TempDir()
	script, input := filepath.Join(dir, "q.cjs"), filepath.Join(dir, "q.json")
	in, _ := json.Marshal(stmts)
	if err := os.WriteFile(script, []byte(duckdbStatementsScript), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(input, in, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, input)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, stderr.String())
	}
	var res []duckStatement
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(stmts) {
		t.Fatalf("duckdb output (%d results for %d statements): %v\n%s", len(res), len(stmts), err, out)
	}
	return res
}

// docTxn is what the checks need of a transaction record.
type docTxn struct {
	ID, AccountID, Date, Type string
	Category                  *string
	Amount                    json.Number
	AmountInAccountCurrency   *json.Number
	Deleted                   *string `json:"_ab_cdc_deleted_at"`
	CreditCardMetadata        *struct {
		TotalInstallments int
		BillForecastDate  *string
	}
}

func TestDocsDuckDBQueriesOverTwoRuns(t *testing.T) {
	modules := duckdbModules(t)
	if modules == "" {
		t.Skip()
	}
	stmts := docsSQL(t)
	r := newFakeRun(t, fake.Options{Items: 2, AccountsPerItem: 3, TransactionsPerAccount: 150, PageSize: 100})
	dir := t.TempDir()

	// Two runs into one folder, the bank's data changing in between: new
	// rows, in-place updates, deletions, pending rows booked under a new id,
	// a card bill closed (its rows restated under new ids).
	first := runEnv(t, nil, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir)
	if first.Code != 0 {
		t.Fatalf("first read exited %d\n%s", first.Code, first.Stderr)
	}
	r.server.AddNew(6)
	r.server.UpdateInPlace(6)
	r.server.Delete(4)
	r.server.PostPending(3)
	r.server.CloseBill()
	second := runEnv(t, nil, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--state", first.StateFile(t), "--parquet-dir", dir)
	if second.Code != 0 {
		t.Fatalf("second read exited %d\n%s", second.Code, second.Stderr)
	}

	// The truth: each transaction's last record of the two runs, deleted
	// ones dropped; it must be exactly what the fake holds now.
	latest := map[string]docTxn{}
	written := 0
	for _, res := range []*sourcetest.Result{first, second} {
		for _, raw := range res.Records()["transactions"] {
			var tx docTxn
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&tx); err != nil {
				t.Fatal(err)
			}
			latest[tx.ID] = tx
			written++
		}
	}
	var live []docTxn
	for _, tx := range latest {
		if tx.Deleted == nil {
			live = append(live, tx)
		}
	}
	count, ids, cents := r.server.TransactionSummary()
	var liveCents int64
	for _, tx := range live {
		if _, ok := ids[tx.ID]; !ok {
			t.Errorf("transaction %s is live in the records but not in the fake", tx.ID)
		}
		liveCents += docCents(t, string(tx.Amount))
	}
	if len(live) != count || liveCents != cents {
		t.Fatalf("the two runs' records hold %d live transactions adding up to %d cents; the fake holds %d, %d cents", len(live), liveCents, count, cents)
	}
	if written <= len(live) || len(latest) == len(live) {
		t.Fatalf("the two runs wrote %d transaction rows for %d ids, %d live: the second run re-read or deleted nothing, so the test cannot tell the queries apart", written, len(latest), len(live))
	}
	accounts := map[string][2]string{} // id: name, type (the newest run's)
	for _, raw := range second.Records()["accounts"] {
		var a struct{ ID, Name, Type string }
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		accounts[a.ID] = [2]string{a.Name, a.Type}
	}
	investments := second.Records()["investments"]
	t.Logf("two runs wrote %d transaction rows of %d ids, %d live; %d account rows, %d in the newest run",
		written, len(latest), len(live), len(first.Records()["accounts"])+len(second.Records()["accounts"]), len(accounts))

	// Every query that reads the files must go through the de-duplication
	// or the newest run; the macros (create ...) define them.
	reads := regexp.MustCompile(`read_parquet\(|parquet_kv_metadata\(`)
	var setup, queries []string
	var sections []string
	for _, s := range stmts {
		q := strings.ReplaceAll(s.text, "'warehouse/", "'"+dir+"/")
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(stripSQLComments(s.text))), "create") {
			setup = append(setup, q)
			continue
		}
		if reads.MatchString(s.text) {
			dedup := strings.Contains(s.text, "row_number()") && strings.Contains(s.text, "_ab_cdc_deleted_at")
			newest := strings.Contains(s.text, "source_pluggy.run_started_at")
			if !dedup && !newest {
				t.Errorf("docs/parquet.md, %q: a query reads the files as they are, every run's rows counted, instead of the current rows (latest()/snapshot()):\n%s", s.section, s.text)
			}
		}
		// The full-refresh reference query is written for a GoCardless
		// stream; the fake Pluggy's accounts are one too.
		queries = append(queries, strings.ReplaceAll(q, "pending_transactions", "accounts"))
		sections = append(sections, s.section)
	}
	results := duckdbStatements(t, modules, append(slices.Clone(setup), queries...))
	for i, res := range results[:len(setup)] {
		if res.Error != "" {
			t.Fatalf("docs/parquet.md: %s\n%s", res.Error, setup[i])
		}
	}
	results = results[len(setup):]

	checked := map[string]bool{}
	for i, res := range results {
		if res.Error != "" {
			t.Errorf("docs/parquet.md, %q: %s\n%s", sections[i], res.Error, queries[i])
			continue
		}
		cols := strings.Join(res.Columns, ",")
		switch cols {
		case "month,category,spent,transactions":
			want := map[string]*docSum{}
			for _, tx := range live {
				if tx.Type != "DEBIT" {
					continue
				}
				cat := "Uncategorized"
				if tx.Category != nil {
					cat = *tx.Category
				}
				amount := tx.Amount
				if tx.AmountInAccountCurrency != nil {
					amount = *tx.AmountInAccountCurrency
				}
				v := docRat(t, string(amount))
				docAdd(want, docMonth(t, tx.Date)+" "+cat, v.Abs(v))
			}
			checkReport(t, "spending by category per month", res, want, func(row []any) string { return docStr(row[0]) + " " + docStr(row[1]) }, 2, 3)
		case "bill_month,installments,total":
			want := map[string]*docSum{}
			for _, tx := range live {
				if c := tx.CreditCardMetadata; c != nil && c.TotalInstallments > 1 {
					month := ""
					if c.BillForecastDate != nil {
						if p, ok := referenceLenient(*c.BillForecastDate).(string); ok {
							month = strings.TrimPrefix(p, "ts:")[:7]
						}
					}
					docAdd(want, month, docRat(t, string(tx.Amount)))
				}
			}
			checkReport(t, "installments by bill", res, want, func(row []any) string { return docStr(row[0]) }, 2, 1)
		case "name,type,transactions,net":
			want := map[string]*docSum{}
			for _, tx := range live {
				a, ok := accounts[tx.AccountID]
				if !ok {
					t.Fatalf("transaction %s: account %s is not in the newest accounts snapshot", tx.ID, tx.AccountID)
				}
				docAdd(want, a[0]+" "+a[1], docRat(t, string(tx.Amount)))
			}
			checkReport(t, "accounts joined to their transactions", res, want, func(row []any) string { return docStr(row[0]) + " " + docStr(row[1]) }, 3, 2)
		case "id,amount_original,brand_new_field":
			if len(res.Rows) != len(investments) {
				t.Errorf("leftovers of investments: %d rows, the newest run has %d investments", len(res.Rows), len(investments))
			}
		default:
			if strings.Contains(queries[i], "run_started_at") {
				// The full-refresh reference query, on accounts.
				if len(res.Rows) != len(accounts) {
					t.Errorf("docs/parquet.md, %q: the newest snapshot has %d rows, want the newest run's %d accounts", sections[i], len(res.Rows), len(accounts))
				}
				cols = "snapshot"
			}
		}
		checked[cols] = true
		t.Logf("%s: %d rows", cols, len(res.Rows))
	}
	for _, want := range []string{"month,category,spent,transactions", "bill_month,installments,total", "name,type,transactions,net", "id,amount_original,brand_new_field", "snapshot"} {
		if !checked[want] {
			t.Errorf("docs/parquet.md has no query answering %s (renamed? then update this test)", want)
		}
	}
}

type docSum struct {
	sum   *big.Rat
	count int
}

func docAdd(m map[string]*docSum, key string, v *big.Rat) {
	if m[key] == nil {
		m[key] = &docSum{sum: new(big.Rat)}
	}
	m[key].sum.Add(m[key].sum, v)
	m[key].count++
}

// checkReport compares a grouped report with want, by the key key makes of
// a row, the row's sum in column sumCol and its count in countCol.
func checkReport(t *testing.T, name string, res duckStatement, want map[string]*docSum, key func([]any) string, sumCol, countCol int) {
	t.Helper()
	rows, wantRows, got, wantTotal := 0, 0, new(big.Rat), new(big.Rat)
	for _, w := range want {
		wantRows += w.count
		wantTotal.Add(wantTotal, w.sum)
	}
	for _, row := range res.Rows {
		k := key(row)
		n := 0
		fmt.Sscan(docStr(row[countCol]), &n)
		rows += n
		s := docRat(t, docStr(row[sumCol]))
		got.Add(got, s)
		w := want[k]
		if w == nil || n != w.count || s.Cmp(w.sum) != 0 {
			exp := "no such row"
			if w != nil {
				exp = fmt.Sprintf("%d rows adding up to %s", w.count, w.sum.FloatString(4))
			}
			t.Errorf("%s: row %q says %d rows adding up to %s; the current data has %s", name, k, n, s.FloatString(4), exp)
		}
	}
	if len(res.Rows) != len(want) {
		t.Errorf("%s: %d groups, the current data has %d", name, len(res.Rows), len(want))
	}
	t.Logf("%s: DuckDB counted %d rows adding up to %s; the current data has %d adding up to %s", name, rows, got.FloatString(4), wantRows, wantTotal.FloatString(4))
}

func docStr(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case float64: // BIGINTs may come as numbers or strings
		return big.NewFloat(v).Text('f', 0)
	default:
		return fmt.Sprint(v)
	}
}

func docRat(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("not a decimal: %q", s)
	}
	return r
}

func docCents(t *testing.T, s string) int64 {
	t.Helper()
	r := docRat(t, s)
	r.Mul(r, big.NewRat(100, 1))
	if !r.IsInt() {
		t.Fatalf("amount %s is not whole cents", s)
	}
	return r.Num().Int64()
}

func docMonth(t *testing.T, s string) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UTC().Format("2006-01")
}
