package parquet

// End-to-end tests through the built source-pluggy binary against the fake
// Pluggy server: every value in the files is compared with the JSON records
// of the same run, read back by two Parquet implementations; a run killed
// with SIGKILL leaves only complete files holding every record its STATEs
// covered.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// fakeRun is a fake Pluggy server with a config and a configured catalog of
// every stream discover lists (incremental where supported).
type fakeRun struct {
	bin, config, catalog string
	streams              map[string]protocol.Stream
	modes                map[string]protocol.SyncMode
	server               *fake.Server
}

func newFakeRun(t *testing.T, opts fake.Options) *fakeRun {
	t.Helper()
	return newHostileRun(t, opts, nil)
}

// newHostileRun is newFakeRun with the fake's misbehaviour h (nil: none).
func newHostileRun(t *testing.T, opts fake.Options, h *fake.Hostile) *fakeRun {
	t.Helper()
	return newWrappedRun(t, opts, func(f *fake.Server) http.Handler {
		if h != nil {
			return f.HostileHandler(*h)
		}
		return f.Handler()
	})
}

// newWrappedRun is newFakeRun serving the handler serve makes of the fake.
func newWrappedRun(t *testing.T, opts fake.Options, serve func(*fake.Server) http.Handler) *fakeRun {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	f := fake.New(opts)
	srv := httptest.NewServer(serve(f))
	t.Cleanup(srv.Close)
	r := &fakeRun{bin: sourcetest.Build(t, "source-pluggy"), server: f, streams: map[string]protocol.Stream{}, modes: map[string]protocol.SyncMode{}}
	r.config = sourcetest.WriteFile(t, "config.json", map[string]any{
		"client_id": f.ClientID(), "client_secret": f.ClientSecret(), "item_ids": f.ItemIDs(),
		"base_url": srv.URL, "requests_per_minute": 0,
	})
	disc := sourcetest.Run(t, r.bin, "discover", "--config", r.config)
	cats := disc.OfType(protocol.TypeCatalog)
	if disc.Code != 0 || len(cats) != 1 {
		t.Fatalf("discover: code %d\n%s%s", disc.Code, disc.Stdout, disc.Stderr)
	}
	var configured protocol.ConfiguredCatalog
	for _, s := range cats[0].Catalog.Streams {
		cs := protocol.ConfiguredStream{Stream: s, SyncMode: protocol.FullRefresh, DestinationSyncMode: "append", PrimaryKey: s.SourceDefinedPrimaryKey}
		for _, m := range s.SupportedSyncModes {
			if m == protocol.Incremental {
				cs.SyncMode, cs.CursorField = protocol.Incremental, s.DefaultCursorField
			}
		}
		configured.Streams = append(configured.Streams, cs)
		r.streams[s.Name] = s
		r.modes[s.Name] = cs.SyncMode
	}
	r.catalog = sourcetest.WriteFile(t, "catalog.json", configured)
	return r
}

func (r *fakeRun) names() []string {
	var out []string
	for n := range r.streams {
		out = append(out, n)
	}
	return out
}

// runEnv runs the binary with extra environment variables.
func runEnv(t *testing.T, env []string, bin string, args ...string) *sourcetest.Result {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return sourcetest.Run(t, bin, args...)
}

