package parquet

// Through the binary: one read per --parquet-dir, and a sink that cannot
// write says why plainly and lets no STATE count what no file holds.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

func TestSecondReadOnTheSameDirectoryExitsAtOnce(t *testing.T) {
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	r := newWrappedRun(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 50}, func(f *fake.Server) http.Handler {
		inner := f.Handler()
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.Contains(req.URL.Path, "transactions") {
				select {
				case entered <- struct{}{}:
				default:
				}
				select { // the first read holds the directory meanwhile
				case <-gate:
				case <-req.Context().Done():
				}
			}
			inner.ServeHTTP(w, req)
		})
	})
	var opened bool
	defer func() {
		if !opened {
			close(gate)
		}
	}()
	dir := t.TempDir()
	first := exec.Command(r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir)
	var firstOut bytes.Buffer
	first.Stdout = &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	select {
	case <-entered:
	case err := <-done:
		t.Fatalf("the first read ended before reading transactions: %v\n%s", err, firstOut.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("the first read never asked for transactions")
	}
	// A crashed run's temporary: the second read would delete it (it is
	// older than its start) if it got past the lock.
	stale := filepath.Join(dir, "transactions", ".part-19990101T000000Z-00001.parquet.tmp")
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)

	res := sourcetest.Run(t, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir)
	sourcetest.ValidateProtocol(t, res)
	traces := res.ErrorTraces()
	if res.Code != 1 || len(traces) != 1 || traces[0].FailureType != protocol.ConfigError {
		t.Fatalf("second read: exit %d, traces %+v\n%s", res.Code, traces, res.Stderr)
	}
	for _, want := range []string{dir, "in use by another read", "pid " + strconv.Itoa(first.Process.Pid), "started 20"} {
		if !strings.Contains(traces[0].Message, want) {
			t.Errorf("error %q lacks %q", traces[0].Message, want)
		}
	}
	if n := len(res.Records()); n != 0 {
		t.Errorf("the second read emitted records of %d streams", n)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Errorf("the second read touched the directory: %v", err)
	}

	opened = true
	close(gate)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("first read: %v\n%s", err, firstOut.String())
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("the first read did not end")
	}
	if files := streamFiles(t, filepath.Join(dir, "transactions")); len(files) != 1 {
		t.Errorf("first read's transactions files: %v", files)
	}
	// The lock goes with its holder: a third read runs.
	if res := sourcetest.Run(t, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir); res.Code != 0 {
		t.Errorf("a read after the first ended: exit %d\n%s", res.Code, res.Stderr)
	}
}

// stateCounts returns, per stream, the recordCount of each STATE.
func stateCounts(t *testing.T, res *sourcetest.Result) map[string][]float64 {
	t.Helper()
	out := map[string][]float64{}
	for _, m := range res.OfType(protocol.TypeState) {
		b, _ := json.Marshal(m.State)
		var st struct {
			Stream struct {
				Descriptor struct{ Name string } `json:"stream_descriptor"`
			} `json:"stream"`
			Stats struct {
				RecordCount float64 `json:"recordCount"`
			} `json:"sourceStats"`
		}
		json.Unmarshal(b, &st)
		out[st.Stream.Descriptor.Name] = append(out[st.Stream.Descriptor.Name], st.Stats.RecordCount)
	}
	return out
}

// TestFullDiskNamedPlainlyAndNoStateAhead: on a disk too small for the
// files, every stream with records fails saying the disk is full, and no
// STATE counts a record no file holds.
func TestFullDiskNamedPlainlyAndNoStateAhead(t *testing.T) {
	r := newFakeRun(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 3000, PageSize: 500})
	dir := smallDisk(t, "160k")
	res := sourcetest.Run(t, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir, "--no-records")
	sourcetest.ValidateProtocol(t, res)
	if res.Code == 0 {
		t.Fatalf("the read succeeded on a full disk\n%s", res.Stderr)
	}
	full := res.ErrorsMentioning("the disk is full")
	if len(full) == 0 {
		t.Fatalf("no error says the disk is full: %+v", res.ErrorTraces())
	}
	for _, tr := range res.ErrorTraces() {
		if strings.Contains(tr.Message, "unknown error type") {
			t.Errorf("error text: %s", tr.Message)
		}
	}
	// Every STATE's records must be in the files.
	inFiles := map[string]int{}
	for name := range r.streams {
		for _, f := range streamFiles(t, filepath.Join(dir, name)) {
			inFiles[name] += int(fileMeta(t, f).NumRows)
		}
	}
	for name, counts := range stateCounts(t, res) {
		for _, c := range counts {
			if int(c) > inFiles[name] {
				t.Errorf("%s: a STATE counts %v records, the files hold %d", name, c, inFiles[name])
			}
		}
	}
}

