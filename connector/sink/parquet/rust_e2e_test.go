package parquet

// Every provider's binary, against its fake in the real-world variant
// modes, writes files that arrow-rs and polars (rust_test.go) read value
// for value as the JSON records of the same run say, key-value metadata
// included; polars' row-group pruning, which trusts the chunks'
// statistics, loses no row.

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking"
	ebfake "github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/gocardless"
	gcfake "github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// providerRun is one read of a provider's binary into dir.
type providerRun struct {
	provider string
	dir      string
	res      *sourcetest.Result
	schemas  map[string]json.RawMessage
}

// readProvider runs bin's read of every stream of src (incremental where
// it can be) with --parquet-dir.
func readProvider(t *testing.T, provider, bin string, src source.Source, cfg map[string]any) providerRun {
	t.Helper()
	catalog := sourcetest.CatalogFile(t, src, cfg, true)
	var configured protocol.ConfiguredCatalog
	raw, err := os.ReadFile(catalog)
	sourcetest.Must(t, err, "catalog")
	sourcetest.Must(t, json.Unmarshal(raw, &configured), "catalog")
	run := providerRun{provider: provider, dir: t.TempDir(), schemas: map[string]json.RawMessage{}}
	for _, s := range configured.Streams {
		run.schemas[s.Stream.Name] = s.Stream.JSONSchema
	}
	run.res = sourcetest.Run(t, bin, "read", "--config", sourcetest.ConfigFile(t, cfg, nil), "--catalog", catalog, "--parquet-dir", run.dir)
	sourcetest.Succeeded(t, run.res)
	return run
}

func TestRustReadersReadEveryProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	modules := rustModules(t)
	if modules == "" {
		t.Skip()
	}
	t.Run("pluggy", func(t *testing.T) {
		// Enough transactions for several row groups of 4 MiB, ids
		// in frames of literals, money of up to 13 places (the 13th
		// does not fit), unknown fields and values of the wrong shape.
		r := newHostileRun(t, fake.Options{
			Items: 2, AccountsPerItem: 3, TransactionsPerAccount: 1500, PageSize: 500, Loans: 2,
			PreciseInvestmentMoney: true, PostedWithoutStatus: true,
			InvestmentIDNull: true, LegacyCheckingSubtype: true, StatusDetailSDKSpelling: true,
		}, &fake.Hostile{ExtraField: "brandNewField"})
		dir := t.TempDir()
		res := runEnv(t, nil, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir)
		sourcetest.Succeeded(t, res)
		schemas := map[string]json.RawMessage{}
		for name, s := range r.streams {
			schemas[name] = s.JSONSchema
		}
		checkRustRun(t, modules, providerRun{provider: "pluggy", dir: dir, res: res, schemas: schemas})
	})
	t.Run("pluggy misfits", func(t *testing.T) {
		r := newHostileRun(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 300, PageSize: 100, TransactionTimesWithoutZone: true},
			&fake.Hostile{Misfits: true, ExtraField: "brandNewField"})
		dir := t.TempDir()
		res := runEnv(t, nil, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir)
		sourcetest.Succeeded(t, res)
		schemas := map[string]json.RawMessage{}
		for name, s := range r.streams {
			schemas[name] = s.JSONSchema
		}
		checkRustRun(t, modules, providerRun{provider: "pluggy", dir: dir, res: res, schemas: schemas})
	})
	t.Run("gocardless", func(t *testing.T) {
		f := gcfake.New(gcfake.Options{Requisitions: 3, TransactionsPerAccount: 800, Misfits: true, InformationBalance: true, NoInternalIDs: true})
		srv := httptest.NewServer(f.Handler())
		t.Cleanup(srv.Close)
		cfg := map[string]any{
			"secret_id": f.SecretID(), "secret_key": f.SecretKey(), "requisition_ids": f.RequisitionIDs(),
			"base_url": srv.URL + "/api/v2", "start_date": "2000-01-01", "lookback_days": 7,
		}
		checkRustRun(t, modules, readProvider(t, "gocardless", sourcetest.Build(t, "source-gocardless-bank-data"), gocardless.Source{}, cfg))
	})
	t.Run("enablebanking", func(t *testing.T) {
		f := ebfake.New(ebfake.Options{Sessions: 2, AccountsPerSession: 2, TransactionsPerAccount: 800, PageSize: 200,
			PendingStatuses: []string{"PDNG", "HOLD", "SCHD", "CNCL", "RJCT", "OTHR", "XXXX"}, Order: "shuffled"})
		srv := httptest.NewServer(f.Handler())
		t.Cleanup(srv.Close)
		cfg := map[string]any{
			"application_id": f.ApplicationID(), "private_key": f.PrivateKeyPEM(), "session_ids": f.SessionIDs(),
			"base_url": srv.URL, "start_date": "2000-01-01", "lookback_days": 7, "include_pending": true,
		}
		checkRustRun(t, modules, readProvider(t, "enablebanking", sourcetest.Build(t, "source-enablebanking"), enablebanking.Source{}, cfg))
	})
}