func TestEndToEndEveryValue(t *testing.T) {
	r := newFakeRun(t, fake.Options{Items: 2, AccountsPerItem: 3, TransactionsPerAccount: 700, PageSize: 200})
	dir := t.TempDir()
	res := runEnv(t, []string{RowsPerFileEnv + "=1000"}, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir)
	if res.Code != 0 {
		t.Fatalf("read exited %d\n%s", res.Code, res.Stderr)
	}
	sourcetest.ValidateProtocol(t, res)
	sourcetest.CheckLifecycle(t, res, r.names())
	records := res.Records()
	if n := len(records["transactions"]); n != 6*700 {
		t.Fatalf("%d transactions on stdout, want %d", n, 6*700)
	}
	total := 0
	for name, st := range r.streams {
		files := streamFiles(t, filepath.Join(dir, name))
		if len(records[name]) == 0 {
			if len(files) != 0 {
				t.Errorf("%s: no records but files %v", name, files)
			}
			continue
		}
		// Incremental transactions also cut a file where the read
		// announces new ids (connector/pluggy/announce.go).
		if want := (len(records[name]) + 999) / 1000; len(files) != want && !(name == "transactions" && len(files) > want) {
			t.Errorf("%s: %d files for %d records, want %d", name, len(files), len(records[name]), want)
		}
		checkFiles(t, files, st.JSONSchema, records[name])
		for _, f := range files {
			kv := fileMeta(t, f).KeyValueMetadata()
			for k, want := range map[string]string{MetaStream: name, MetaSyncMode: string(r.modes[name]), MetaVersion: source.Version} {
				if got := kv.FindValue(k); got == nil || *got != want {
					t.Errorf("%s: metadata %s = %v, want %q", f, k, got, want)
				}
			}
			var inFile, discovered any
			if got := kv.FindValue(MetaJSONSchema); got == nil || json.Unmarshal([]byte(*got), &inFile) != nil ||
				json.Unmarshal(st.JSONSchema, &discovered) != nil || !equalValue(inFile, discovered) {
				t.Errorf("%s: metadata %s is not the stream's JSON Schema", f, MetaJSONSchema)
			}
		}
		if tmps := temps(t, filepath.Join(dir, name)); len(tmps) != 0 {
			t.Errorf("%s: temporaries left: %v", name, tmps)
		}
		total += len(records[name])
	}
	t.Logf("%d records in %d streams compared value by value with arrow and xitongsys", total, len(r.streams))

	// The values that matter most, spelled out: every transaction id of the
	// fake is there once, and the amounts add up to the cent.
	count, ids, sumCents := r.server.TransactionSummary()
	rows := readArrowDir(t, filepath.Join(dir, "transactions"))
	if len(rows) != count {
		t.Errorf("%d transaction rows, fake has %d", len(rows), count)
	}
	var cents int64
	seen := map[string]bool{}
	for _, row := range rows {
		id := row["id"].(string)
		if _, ok := ids[id]; !ok || seen[id] {
			t.Errorf("transaction %s unknown or repeated", id)
		}
		seen[id] = true
		amount, ok := new(big.Rat).SetString(strings.TrimPrefix(row["amount"].(string), "dec:"))
		amount.Mul(amount, big.NewRat(100, 1))
		if !ok || !amount.IsInt() {
			t.Fatalf("transaction %s: amount %v is not whole cents", id, row["amount"])
		}
		cents += amount.Num().Int64()
	}
	if cents != sumCents {
		t.Errorf("transactions add up to %d cents, fake says %d", cents, sumCents)
	}

	// An incremental run with --no-records adds files and changes none.
	before := hashFiles(t, dir)
	state := res.StateFile(t)
	res2 := runEnv(t, []string{RowsPerFileEnv + "=1000"}, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--state", state, "--parquet-dir", dir, "--no-records", "--parquet-compression", "snappy")
	if res2.Code != 0 {
		t.Fatalf("second read exited %d\n%s", res2.Code, res2.Stderr)
	}
	if n := len(res2.OfType(protocol.TypeRecord)); n != 0 {
		t.Errorf("--no-records printed %d RECORD messages", n)
	}
	if len(res2.OfType(protocol.TypeState)) == 0 {
		t.Error("--no-records printed no STATE")
	}
	after := hashFiles(t, dir)
	for f, h := range before {
		if after[f] != h {
			t.Errorf("%s changed or vanished in the second run", f)
		}
	}
	counted := map[string]int{}
	for _, m := range res2.OfType(protocol.TypeState) {
		counted[m.State.Stream.StreamDescriptor.Name] += int(m.State.SourceStats.RecordCount)
	}
	for name := range r.streams {
		var added []string
		for _, f := range streamFiles(t, filepath.Join(dir, name)) {
			if _, old := before[f]; !old {
				added = append(added, f)
			}
		}
		rows := 0
		for _, f := range added {
			rows += len(readArrow(t, f))
			if *fileMeta(t, f).KeyValueMetadata().FindValue(MetaSyncMode) != string(r.modes[name]) {
				t.Errorf("%s: wrong sync mode metadata", f)
			}
		}
		if rows != counted[name] {
			t.Errorf("%s: second run's states count %d records, its new files hold %d", name, counted[name], rows)
		}
	}
}

func readArrowDir(t *testing.T, dir string) []map[string]any {
	var rows []map[string]any
	for _, f := range streamFiles(t, dir) {
		rows = append(rows, readArrow(t, f)...)
	}
	return rows
}

func hashFiles(t *testing.T, dir string) map[string][32]byte {
	out := map[string][32]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = sha256.Sum256(b)
		}
		return nil
	})
	return out
}