// TestUnwritableDirectoryRefusedBeforeReading: a stream's folder that
// exists but takes no file (read-only for a user, immutable for root) is
// found at open: one config_error names it and the fix, and nothing is
// read, where the stream failed at its first file, once it had read (and
// spent the API's calls on) its rows, after the streams before it. A
// failure to write met later (a full disk) still keeps every STATE behind
// the files: TestFullDiskNamedPlainlyAndNoStateAhead.
func TestUnwritableDirectoryRefusedBeforeReading(t *testing.T) {
	r := newFakeRun(t, fake.Options{Items: 2, AccountsPerItem: 2, TransactionsPerAccount: 30, PageSize: 10})
	dir := t.TempDir()
	sub := filepath.Join(dir, "transactions")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	readOnly(t, sub)
	r.server.ResetStats()
	res := sourcetest.Run(t, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir)
	sourcetest.ValidateProtocol(t, res)
	errs := res.ErrorTraces()
	if res.Code != 1 || len(errs) != 1 || errs[0].FailureType != protocol.ConfigError ||
		len(res.ErrorsMentioning("parquet: stream transactions: cannot write to "+sub, "--parquet-dir", "Nothing was read")) != 1 {
		t.Fatalf("exit %d, errors %+v; want one config_error naming the folder and the fix", res.Code, errs)
	}
	if n := len(res.OfType(protocol.TypeRecord)) + len(res.OfType(protocol.TypeState)); n > 0 {
		t.Errorf("%d records and states before the refusal", n)
	}
	if got := r.server.Stats().ByRoute; len(got) > 0 {
		t.Errorf("the API was called before the refusal: %v", got)
	}
}

// readOnly makes dir refuse new files: chmod for a user, the immutable
// attribute for root (whom permissions do not stop), or skips.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("root cannot make a folder immutable here (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
}

// smallDisk mounts a tmpfs of size for the test, or skips where the test
// may not mount (not root, no CAP_SYS_ADMIN).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// TestFolderOfAnotherConnectorIsRefused: two connectors given one
// --parquet-dir would mix their transactions (two schemas) in one folder.
// The second is refused before anything is read, naming the folder, the
// other connector and the fix; its own files (a second run) pass.
func TestFolderOfAnotherConnectorIsRefused(t *testing.T) {
	r := newFakeRun(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 20})
	dir := t.TempDir()
	// Another connector's transactions, written by the same sink as it
	// writes them.
	other := testStream{name: "transactions", schema: json.RawMessage(kitchenSchema)}
	s, w := openOne(t, other, Options{Dir: dir, Provider: "gocardless"})
	writeAll(t, w, raws(kitchenRecords[:1]))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	res := sourcetest.Run(t, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", dir)
	sourcetest.ValidateProtocol(t, res)
	traces := res.ErrorTraces()
	if res.Code != 1 || len(traces) != 1 || traces[0].FailureType != protocol.ConfigError {
		t.Fatalf("read: exit %d, traces %+v\n%s", res.Code, traces, res.Stderr)
	}
	for _, want := range []string{filepath.Join(dir, "transactions"), "holds gocardless data", "this read is of pluggy", "own --parquet-dir"} {
		if !strings.Contains(traces[0].Message, want) {
			t.Errorf("the error does not say %q: %s", want, traces[0].Message)
		}
	}
	if n := len(res.Records()); n != 0 {
		t.Errorf("%d records read before the refusal", n)
	}

	// The connector's own files: a second run into its own folder passes.
	own := t.TempDir()
	for run := range 2 {
		res := sourcetest.Run(t, r.bin, "read", "--config", r.config, "--catalog", r.catalog, "--parquet-dir", own)
		if res.Code != 0 {
			t.Fatalf("run %d into its own folder: exit %d\n%s", run+1, res.Code, res.Stderr)
		}
	}
}
