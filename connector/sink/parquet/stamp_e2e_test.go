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

// TestSeqTextSortsInOrder: file names sort in the order of their numbers
// past 99,999 as well (latest() of docs/parquet.md orders by name), where
// five-digit padding sorted part-…-100000 before part-…-99999; and
// parseSeq reads back what seqText wrote, a plain number as itself.
func TestSeqTextSortsInOrder(t *testing.T) {
	nums := []int{1, 2, 9999, 99998, 99999, 100000, 100001, 199999, 999999, 1000000, 123456789, 9999999999}
	prev := ""
	for _, n := range nums {
		name := "part-20300101T000000Z-" + seqText(n) + ".parquet"
		if prev != "" && name <= prev {
			t.Errorf("file %d is named %s, which sorts before or as %s", n, name, prev)
		}
		prev = name
		m := partName.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("%s is not a name of the sink's (partName)", name)
			continue
		}
		if got, err := parseSeq(m[2]); err != nil || got != n {
			t.Errorf("parseSeq(%s) = %d, %v; want %d", m[2], got, err, n)
		}
	}
	for s, want := range map[string]int{"00007": 7, "100000": 100000, "1234567": 1234567, "999990000000005": 999990000000005} {
		if got, err := parseSeq(s); err != nil || got != want {
			t.Errorf("parseSeq(%s) = %d, %v; want %d", s, got, err, want)
		}
	}
}

// TestFileNumbersPastFiveDigitsSortInOrder: a folder whose newest second
// already holds file 99999 (a SOURCE_PLUGGY_PARQUET_ROWS_PER_FILE of a row
// over a long history, or runs numbered on in the second of a file
// stamped ahead; here one file renamed to 2030 and number 99999 stands for
// them) gets the next runs' files under names that sort after it, and
// latest() of docs/parquet.md gives each transaction's last version.
// Numbers padded to five digits named the next file …-100000.parquet,
// which sorts before …-99999.parquet: latest() kept the earlier run's rows
// over the updates.
func TestFileNumbersPastFiveDigitsSortInOrder(t *testing.T) {
	r := newFakeRun(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 60})
	dir := t.TempDir()
	txns := filepath.Join(dir, "transactions")
	read := func(prev *sourcetest.Result) *sourcetest.Result {
		t.Helper()
		args := []string{"read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir}
		if prev != nil {
			args = append(args, "--state", prev.StateFile(t))
		}
		res := sourcetest.Run(t, r.bin, args...)
		if res.Code != 0 {
			t.Fatalf("read: exit %d\n%s", res.Code, res.Stderr)
		}
		return res
	}
	newFile := func(before []string) string {
		t.Helper()
		after, _ := filepath.Glob(filepath.Join(txns, "part-*.parquet"))
		after = slices.DeleteFunc(after, func(f string) bool { return slices.Contains(before, f) })
		if len(after) != 1 {
			t.Fatalf("the read wrote %v in transactions/, want one file", after)
		}
		return after[0]
	}

	runs := []*sourcetest.Result{read(nil)}
	first := newFile(nil)
	last := filepath.Join(txns, "part-20300101T000000Z-99999.parquet")
	if err := os.Rename(first, last); err != nil {
		t.Fatal(err)
	}
	files := []string{last}
	for _, want := range []string{"part-20300101T000000Z-999990000100000.parquet", "part-20300101T000000Z-999990000100001.parquet"} {
		if ids := r.server.UpdateInPlace(3); len(ids) == 0 {
			t.Fatal("the fake updated no transaction: the test cannot tell the versions apart")
		}
		runs = append(runs, read(runs[len(runs)-1]))
		f := newFile(files)
		if filepath.Base(f) <= filepath.Base(last) {
			t.Errorf("the run after %s wrote %s, which sorts before it: latest() would keep the earlier file's rows", filepath.Base(last), filepath.Base(f))
		}
		if filepath.Base(f) != want {
			t.Errorf("the run after %s wrote %s, want %s", filepath.Base(last), filepath.Base(f), want)
		}
		files, last = append(files, f), f
	}

	modules := duckdbModules(t)
	if modules == "" {
		return
	}
	type txn struct{ ID, Description string }
	want := map[string]string{}
	for _, res := range runs {
		for _, raw := range res.Records()["transactions"] {
			var tx txn
			if err := json.Unmarshal(raw, &tx); err != nil {
				t.Fatal(err)
			}
			want[tx.ID] = tx.Description
		}
	}
	var setup []string
	for _, s := range docsSQL(t) {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(stripSQLComments(s.text))), "create") {
			setup = append(setup, strings.ReplaceAll(s.text, "'warehouse/", "'"+dir+"/"))
		}
	}
	res := duckdbStatements(t, modules, append(setup, "select id, description from latest('transactions')"))
	for i, q := range res {
		if q.Error != "" {
			t.Fatalf("duckdb, statement %d: %s", i, q.Error)
		}
	}
	got := res[len(setup)].Rows
	if len(got) != len(want) {
		t.Errorf("latest('transactions'): %d rows, want %d", len(got), len(want))
	}
	for _, row := range got {
		if id := docStr(row[0]); docStr(row[1]) != want[id] {
			t.Errorf("latest('transactions'): %s is %q; its last record says %q", id, docStr(row[1]), want[id])
		}
	}
	t.Logf("latest('transactions'): %d rows", len(got))
}
