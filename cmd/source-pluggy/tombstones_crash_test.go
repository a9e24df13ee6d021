package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/parquet"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests prove docs/incremental.md's "A crash leaves no ghost rows":
// a row any run emitted, to stdout or to a Parquet file, and that Pluggy
// deletes later, gets its tombstone even when the run that emitted it was
// killed before the STATE covering it.

// outputView is what a destination holds of the transactions: the latest
// version of every id, in the order the outputs received them.
type outputView map[string]bool // id -> deleted

// applyStdout adds the transactions records a run printed, as an Airbyte
// destination keeping every record it received (also those after the last
// STATE of a killed run) would.
func (v outputView) applyStdout(t *testing.T, r *st.Result) {
	t.Helper()
	for _, x := range txRecords(t, r) {
		v[x.ID] = x.DeletedAt != nil
	}
}

// parquetView reads every committed transactions file under dir as the
// README's dedupe query does: files in name order (run start, then
// sequence), rows in file order, the last version of an id wins.
func parquetView(t *testing.T, dir string) outputView {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "transactions", "*.parquet"))
	st.Must(t, err, "parquet files")
	sort.Strings(files)
	v := outputView{}
	for _, path := range files {
		rdr, err := file.OpenParquetFile(path, false)
		st.Must(t, err, path)
		fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
		st.Must(t, err, path)
		// Only the two columns the query looks at.
		var cols []int
		for _, name := range []string{"id", "_ab_cdc_deleted_at"} {
			i := rdr.MetaData().Schema.ColumnIndexByName(name)
			if i < 0 {
				t.Fatalf("%s: no column %q", path, name)
			}
			cols = append(cols, i)
		}
		rr, err := fr.GetRecordReader(context.Background(), cols, nil)
		st.Must(t, err, path)
		for rr.Next() {
			rec := rr.RecordBatch()
			ids, ok := rec.Column(0).(*array.String)
			if !ok {
				t.Fatalf("%s: id is not a string column", path)
			}
			deleted := rec.Column(1)
			for r := range int(rec.NumRows()) {
				v[ids.Value(r)] = !deleted.IsNull(r)
			}
		}
		st.Must(t, rr.Err(), path)
		rr.Release()
		rdr.Close()
	}
	return v
}

// streamRead runs a read to its end and folds the transactions records it
// prints into v as they come, counting tombstones per id, without keeping
// the output: 60,000 rows parsed whole weigh hundreds of MB in the test
// process (more under -race), whose peak the binaries that later tests
// measure would inherit.
func (e *env) streamRead(v outputView, tombstones map[string]int, catalog string, extra ...string) {
	t := e.t
	t.Helper()
	cmd := exec.Command(e.bin, append([]string{"read", "--config", e.config(nil), "--catalog", catalog}, extra...)...)
	out, err := cmd.StdoutPipe()
	st.Must(t, err, "stdout pipe")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	st.Must(t, cmd.Start(), "start")
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		if !bytes.HasPrefix(sc.Bytes(), []byte(`{"type":"RECORD","record":{"stream":"transactions"`)) {
			continue
		}
		var m struct {
			Record struct{ Data txRecord } `json:"record"`
		}
		st.Must(t, json.Unmarshal(sc.Bytes(), &m), "record")
		x := m.Record.Data
		v[x.ID] = x.DeletedAt != nil
		if x.DeletedAt != nil {
			tombstones[x.ID]++
		}
	}
	st.Must(t, sc.Err(), "reading stdout")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("read: %v\n%s", err, st.Tail(stderr.Bytes()))
	}
}

// checkAgainstFake asserts the view's live rows are exactly the rows the
// fake serves: no deleted row left live (a ghost), none missing.
func checkAgainstFake(t *testing.T, name string, e *env, v outputView) {
	t.Helper()
	_, served, _ := e.fake.TransactionSummary()
	var ghosts, missing []string
	for id, deleted := range v {
		if _, ok := served[id]; !deleted && !ok {
			ghosts = append(ghosts, id)
		}
	}
	for id := range served {
		if deleted, ok := v[id]; !ok || deleted {
			missing = append(missing, id)
		}
	}
	if len(ghosts)+len(missing) > 0 {
		t.Fatalf("%s: %d deleted rows still live (ghosts) %v, %d served rows not live %v", name, len(ghosts), head(ghosts), len(missing), head(missing))
	}
}

// committedFiles counts the transactions files a run committed.
func committedFiles(t *testing.T, dir string) int {
	files, err := filepath.Glob(filepath.Join(dir, "transactions", "*.parquet"))
	st.Must(t, err, "glob")
	return len(files)
}

