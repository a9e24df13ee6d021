package parquet

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// buildBehindClock builds source-pluggy with its run start offset from
// the clock (source.StartTime, "-1h"): the clock of a machine stepped back
// since the last run.
func buildBehindClock(t *testing.T, offset string) string {
	t.Helper()
	return sourcetest.BuildWithClock(t, "source-pluggy", offset)
}

// TestClockBehindKeepsTheNewestRunNewest runs a read into a folder, then
// two more whose clock is an hour behind the first's, the bank's data
// changing between runs (rows updated and deleted, an account removed), and
// reads the folder with the macros of docs/parquet.md in DuckDB: snapshot()
// must give the last run's accounts, without the removed one, and latest()
// each transaction's last version, its tombstone dropping it. Without the
// stamp after the newest file, the later runs' files were named and stamped
// an hour before the first's: snapshot() returned the first run's accounts,
// the removed one still current, and latest() let the first run's versions
// of updated and deleted rows win.
func TestClockBehindKeepsTheNewestRunNewest(t *testing.T) {
	modules := duckdbModules(t)
	if modules == "" {
		t.Skip()
	}
	var mu sync.Mutex
	removed := "" // an account the bank no longer lists
	r := newWrappedRun(t, fake.Options{Items: 2, AccountsPerItem: 2, TransactionsPerAccount: 120, PageSize: 100}, func(f *fake.Server) http.Handler {
		h := f.Handler()
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			drop := removed
			mu.Unlock()
			if drop == "" || req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, "/accounts") {
				h.ServeHTTP(w, req)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var page map[string]json.RawMessage
			var results []json.RawMessage
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &page) != nil || json.Unmarshal(page["results"], &results) != nil {
				t.Errorf("the fake's accounts answer: %d %s", rec.Code, rec.Body)
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			results = slices.DeleteFunc(results, func(a json.RawMessage) bool {
				var acct struct{ ID string }
				json.Unmarshal(a, &acct)
				return acct.ID == drop
			})
			page["results"], _ = json.Marshal(results)
			page["total"], _ = json.Marshal(len(results))
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(page)
		})
	})
	behind := buildBehindClock(t, "-1h")
	dir := t.TempDir()
	read := func(bin string, prev *sourcetest.Result) *sourcetest.Result {
		t.Helper()
		args := []string{"read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir}
		if prev != nil {
			args = append(args, "--state", prev.StateFile(t))
		}
		res := runEnv(t, nil, bin, args...)
		if res.Code != 0 {
			t.Fatalf("read exited %d\n%s", res.Code, res.Stderr)
		}
		return res
	}

	runs := []*sourcetest.Result{read(r.bin, nil)}
	r.server.UpdateInPlace(4)
	r.server.Delete(3)
	mu.Lock()
	removed = r.server.AccountIDs(r.server.ItemIDs()[1])[0]
	mu.Unlock()
	runs = append(runs, read(behind, runs[0]))
	// A third run as far behind: stamped after the second's, most likely
	// in the same second, so its names sort after by sequence number.
	r.server.UpdateInPlace(3)
	r.server.Delete(2)
	runs = append(runs, read(behind, runs[1]))

	for i, res := range runs[1:] {
		warned := false
		for _, m := range res.OfType(protocol.TypeLog) {
			if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, "the clock is behind the newest file") &&
				strings.Contains(m.Log.Message, "folder="+dir+string(filepath.Separator)) && strings.Contains(m.Log.Message, " stamp=") {
				if warned {
					t.Errorf("run %d: the clock's WARN twice: %s", i+2, m.Log.Message)
				}
				warned = true
				t.Logf("run %d: %s", i+2, m.Log.Message)
			}
		}
		if !warned {
			t.Errorf("run %d, its clock behind the folder's newest file, did not WARN naming the folder, the clock and the stamp", i+2)
		}
	}

	// The truth: the last run's accounts; each transaction's last record,
	// tombstones dropped.
	var wantAccounts []string
	for _, raw := range runs[2].Records()["accounts"] {
		var a struct{ ID string }
		json.Unmarshal(raw, &a)
		wantAccounts = append(wantAccounts, a.ID)
	}
	slices.Sort(wantAccounts)
	if len(wantAccounts) != 3 || slices.Contains(wantAccounts, removed) {
		t.Fatalf("the last run read accounts %v; want three, without %s", wantAccounts, removed)
	}
	type txn struct {
		ID, Description string
		Amount          json.Number
		Deleted         *string `json:"_ab_cdc_deleted_at"`
	}
	last := map[string]txn{}
	for _, res := range runs {
		for _, raw := range res.Records()["transactions"] {
			var tx txn
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&tx); err != nil {
				t.Fatal(err)
			}
			last[tx.ID] = tx
		}
	}
	want := map[string]txn{}
	tombstones := 0
	for id, tx := range last {
		if tx.Deleted != nil {
			tombstones++
			continue
		}
		want[id] = tx
	}
	if tombstones == 0 {
		t.Fatal("the later runs wrote no tombstone: the test cannot tell a deleted row from a live one")
	}

	var setup []string
	for _, s := range docsSQL(t) {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(stripSQLComments(s.text))), "create") {
			setup = append(setup, strings.ReplaceAll(s.text, "'warehouse/", "'"+dir+"/"))
		}
	}
	res := duckdbStatements(t, modules, append(setup,
		"select id from snapshot('accounts') order by id",
		"select id, description, amount::varchar from latest('transactions') order by id"))
	for i, q := range res {
		if q.Error != "" {
			t.Fatalf("duckdb, statement %d: %s", i, q.Error)
		}
	}
	var gotAccounts []string
	for _, row := range res[len(setup)].Rows {
		gotAccounts = append(gotAccounts, docStr(row[0]))
	}
	if !slices.Equal(gotAccounts, wantAccounts) {
		t.Errorf("snapshot('accounts') = %v; the last run's accounts are %v (%s removed)", gotAccounts, wantAccounts, removed)
	}
	got := res[len(setup)+1].Rows
	seen := map[string]bool{}
	for _, row := range got {
		id := docStr(row[0])
		seen[id] = true
		w, ok := want[id]
		switch {
		case !ok && last[id].Deleted != nil:
			t.Errorf("latest('transactions'): %s is live; its last record is a tombstone", id)
		case !ok:
			t.Errorf("latest('transactions'): %s is not in any run's records", id)
		case docStr(row[1]) != w.Description || docRat(t, docStr(row[2])).Cmp(docRat(t, string(w.Amount))) != 0:
			t.Errorf("latest('transactions'): %s is %q %s; its last record says %q %s", id, docStr(row[1]), docStr(row[2]), w.Description, w.Amount)
		}
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("latest('transactions') lacks %s", id)
		}
	}
	t.Logf("latest('transactions'): %d rows, %d live in the records, %d tombstoned; snapshot('accounts'): %d", len(got), len(want), tombstones, len(gotAccounts))
}