// checkRustRun checks every file of run with every reader: arrow-go and
// xitongsys, then arrow-rs and polars, against the run's JSON records, and
// polars' filters on each file's top-level columns (polarsFilters).
func checkRustRun(t *testing.T, modules string, run providerRun) {
	t.Helper()
	records := run.res.Records()
	names := make([]string, 0, len(run.schemas))
	for name := range run.schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	var total, changed, groups int
	var all []string
	files, want := map[string][]string{}, map[string][]map[string]any{}
	filters := map[string][]polarsFilter{}
	for _, name := range names {
		paths := streamFiles(t, filepath.Join(run.dir, name))
		if len(records[name]) == 0 {
			continue
		}
		var arrowRows []map[string]any
		for _, f := range paths {
			arrowRows = append(arrowRows, readArrow(t, f)...)
			md := fileMeta(t, f)
			groups += md.NumRowGroups()
			if got := md.KeyValueMetadata().FindValue(MetaProvider); got == nil || *got != run.provider {
				t.Errorf("%s: metadata %s = %v, want %q", f, MetaProvider, got, run.provider)
			}
		}
		if len(arrowRows) != len(records[name]) {
			t.Fatalf("%s: %d rows in the files, %d records", name, len(arrowRows), len(records[name]))
		}
		w := expectRowsChanged(t, run.schemas[name], records[name], arrowRows)
		for _, row := range w {
			if row[columns.Changes] != nil {
				changed++
			}
		}
		var x []map[string]any
		for _, f := range paths {
			x = append(x, readXitongsys(t, f)...)
		}
		compareRows(t, name+": arrow", w, arrowRows)
		compareRows(t, name+": xitongsys", w, x)
		at := 0
		for _, f := range paths {
			n := int(fileMeta(t, f).NumRows)
			filters[f] = polarsFilters(t, run.schemas[name], w[at:at+n])
			at += n
		}
		files[name], want[name] = paths, w
		all = append(all, paths...)
		total += len(w)
	}
	if total == 0 {
		t.Fatal("no records")
	}
	res := readRust(t, modules, all, false, filters)
	if res.PolarsMissing != "" {
		t.Logf("polars skipped: nodejs-polars cannot be loaded: %s", res.PolarsMissing)
	}
	for _, name := range names {
		if len(files[name]) > 0 {
			checkRustRead(t, res, files[name], want[name])
		}
	}
	for _, rf := range res.Files {
		if rf.Reader != "polars" || rf.Error != "" {
			continue
		}
		for i, f := range filters[rf.File] {
			if i >= len(rf.Counts) || rf.Counts[i] != f.Want {
				t.Errorf("polars: %s: %v rows where %s %s %s, want %d", rf.File, rf.Counts, f.Column, f.Op, f.Value, f.Want)
				break
			}
		}
	}
	t.Logf("%s: %d rows (%d with _changes) in %d files of %d row groups, every value read alike by arrow-go, xitongsys, arrow-rs and polars",
		run.provider, total, changed, len(all), groups)
}