// TestCrashLeavesNoGhostRows is issue 12's reproduction: 3 items × 4
// accounts × 5,000 rows, pages of 100, one account at a time, Parquet files
// of 2,500 rows. The read is killed once three transactions files are
// committed, so the files (and stdout) hold rows of an account the last
// STATE does not cover; 105 of that account's recent rows are deleted in
// the fake; the run resumed from the last STATE tombstones all 105, and
// what stdout and the files hold, deduplicated, is the fake's truth.
func TestCrashLeavesNoGhostRows(t *testing.T) {
	t.Setenv(parquet.RowsPerFileEnv, "2500")
	t.Cleanup(debug.FreeOSMemory) // the fake's 60,000 rows: see streamRead
	e := newEnv(t, fake.Options{Items: 3, AccountsPerItem: 4, TransactionsPerAccount: 5000, PageSize: 100, Latency: 5 * time.Millisecond})
	e.cfg["max_concurrency"] = 1
	e.cfg["lookback_days"] = 30
	dir := t.TempDir()
	cat := e.catalog(true, "transactions")

	first := e.startRead(cat, "--parquet-dir", dir)
	deadline := time.Now().Add(2 * time.Minute)
	for committedFiles(t, dir) < 3 {
		select {
		case <-first.Changed():
		case <-first.Done():
			t.Fatal("the read ended before three files were committed: make the fake slower")
		case <-time.After(time.Until(deadline)):
			t.Fatal("three files were never committed")
		}
	}
	r1 := first.Partial(t)
	files := parquetView(t, dir)
	t.Logf("killed with %d files committed, %d records printed", committedFiles(t, dir), len(r1.Records()["transactions"]))

	// The account cut short: rows of it are in the files, and the last
	// STATE has no cursor for it.
	var killedState struct {
		Accounts map[string]struct {
			CreatedAt string              `json:"created_at"`
			Announced map[string][]string `json:"announced"`
		} `json:"accounts"`
	}
	st.Must(t, json.Unmarshal(lastState(t, r1, "transactions"), &killedState), "last state")
	byAccount := map[string][]txRecord{}
	for _, x := range txRecords(t, r1) {
		if _, inFiles := files[x.ID]; inFiles {
			byAccount[x.AccountID] = append(byAccount[x.AccountID], x)
		}
	}
	var cut string
	for acct := range byAccount {
		if killedState.Accounts[acct].CreatedAt == "" {
			if cut != "" {
				t.Fatalf("two accounts cut short with max_concurrency 1: %s and %s", cut, acct)
			}
			cut = acct
		}
	}
	if cut == "" {
		t.Fatal("the kill landed between two accounts: no account was cut short")
	}
	t.Logf("account %s cut short: %d of its rows in the files, %d announced in the last STATE", cut, len(byAccount[cut]), countIDs(killedState.Accounts[cut].Announced))

	// Delete 105 of its recent rows that the files hold.
	recent := time.Now().AddDate(0, 0, -25).Format(time.DateOnly)
	var pick []string
	for _, x := range byAccount[cut] {
		if x.Date[:10] >= recent && len(pick) < 105 {
			pick = append(pick, x.ID)
		}
	}
	if len(pick) < 105 {
		t.Fatalf("only %d recent rows of account %s are in the files", len(pick), cut)
	}
	if got := e.fake.DeleteIDs(pick); len(got) != 105 {
		t.Fatalf("the fake deleted %d rows, want 105", len(got))
	}

	// Resume from the last STATE, to the end.
	stdout := outputView{}
	stdout.applyStdout(t, r1)
	tombstoned := map[string]int{}
	e.streamRead(stdout, tombstoned, cat, "--state", r1.StateFile(t), "--parquet-dir", dir)
	for _, id := range pick {
		if tombstoned[id] != 1 {
			t.Errorf("deleted row %s: %d tombstones, want 1", id, tombstoned[id])
		}
	}
	if len(tombstoned) != len(pick) {
		t.Errorf("%d rows tombstoned, want the %d deleted", len(tombstoned), len(pick))
	}

	checkAgainstFake(t, "stdout", e, stdout)
	checkAgainstFake(t, "Parquet files", e, parquetView(t, dir))
}

func countIDs(w map[string][]string) int {
	n := 0
	for _, ids := range w {
		n += len(ids)
	}
	return n
}