// TestKilledReadStateCoversOnlyCommittedFiles kills the binary with SIGKILL
// in the middle of the transactions stream, with a file committed every 170
// rows. Every record counted by a STATE it printed must be in a visible
// file, every visible file must be complete, and a resumed run must remove
// the stale temporary and leave no transaction missing.
func TestKilledReadStateCoversOnlyCommittedFiles(t *testing.T) {
	r := newFakeRun(t, fake.Options{Items: 2, AccountsPerItem: 3, TransactionsPerAccount: 3000, PageSize: 50, Latency: 10 * time.Millisecond})
	dir := t.TempDir()
	cmd := exec.Command(r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir)
	cmd.Env = append(os.Environ(), RowsPerFileEnv+"=170")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read as it goes; kill soon after the first transactions STATE.
	var lines [][]byte
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	txStates, killed := 0, false
	deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		lines = append(lines, line)
		var m protocol.Message
		if err := json.Unmarshal(line, &m); err != nil {
			if killed { // the kill cut the last line short
				lines = lines[:len(lines)-1]
				break
			}
			t.Fatalf("not a message: %s", line)
		}
		// The first transactions STATE covering records (the read's
		// first is an announcement ahead of any).
		if m.State != nil && m.State.Stream.StreamDescriptor.Name == "transactions" && m.State.SourceStats != nil && m.State.SourceStats.RecordCount > 0 {
			if txStates++; txStates == 1 && !killed {
				// Let it get well into the next file, then kill.
				time.Sleep(30 * time.Millisecond)
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the read ended before it could be killed (%v); make the fake bigger\n%s", err, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the read was not killed by SIGKILL: %v", cmd.ProcessState)
	}

	// Records printed before each stream's last STATE, and the counts.
	printed := map[string][]string{} // record ids since the start, per stream
	covered := map[string]int{}      // how many of them the last STATE covers
	counted := map[string]int{}      // sum of recordCount
	for _, line := range lines {
		var m protocol.Message
		json.Unmarshal(line, &m)
		switch {
		case m.Record != nil:
			var rec struct {
				ID string `json:"id"`
			}
			json.Unmarshal(m.Record.Data, &rec)
			printed[m.Record.Stream] = append(printed[m.Record.Stream], rec.ID)
		case m.State != nil:
			name := m.State.Stream.StreamDescriptor.Name
			covered[name] = len(printed[name])
			counted[name] += int(m.State.SourceStats.RecordCount)
		}
	}
	if covered["transactions"] == 0 || covered["transactions"] == 6*3000 {
		t.Fatalf("killed at a useless point: %d transactions covered", covered["transactions"])
	}
	for name := range r.streams {
		if counted[name] != covered[name] {
			t.Errorf("%s: STATE recordCounts add up to %d, %d records were printed before the last STATE", name, counted[name], covered[name])
		}
		inFiles := map[string]bool{}
		for _, f := range streamFiles(t, filepath.Join(dir, name)) {
			// Complete: both readers read every row and agree.
			a, x := readArrow(t, f), readXitongsys(t, f)
			compareRows(t, "xitongsys vs arrow "+filepath.Base(f), a, x)
			for _, row := range a {
				if id, ok := row["id"].(string); ok {
					inFiles[id] = true
				}
			}
		}
		missing := 0
		for _, id := range printed[name][:covered[name]] {
			if !inFiles[id] {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of the %d records covered by a printed STATE are in no visible file", name, missing, covered[name])
		}
		t.Logf("%s: %d records printed, %d covered by STATEs, %d in visible files", name, len(printed[name]), covered[name], len(inFiles))
	}
	stale := temps(t, filepath.Join(dir, "transactions"))
	if len(stale) == 0 {
		t.Log("the kill landed between two files: no temporary to clean up")
	}

	// Resume from the printed states: the temporary goes, nothing is missing.
	time.Sleep(10 * time.Millisecond) // the next run starts after the temporary's mtime
	var states []json.RawMessage
	last := map[string]json.RawMessage{}
	for _, line := range lines {
		var m struct {
			Type  string          `json:"type"`
			State json.RawMessage `json:"state"`
		}
		json.Unmarshal(line, &m)
		if m.Type == "STATE" {
			var s protocol.State
			json.Unmarshal(m.State, &s)
			last[s.Stream.StreamDescriptor.Name] = m.State
		}
	}
	for _, s := range last {
		states = append(states, s)
	}
	stateFile := sourcetest.WriteFile(t, "state.json", states)
	res := runEnv(t, []string{RowsPerFileEnv + "=170"}, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--state", stateFile, "--parquet-dir", dir, "--no-records")
	if res.Code != 0 {
		t.Fatalf("resumed read exited %d\n%s", res.Code, res.Stderr)
	}
	for _, f := range stale {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("stale temporary %s survived the next run: %v", f, err)
		}
	}
	_, ids, _ := r.server.TransactionSummary()
	have := map[string]bool{}
	for _, row := range readArrowDir(t, filepath.Join(dir, "transactions")) {
		have[row["id"].(string)] = true
	}
	missing := 0
	for id := range ids {
		if !have[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("after resuming, %d of the fake's %d transactions are in no file", missing, len(ids))
	}
}

// TestStatelessReadIntoFilesWarns: an incremental read into a --parquet-dir
// whose stream folder holds earlier runs' files, given no state for the
// stream, writes every row again beside them; it says so once per stream,
// naming the folder and the fix, where it said only that the stream was
// read from start_date, as on a first sync. With the state, nothing is
// said.
func TestStatelessReadIntoFilesWarns(t *testing.T) {
	r := newFakeRun(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 20})
	dir := t.TempDir()
	read := func(extra ...string) *sourcetest.Result {
		t.Helper()
		res := sourcetest.Run(t, r.bin, append([]string{"read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir, "--no-records"}, extra...)...)
		if res.Code != 0 {
			t.Fatalf("read: exit %d\n%s", res.Code, res.Stderr)
		}
		return res
	}
	first := read()
	if first.Warned("already holds") {
		t.Errorf("a first read into an empty directory warned of earlier files:\n%s", first.Stderr)
	}
	again := read()
	if !again.Warned(filepath.Join(dir, "transactions"), "already holds", "no state for the stream", "--state-file") {
		t.Errorf("a read without state into the files of an earlier one did not warn:\n%s", again.Stderr)
	}
	n := 0
	for _, m := range again.OfType(protocol.TypeLog) {
		if strings.Contains(m.Log.Message, filepath.Join(dir, "transactions")+" already holds") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the transactions folder's WARN said %d times, want once", n)
	}
	if resumed := read("--state", first.StateFile(t)); resumed.Warned("already holds") {
		t.Errorf("a read from the last state warned of earlier files:\n%s", resumed.Stderr)
	}
}