// expectRowsChanged is expectRows for records some of whose values did not
// fit their columns: got's _changes (as arrow-go read them) say which. A
// member noted NULLED is null in its column and verbatim in _leftovers;
// every change must be one the sink or the connector makes, of a member
// the record has.
func expectRowsChanged(t *testing.T, schema json.RawMessage, records []json.RawMessage, got []map[string]any) []map[string]any {
	t.Helper()
	s := mustSchema(t, schema)
	props, _ := s["properties"].(map[string]any)
	out := make([]map[string]any, len(records))
	for i, rec := range records {
		nulled := map[string]bool{}
		if text, ok := got[i][columns.Changes].(string); ok {
			var changes []struct{ Field, Change, Reason string }
			if err := json.Unmarshal([]byte(text), &changes); err != nil {
				t.Fatalf("row %d: _changes %q: %v", i, text, err)
			}
			for _, c := range changes {
				switch {
				case c.Change == columns.ChangeNulled && c.Reason == columns.ReasonTypecast:
					nulled[c.Field] = true
				case c.Change == "REPLACED":
				default:
					t.Errorf("row %d: change %+v", i, c)
				}
			}
		}
		members := topMembers(t, rec)
		kept := map[string]json.RawMessage{}
		var left []string
		for _, m := range members {
			// A member is in _leftovers when nulled, unknown, named
			// twice, or holding a nested member its schema lacks
			// (its column keeps the members it knows).
			p, known := props[m.key].(map[string]any)
			_, twice := kept[m.key]
			switch {
			case nulled[m.key]:
				delete(nulled, m.key)
			case known && !twice:
				kept[m.key] = m.val
				if !hasUnknown(p, m.val) {
					continue
				}
			}
			k, _ := json.Marshal(m.key)
			left = append(left, string(k)+":"+string(m.val))
		}
		for f := range nulled {
			t.Errorf("row %d: _changes nulls %s, which the record lacks: %s", i, f, rec)
		}
		b, _ := json.Marshal(kept)
		m, err := expectObject(s, b)
		if err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, rec)
		}
		m[columns.Leftovers] = nil
		if len(left) > 0 {
			m[columns.Leftovers] = "{" + strings.Join(left, ",") + "}"
		}
		m[columns.Changes] = got[i][columns.Changes]
		out[i] = m
	}
	return out
}

// polarsFilters are the filters polars runs on a file of rows: for each
// top-level column, the rows whose value is at most, and at least, the
// median of its values. Polars skips each row group whose statistics say
// none can match, so a wrong minimum or maximum loses rows.
func polarsFilters(t *testing.T, schema json.RawMessage, rows []map[string]any) []polarsFilter {
	t.Helper()
	props, _ := mustSchema(t, schema)["properties"].(map[string]any)
	var out []polarsFilter
	for name, p := range props {
		kind, scale := filterKind(p.(map[string]any))
		if kind == "" {
			continue
		}
		var vals []any
		for _, r := range rows {
			if r[name] != nil {
				vals = append(vals, r[name])
			}
		}
		if len(vals) == 0 {
			continue
		}
		slices.SortFunc(vals, func(a, b any) int { return compareCanon(t, a, b) })
		pivot := vals[len(vals)/2]
		for _, op := range []string{"le", "ge"} {
			f := polarsFilter{Column: name, Kind: kind, Scale: scale, Op: op, Value: canonText(pivot)}
			for _, v := range vals {
				if c := compareCanon(t, v, pivot); op == "le" && c <= 0 || op == "ge" && c >= 0 {
					f.Want++
				}
			}
			out = append(out, f)
		}
	}
	return out
}

// filterKind is the kind of a property's column that checkPolarsFilters
// filters on ("" for none), and a decimal's scale.
func filterKind(p map[string]any) (string, int) {
	types := nonNullTypes(p)
	if len(types) != 1 {
		return "", 0
	}
	scale := 4
	if s, ok := p["x-decimal-scale"].(float64); ok {
		scale = int(s)
	}
	switch {
	case types[0] == "number" || types[0] == "string" && p["x-decimal-string"] == true:
		return "decimal", scale
	case types[0] == "integer":
		return "int", 0
	case types[0] == "string" && p["format"] == "date-time":
		return "timestamp", 0
	case types[0] == "string" && p["format"] == "date":
		return "date", 0
	case types[0] == "string":
		return "string", 0
	}
	return "", 0
}

// canonText is a canonical value as text: the number of a decimal, the
// microseconds of a timestamp, the day of a date, a string as it is.
func canonText(v any) string {
	switch v := v.(type) {
	case int64:
		return fmt.Sprint(v)
	case string:
		for _, p := range []string{"dec:", "date:"} {
			if rest, ok := strings.CutPrefix(v, p); ok {
				return rest
			}
		}
		return strings.TrimPrefix(v, "ts:")
	}
	return fmt.Sprint(v)
}

// compareCanon orders two canonical values of one column.
func compareCanon(t *testing.T, a, b any) int {
	switch a := a.(type) {
	case int64:
		return big.NewInt(a).Cmp(big.NewInt(b.(int64)))
	case string:
		if x, ok := strings.CutPrefix(a, "dec:"); ok {
			ra, _ := new(big.Rat).SetString(x)
			rb, _ := new(big.Rat).SetString(strings.TrimPrefix(b.(string), "dec:"))
			return ra.Cmp(rb)
		}
		return strings.Compare(a, b.(string)) // bytes; ts: and date: forms sort as their instants
	}
	t.Fatalf("cannot order %T", a)
	return 0
}