// randomKillsEnv sets up the random-kill tests: files of 700 rows, 7,200
// rows in 6 accounts of a slow fake, a 30-day window, 1 to 3 accounts at
// once; the seed is logged, and GHOST_SEED repeats it.
func randomKillsEnv(t *testing.T, salt uint64) (e *env, rng *rand.Rand, dir, cat string) {
	t.Helper()
	t.Setenv(parquet.RowsPerFileEnv, "700")
	t.Cleanup(debug.FreeOSMemory)
	seed := st.Seed(t, "GHOST_SEED")
	rng = rand.New(rand.NewPCG(seed, salt))
	e = newEnv(t, fake.Options{Items: 2, AccountsPerItem: 3, TransactionsPerAccount: 1200, PageSize: 50, Latency: 2 * time.Millisecond, Seed: seed%1000 + 1})
	e.cfg["lookback_days"] = 30
	e.cfg["max_concurrency"] = 1 + rng.IntN(3)
	return e, rng, t.TempDir(), e.catalog(true, "transactions")
}

// TestKilledAtRandomLeavesNoGhostRows kills reads at random points (after
// a random number of output lines), deletes random rows between runs (rows
// the killed runs emitted among them) and resumes each time from the last
// STATE printed; after a last run to the end, no deleted row is live in
// what stdout delivered (to a destination keeping every record it
// received) nor in the Parquet files, and every served row is.
func TestKilledAtRandomLeavesNoGhostRows(t *testing.T) {
	e, rng, dir, cat := randomKillsEnv(t, 12)
	stdout := outputView{}
	var state string // the last STATE printed so far, as a --state file
	recent := time.Now().AddDate(0, 0, -25).Format(time.DateOnly)
	emitted := map[string]txRecord{}

	for i := range 5 {
		args := []string{"--parquet-dir", dir}
		if state != "" {
			args = append(args, "--state", state)
		}
		p := e.startRead(cat, args...)
		// Lines of a first sync: ~7,200 records, a few dozen states.
		at := 1 + rng.IntN(5000)
		p.Reach(t, killPoint{Lines: at})
		r := p.Partial(t)
		stdout.applyStdout(t, r)
		if len(r.OfType(protocol.TypeState)) > 0 {
			state = r.StateFile(t)
		}
		for _, raw := range r.Records()["transactions"] {
			var x txRecord
			st.Must(t, json.Unmarshal(raw, &x), "record")
			if x.DeletedAt == nil {
				emitted[x.ID] = x
			}
		}
		// Delete some rows the runs emitted and still served, dated
		// inside the window, and some the fake picks.
		_, served, _ := e.fake.TransactionSummary()
		var cands []string
		for id, x := range emitted {
			if _, ok := served[id]; ok && x.Date[:10] >= recent {
				cands = append(cands, id)
			}
		}
		sort.Strings(cands)
		rng.Shuffle(len(cands), func(a, b int) { cands[a], cands[b] = cands[b], cands[a] })
		gone := e.fake.DeleteIDs(cands[:min(len(cands), 1+rng.IntN(20))])
		gone = append(gone, e.fake.Delete(rng.IntN(4))...)
		added := e.fake.AddNew(rng.IntN(4))
		t.Logf("run %d: killed after %d lines (%d records, %d states); then %d rows deleted, %d added", i+1, at,
			len(r.Records()["transactions"]), len(r.OfType(protocol.TypeState)), len(gone), len(added))
	}
	args := []string{"--parquet-dir", dir}
	if state != "" {
		args = append(args, "--state", state)
	}
	last := e.readFast(cat, args...)
	st.ValidateProtocol(t, last)
	// A run read to its end leaves no announcement: the state is windows
	// only, its size bounded as before.
	if final := lastState(t, last, "transactions"); bytes.Contains(final, []byte(`"announced"`)) {
		t.Errorf("the state of a run read to its end still holds announcements: %.300s", final)
	}
	stdout.applyStdout(t, last)
	checkAgainstFake(t, "stdout", e, stdout)
	checkAgainstFake(t, "Parquet files", e, parquetView(t, dir))
}