// TestStampAfterTheNewestFile: a run whose clock is behind the folder's
// newest file takes the microsecond after that file's run_started_at as a
// reader sees it (DuckDB keeps microseconds: .000000999 reads as .000001),
// and a name after the newest one's sequence number, whatever numbers are
// free below it; a run whose clock is ahead keeps its clock's start.
func TestStampAfterTheNewestFile(t *testing.T) {
	dir := t.TempDir()
	st := kitchen(t)
	first := time.Date(2024, 5, 1, 12, 0, 0, 999, time.UTC)
	write := func(start time.Time, rec int) string {
		t.Helper()
		s, w := openOne(t, st, Options{Dir: dir, Start: start})
		writeAll(t, w, raws(kitchenRecords[rec:rec+1]))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return w.Files()[0]
	}
	f := write(first, 0)
	// Files 1 to 6 of that second were removed by hand.
	seventh := filepath.Join(dir, "kitchen", "part-20240501T120000Z-00007.parquet")
	if err := os.Rename(f, seventh); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		start     time.Time
		name, run string
	}{
		{first.Add(-time.Hour), "part-20240501T120000Z-00008.parquet", "2024-05-01T12:00:00.000002Z"},
		{first.Add(-time.Hour), "part-20240501T120000Z-00009.parquet", "2024-05-01T12:00:00.000003Z"},
		{first.Add(time.Second), "part-20240501T120001Z-00001.parquet", "2024-05-01T12:00:01.000000999Z"},
	} {
		f := write(c.start, 1)
		if got := *fileMeta(t, f).KeyValueMetadata().FindValue(MetaRunStart); filepath.Base(f) != c.name || got != c.run {
			t.Errorf("a run started at %s by its clock wrote %s stamped %s; want %s stamped %s", c.start.Format(time.RFC3339Nano), filepath.Base(f), got, c.name, c.run)
		}
	}
}