// TestRustReadersReadALargeFile: 150,000 Pluggy transactions in one file
// of many row groups, whose pages are large enough for the id columns'
// frames of zstd literals and whose mostly distinct strings fall back from
// their dictionaries to plain values, read by arrow-rs and polars as by
// arrow-go, column by column (digests of every value), every id of the
// fake there once and the amounts adding up to the cent.
func TestRustReadersReadALargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("150,000 rows")
	}
	modules := rustModules(t)
	if modules == "" {
		t.Skip()
	}
	r := newFakeRun(t, fake.Options{Items: 2, AccountsPerItem: 3, TransactionsPerAccount: 25_000, PageSize: 500})
	dir := t.TempDir()
	res := runEnv(t, []string{RowsPerFileEnv + "=1000000"}, r.bin, "read", "--config", r.config, "--catalog", r.catalog,
		"--parquet-dir", dir, "--no-records")
	if res.Code != 0 {
		t.Fatalf("read exited %d\n%s", res.Code, res.Stderr)
	}
	files := streamFiles(t, filepath.Join(dir, "transactions"))
	if len(files) != 1 {
		t.Fatalf("%d transactions files, want 1", len(files))
	}
	md := fileMeta(t, files[0])
	if md.NumRowGroups() < 8 {
		t.Errorf("%d row groups, want many", md.NumRowGroups())
	}
	// Columns with a dictionary in the first row group and none in a
	// later one: they fell back to plain values.
	dict, fallback := map[string]bool{}, map[string]bool{}
	for g := range md.NumRowGroups() {
		rg := md.RowGroup(g)
		for i := range rg.NumColumns() {
			cc, err := rg.ColumnChunk(i)
			sourcetest.Must(t, err, "column chunk")
			path := cc.PathInSchema().String()
			if g == 0 {
				dict[path] = cc.HasDictionaryPage()
			} else if dict[path] && !cc.HasDictionaryPage() {
				fallback[path] = true
			}
		}
	}
	if len(fallback) == 0 {
		t.Error("no column fell back from its dictionary to plain values")
	}
	rows := readArrow(t, files[0])
	count, ids, sumCents := r.server.TransactionSummary()
	if len(rows) != count {
		t.Fatalf("%d rows, the fake has %d transactions", len(rows), count)
	}
	var cents int64
	seen := map[string]bool{}
	for _, row := range rows {
		id := row["id"].(string)
		if _, ok := ids[id]; !ok || seen[id] {
			t.Fatalf("transaction %s unknown or repeated", id)
		}
		seen[id] = true
		amount, ok := new(big.Rat).SetString(strings.TrimPrefix(row["amount"].(string), "dec:"))
		if amount.Mul(amount, big.NewRat(100, 1)); !ok || !amount.IsInt() {
			t.Fatalf("transaction %s: amount %v is not whole cents", id, row["amount"])
		}
		cents += amount.Num().Int64()
	}
	if cents != sumCents {
		t.Errorf("transactions add up to %d cents, the fake says %d", cents, sumCents)
	}
	want := columnDigests(rows)
	read := readRust(t, modules, files, true, nil)
	for _, rf := range read.Files {
		if rf.Error != "" {
			t.Fatalf("%s refuses %s: %s", rf.Reader, rf.File, rf.Error)
		}
		if rf.Reader == "arrow-rs" && rf.RowGroups != md.NumRowGroups() {
			t.Errorf("arrow-rs: %d row groups, arrow-go reads %d", rf.RowGroups, md.NumRowGroups())
		}
		for col, d := range want {
			if rf.Digest[col] != d {
				t.Errorf("%s: column %s reads otherwise than with arrow-go: %s, want %s (nulls, SHA-256)", rf.Reader, col, rf.Digest[col], d)
			}
		}
		if len(rf.Digest) != len(want) {
			t.Errorf("%s: %d columns, arrow-go reads %d", rf.Reader, len(rf.Digest), len(want))
		}
	}
	t.Logf("%d transactions in %d row groups (%d columns falling back to plain values), read alike by arrow-go, arrow-rs and polars",
		len(rows), md.NumRowGroups(), len(fallback))
}