// TestKilledAtRandomWithoutRecordsLeavesNoGhostRows is the test above for
// --no-records, where the Parquet sink holds announcements like states and,
// before each file commits, prints the last state it printed with the
// file's new ids listed (files are cut by size only): runs killed once a
// random number of files more are committed, rows the files hold deleted
// in between (inside the re-read window), each run resumed from the last
// STATE printed; after a last run to the end, the files' live rows are
// exactly what the fake serves.
func TestKilledAtRandomWithoutRecordsLeavesNoGhostRows(t *testing.T) {
	e, rng, dir, cat := randomKillsEnv(t, 13)
	var state string // the last STATE printed so far, as a --state file
	killed := 0
	for i := range 5 {
		args := []string{"--parquet-dir", dir, "--no-records"}
		if state != "" {
			args = append(args, "--state", state)
		}
		before := committedFiles(t, dir)
		want := before + 1 + rng.IntN(3)
		p := e.startRead(cat, args...)
		// stdout says little with --no-records: watch the files.
		deadline := time.Now().Add(2 * time.Minute)
		ended := false
		for !ended && committedFiles(t, dir) < want {
			select {
			case <-p.Done():
				ended = true
			case <-time.After(2 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatal("no file committed in 2 minutes")
			}
		}
		if !ended {
			killed++
		}
		r := p.Partial(t)
		if len(r.OfType(protocol.TypeState)) > 0 {
			state = r.StateFile(t)
		}
		var live []string
		for id, deleted := range parquetView(t, dir) {
			if !deleted {
				live = append(live, id)
			}
		}
		sort.Strings(live)
		gone := e.fake.DeleteRecentAmong(live, 1+rng.IntN(20), 25*24*time.Hour)
		gone = append(gone, e.fake.Delete(rng.IntN(4))...)
		added := e.fake.AddNew(rng.IntN(4))
		t.Logf("run %d: stopped with %d files (from %d), %d states printed; then %d rows deleted, %d added",
			i+1, committedFiles(t, dir), before, len(r.OfType(protocol.TypeState)), len(gone), len(added))
	}
	if killed == 0 {
		t.Fatal("no run was killed: the test proves nothing; make the fake slower")
	}
	args := []string{"read", "--config", e.config(nil), "--catalog", cat, "--parquet-dir", dir, "--no-records"}
	if state != "" {
		args = append(args, "--state", state)
	}
	last := st.Run(t, e.bin, args...)
	if last.Code != 0 {
		t.Fatalf("the last read exited %d\n%s", last.Code, last.Stderr)
	}
	st.ValidateProtocol(t, last)
	checkAgainstFake(t, "Parquet files", e, parquetView(t, dir))
}

// TestWebhookFastPathCrashLeavesNoGhostRows: with webhook_log, a run that
// reads only what the events name (the fast path) announces the new rows it
// reads too. Killed after emitting them and before the account's
// checkpoint, it leaves them in its last STATE; rows of them deleted before
// the next run, their deletion events lost (what reconciliations are for),
// still get their tombstones from that run.
func TestWebhookFastPathCrashLeavesNoGhostRows(t *testing.T) {
	// Enough new rows that stdout has some before the account ends (it
	// hands records on 256 KB at a time), and a latency that keeps the
	// account open after them: the look-up of the deleted id follows.
	e, _ := hookEnv(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 60, PageSize: 100, Latency: 300 * time.Millisecond})
	e.cfg["lookback_days"] = 30
	e.cfg["credit_lookback_days"] = 30
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r1 := e.read(cat)
	dest.apply(t, r1)
	cursor := func(r *st.Result, i int) string {
		var s struct {
			Accounts map[string]struct {
				CreatedAt string `json:"created_at"`
			} `json:"accounts"`
		}
		st.Must(t, json.Unmarshal(r.OfType(protocol.TypeState)[i].State.Stream.StreamState, &s), "state")
		for _, a := range s.Accounts {
			return a.CreatedAt
		}
		return ""
	}
	before := cursor(r1, len(r1.OfType(protocol.TypeState))-1)

	e.fake.Delete(1) // before AddNew, so one of the old rows
	added := e.fake.AddNew(600)
	e.deliver()
	p := e.startRead(cat, "--state", r1.StateFile(t))
	killAfterRecords(t, p, 1)
	killed := st.ParsePartial(t, p.Wait(t))
	dest.apply(t, killed)
	states := killed.OfType(protocol.TypeState)
	for i := range states {
		if cursor(killed, i) != before {
			t.Fatalf("the kill landed after the account's checkpoint (%d records): make the fake slower", len(killed.Records()["transactions"]))
		}
	}
	var out []string
	for _, raw := range killed.Records()["transactions"] {
		var x txRecord
		st.Must(t, json.Unmarshal(raw, &x), "record")
		if contains(added, x.ID) {
			out = append(out, x.ID)
		}
	}
	if len(out) == 0 {
		t.Fatal("the killed run emitted none of the new rows")
	}
	state := r1.StateFile(t)
	if len(states) > 0 {
		state = killed.StateFile(t)
	}
	t.Logf("killed with %d of the %d new rows emitted, %d states", len(out), len(added), len(states))

	e.fake.SetDeliveryFaults(fake.DeliveryFaults{DropPercent: 100})
	gone := e.fake.DeleteIDs(out[:min(5, len(out))])
	e.deliver()
	dead := dest.apply(t, e.read(cat, "--state", state))
	for _, id := range gone {
		if !contains(dead, id) {
			t.Errorf("row %s, emitted by the killed run and deleted since, got no tombstone", id)
		}
	}
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after the resumed run: %s", d)
	}
}