// TestStampAfterANameAheadOfItsRun: a folder whose newest file's name is
// ahead of its source_pluggy.run_started_at (a file renamed, here to 2030)
// gives the next run the second its name says, not that time plus a
// microsecond, and the next sequence number of that second: a file named
// part-2026… would sort before it, and latest() of docs/parquet.md, which
// orders by name, would keep that file's rows over the run's. The WARN
// that says so is the run's, naming the folder, with no stream's name in
// front, where it came under whichever stream opened first ("items:
// parquet: the clock is behind … folder=…/accounts").
func TestStampAfterANameAheadOfItsRun(t *testing.T) {
	r := newFakeRun(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 5})
	dir := t.TempDir()
	read := func() *sourcetest.Result {
		t.Helper()
		res := sourcetest.Run(t, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir, "--no-records")
		if res.Code != 0 {
			t.Fatalf("read: exit %d\n%s", res.Code, res.Stderr)
		}
		return res
	}
	read()
	accounts := filepath.Join(dir, "accounts")
	files, _ := filepath.Glob(filepath.Join(accounts, "part-*.parquet"))
	if len(files) != 1 {
		t.Fatalf("the first read wrote %v in accounts/, want one file", files)
	}
	if err := os.Rename(files[0], filepath.Join(accounts, "part-20300101T000000Z-00001.parquet")); err != nil {
		t.Fatal(err)
	}

	res := read()
	next := filepath.Join(accounts, "part-20300101T000000Z-00002.parquet")
	if _, err := os.Stat(next); err != nil {
		files, _ = filepath.Glob(filepath.Join(accounts, "part-*.parquet"))
		t.Fatalf("the run after a file named ahead wrote %v, want %s", files, filepath.Base(next))
	}
	if got := *fileMeta(t, next).KeyValueMetadata().FindValue(MetaRunStart); got != "2030-01-01T00:00:00Z" {
		t.Errorf("%s: run_started_at %s, want 2030-01-01T00:00:00Z, the second the newest file's name gives", filepath.Base(next), got)
	}
	n := 0
	for _, m := range res.OfType(protocol.TypeLog) {
		if strings.Contains(m.Log.Message, "the clock is behind the newest file") {
			n++
			if !strings.HasPrefix(m.Log.Message, "parquet: the clock is behind") || !strings.Contains(m.Log.Message, "folder="+accounts+" ") || !strings.Contains(m.Log.Message, "stamp=2030-01-01T00:00:00Z") {
				t.Errorf("the clock's WARN: %s\nwant it to begin with \"parquet:\" (the run's, no stream's) and name folder=%s and stamp=2030-01-01T00:00:00Z", m.Log.Message, accounts)
			}
		}
	}
	if n != 1 {
		t.Errorf("the clock's WARN said %d times, want once", n)
	}
}