// TestParquetFilesNotCutByAnnouncements: announcements do not cut the
// Parquet files. A first sync of twelve accounts, each announcing its new
// ids, commits one transactions file, and an incremental run that finds
// new rows in several accounts one more; what goes to stdout ahead of the
// files is the last durable state with the announced ids listed, so every
// STATE still covers only rows in committed files (with --no-records its
// count is of rows in files) and lists every row the files hold.
func TestParquetFilesNotCutByAnnouncements(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 3, AccountsPerItem: 4, TransactionsPerAccount: 300, PageSize: 100})
	dir := t.TempDir()
	cat := e.catalog(true, "transactions")
	// CheckLifecycle counts the records on stdout: with --no-records
	// there are none, so the runs are checked here.
	read := func(extra ...string) *st.Result {
		t.Helper()
		r := st.Run(t, e.bin, append([]string{"read", "--config", e.config(nil), "--catalog", cat, "--parquet-dir", dir, "--no-records"}, extra...)...)
		if r.Code != 0 {
			t.Fatalf("read exited %d\n%s", r.Code, r.Stderr)
		}
		st.ValidateProtocol(t, r)
		return r
	}
	r1 := read()
	if n := committedFiles(t, dir); n != 1 {
		t.Fatalf("first sync: %d transactions files, want 1 (files cut by size only)", n)
	}
	counts := stateCounts(r1, "transactions")
	listings := 0
	for i, s := range stateBodies(t, r1, "transactions") {
		if bytes.Contains(s, []byte(`"created_at":""`)) {
			listings++ // an account only listed: a state ahead of the file
			if counts[i] != 0 {
				t.Errorf("a state ahead of the file counts %v records, want 0: %.200s", counts[i], s)
			}
		}
	}
	if listings == 0 {
		t.Fatal("no state listed ids ahead of the file: the test no longer exercises the merge")
	}

	// A run killed right after the commit, before the state after it,
	// leaves the listing as the last STATE printed: resumed from it, with
	// rows the file holds deleted meanwhile, the files end up as the fake.
	var listing json.RawMessage
	for _, s := range stateBodies(t, r1, "transactions") {
		if bytes.Contains(s, []byte(`"created_at":""`)) {
			listing = s
		}
	}
	var live []string
	for id, deleted := range parquetView(t, dir) {
		if !deleted {
			live = append(live, id)
		}
	}
	sort.Strings(live)
	if gone := e.fake.DeleteRecentAmong(live, 30, 6*24*time.Hour); len(gone) < 10 {
		t.Fatalf("only %d recent rows of the file deleted", len(gone))
	}
	resumed := t.TempDir()
	st.Must(t, os.CopyFS(resumed, os.DirFS(dir)), "copy the files")
	res := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--parquet-dir", resumed, "--no-records",
		"--state", st.StreamStateFile(t, "transactions", listing))
	if res.Code != 0 {
		t.Fatalf("read from the listing exited %d\n%s", res.Code, res.Stderr)
	}
	checkAgainstFake(t, "Parquet files resumed from the listing", e, parquetView(t, resumed))

	e.fake.AddNew(12)
	read("--state", r1.StateFile(t))
	if n := committedFiles(t, dir); n != 2 {
		t.Fatalf("after an incremental run with new rows in several accounts: %d transactions files, want 2", n)
	}
}

// stateCounts returns the sourceStats.recordCount of stream's STATEs.
func stateCounts(r *st.Result, stream string) []float64 {
	var out []float64
	for _, m := range r.OfType(protocol.TypeState) {
		if m.State.Stream != nil && m.State.Stream.StreamDescriptor.Name == stream && m.State.SourceStats != nil {
			out = append(out, float64(m.State.SourceStats.RecordCount))
		}
	}
	return out
}

// stateBodies returns stream's STATEs, in order.
func stateBodies(t *testing.T, r *st.Result, stream string) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for _, m := range r.OfType(protocol.TypeState) {
		if m.State.Stream != nil && m.State.Stream.StreamDescriptor.Name == stream {
			out = append(out, m.State.Stream.StreamState)
		}
	}
	return out
}
