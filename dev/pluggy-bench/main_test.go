package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "source-pluggy")
	if err := os.WriteFile(bin, nil, 0o700); err != nil {
		t.Fatal(err)
	}

	o, err := parseOptions(nil, io.Discard)
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if !reflect.DeepEqual(o.sizes, []int{1000, 10000}) || o.accounts != 100 || o.perItem != 4 || o.runs != 1 || !o.incremental || o.pageSize != 500 {
		t.Errorf("defaults: %+v", o)
	}

	o, err = parseOptions([]string{"-transactions", "5, 7", "-accounts", "6", "-accounts-per-item", "3", "-runs", "2",
		"-set", "lookback_days=0", "-set", `item_ids=["a"]`, "-latency", "50ms", "-incremental=false", "-bin", bin, "-baseline-bin", bin}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.sizes, []int{5, 7}) || o.accounts != 6 || o.perItem != 3 || o.runs != 2 || o.incremental ||
		o.latency != 50*time.Millisecond || o.bin != bin || o.baselineBin != bin {
		t.Errorf("parsed: %+v", o)
	}
	if string(o.set["lookback_days"]) != "0" || string(o.set["item_ids"]) != `["a"]` {
		t.Errorf("-set: %q", o.set)
	}

	for _, c := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"-transactions", "0"}, "-transactions"},
		{[]string{"-transactions", "10,x"}, "want positive integers"},
		{[]string{"-accounts", "10", "-accounts-per-item", "3"}, "not a multiple of -accounts-per-item 3"},
		{[]string{"-runs", "0"}, "must be positive"},
		{[]string{"-concurrency", "-1"}, "-concurrency 0 or more"},
		{[]string{"-set", "lookback_days"}, "want key=JSON"},
		{[]string{"-set", "lookback_days=seven"}, "want key=JSON"},
		{[]string{"-set", "=1"}, "want key=JSON"},
		{[]string{"-bin", filepath.Join(t.TempDir(), "absent")}, "-bin"},
		{[]string{"-baseline-bin", filepath.Join(t.TempDir(), "absent")}, "-baseline-bin"},
		{[]string{"-catalog", "no-such-catalog.json"}, "-catalog"},
		{[]string{"-no-such-flag"}, "no-such-flag"},
		{[]string{"100"}, `unexpected argument "100"`},
	} {
		_, err := parseOptions(c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error containing %q", c.args, err, c.want)
		}
	}
	var usage bytes.Buffer
	if _, err := parseOptions([]string{"-help"}, &usage); !errors.Is(err, flag.ErrHelp) || !strings.Contains(usage.String(), "-baseline-bin") {
		t.Errorf("-help: %v, usage %q", err, usage.String())
	}
}

func TestModuleRootFromThisPackage(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "fake-pluggy")); err != nil {
		t.Errorf("moduleRoot %s has no cmd/fake-pluggy: %v", root, err)
	}
}

func TestSideBySideReport(t *testing.T) {
	base := result{RecordsPerS: 400000, MedianRecordsPerS: 300000, Seconds: 2.5, CPUSeconds: 3, PeakRSSKiB: 40 * 1024, Requests: 2051}
	this := result{RecordsPerS: 440000, MedianRecordsPerS: 330000, Seconds: 2, CPUSeconds: 3, PeakRSSKiB: 30 * 1024, Requests: 2051}
	var out bytes.Buffer
	printSideBySide(&out, []comparison{{Name: "100×10000 first sync", Base: base, This: this}})
	want := map[string][]string{
		"records/s":        {"400000", "440000", "+10.0%"},
		"median records/s": {"300000", "330000", "+10.0%"},
		"seconds":          {"2.50", "2.00", "-20.0%"},
		"CPU s":            {"3.00", "3.00", "+0.0%"},
		"peak RSS MB":      {"40.0", "30.0", "-25.0%"},
		"requests":         {"2051", "2051", "+0.0%"},
	}
	sc := bufio.NewScanner(&out)
	sc.Scan()
	if h := strings.Fields(sc.Text()); !reflect.DeepEqual(h, []string{"run", "figure", "baseline", "this", "build", "change"}) {
		t.Errorf("header %q", sc.Text())
	}
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(strings.TrimSpace(line), "100×10000 first sync") {
			t.Errorf("row not named for its run: %q", line)
		}
		// The run's name is three words, the figures the last three.
		f := strings.Fields(line)
		figure := strings.Join(f[3:len(f)-3], " ")
		cols, ok := want[figure]
		if !ok {
			t.Errorf("unexpected row %q", line)
			continue
		}
		if got := f[len(f)-3:]; !reflect.DeepEqual(got, cols) {
			t.Errorf("%s: got %q, want %q", figure, got, cols)
		}
		delete(want, figure)
	}
	if len(want) > 0 {
		t.Errorf("rows missing: %v\n%s", want, out.String())
	}
	if got := change(0, 5); got != "n/a" {
		t.Errorf("change from 0: %q", got)
	}
}

// TestCountReadsTheProtocolStream feeds count a stream with a STATE longer
// than its read buffer and checks what a report and the next --state are
// made of.
func TestCountReadsTheProtocolStream(t *testing.T) {
	big := strings.Repeat("x", 3<<20)
	lines := []string{
		`{"type":"RECORD","record":{"stream":"transactions","data":{"id":"1"},"emitted_at":1}}`,
		`{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":{"n":1}},"sourceStats":{"recordCount":1.0}}}`,
		`{"type":"RECORD","record":{"stream":"transactions","data":{"id":"2"},"emitted_at":1}}`,
		`{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"transactions"},"stream_state":{"pad":"` + big + `"}}}}`,
		`{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"items"},"stream_state":{"__ab_no_cursor_state_message":true}},"sourceStats":{"recordCount":40}}}`,
		`{"type":"TRACE","trace":{"type":"ERROR","emitted_at":1,"error":{"message":"boom"}}}`,
	}
	in := strings.Join(lines, "\n") + "\n"
	c, err := count(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if c.records != 2 || c.states != 3 || c.bytes != int64(len(in)) {
		t.Errorf("records %d, states %d, bytes %d (want 2, 3, %d)", c.records, c.states, c.bytes, len(in))
	}
	if c.stateCounted != 41 {
		t.Errorf("the STATEs' recordCount add up to %d, want 41", c.stateCounted)
	}
	if !strings.Contains(string(c.lastState["transactions"]), big) || len(c.lastState) != 2 {
		t.Errorf("last states: %d streams, transactions %d bytes", len(c.lastState), len(c.lastState["transactions"]))
	}
	if !strings.Contains(string(c.lastError), "boom") {
		t.Errorf("last error %q", c.lastError)
	}
	st, err := stateFile(c.lastState)
	if err != nil {
		t.Fatal(err)
	}
	var states []struct {
		Stream struct {
			Descriptor struct{ Name string } `json:"stream_descriptor"`
		} `json:"stream"`
	}
	if err := json.Unmarshal(st, &states); err != nil || len(states) != 2 {
		t.Fatalf("state file %.200s: %v", st, err)
	}
}

// TestTinyRunAgainstTheFake runs the whole tool, as `go run ./dev/pluggy-bench`
// would, on 2 accounts × 20 rows: the real binaries, the fake in its own
// process, a baseline side by side (the same build, so both read the same
// rows with the same requests), the serial run and the unchanged
// incremental run within its request budget.
func TestTinyRunAgainstTheFake(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs source-pluggy and fake-pluggy")
	}
	bins := buildBins(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"-accounts", "2", "-accounts-per-item", "1", "-transactions", "20", "-runs", "2", "-serial",
		"-bin", filepath.Join(bins, "source-pluggy"), "-fake-bin", filepath.Join(bins, "fake-pluggy"),
		"-baseline-bin", filepath.Join(bins, "source-pluggy")}

	var stdout, stderr bytes.Buffer
	if err := run(ctx, append(args, "-json"), &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	byName := map[string]result{}
	var pairs []comparison
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if strings.Contains(line, `"side_by_side"`) {
			var c comparison
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			pairs = append(pairs, c)
			continue
		}
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		byName[r.Name+"/"+r.Concurrency] = r
	}
	first, base, serial := byName["2×20 first sync/default"], byName["2×20 first sync (baseline)/default"], byName["2×20 first sync/1"]
	for name, r := range map[string]result{"first sync": first, "baseline": base, "serial": serial} {
		// 2 items of 1 checking account each, 20 rows apiece; 1 auth,
		// 2 items, 2 account lists and 2 pages.
		if r.Records != 40 || r.Requests != 7 || r.States == 0 || r.Seconds <= 0 || r.PeakRSSKiB <= 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if !strings.HasPrefix(first.Note, "best of 2 runs") || !strings.HasPrefix(base.Note, "best of 2 runs") {
		t.Errorf("notes: %q, %q", first.Note, base.Note)
	}
	inc, ok := byName["2×20 unchanged incremental/default"]
	if !ok || !strings.Contains(inc.Note, "budget 1 + 2×2 items + 2×2 accounts = 9") || strings.Contains(inc.Note, "OVER BUDGET") || inc.Requests > 9 {
		t.Errorf("unchanged incremental: %+v", inc)
	}
	if len(pairs) != 1 || pairs[0].Name != "2×20 first sync" || pairs[0].Base.Records != 40 || pairs[0].This.Records != 40 {
		t.Errorf("side by side: %+v", pairs)
	}

	// The same run as text: the table, then the side-by-side table.
	stdout.Reset()
	if err := run(ctx, append(args, "-runs", "1", "-incremental=false"), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, want := range []string{"records/s", "2×20 first sync (baseline)", "side by side with -baseline-bin", "this build", "peak RSS MB"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

// buildBins builds source-pluggy and fake-pluggy into a temporary directory
// and returns it.
func buildBins(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bins := t.TempDir()
	for _, name := range []string{"source-pluggy", "fake-pluggy"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bins, name), "./cmd/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", name, err, out)
		}
	}
	return bins
}

// TestPrintPostgres: the load's targets are reported from the largest
// peak of any run at the smallest and largest sizes, and the baseline's
// runs are left out.
func TestPrintPostgres(t *testing.T) {
	var b best
	for _, r := range []result{
		{Name: "100×10000 first sync --postgres", Records: 1000000, Seconds: 10, RecordsPerS: 100000, PeakRSSKiB: 45 * 1024},
		{Name: "100×10000 first sync --postgres", Records: 1000000, Seconds: 9, RecordsPerS: 111111, PeakRSSKiB: 44 * 1024},
		{Name: "100×10000 first sync --postgres", Records: 1000000, Seconds: 11, RecordsPerS: 90909, PeakRSSKiB: 44 * 1024},
	} {
		b.add(r)
	}
	rs := []result{
		{Name: "100×1000 first sync --postgres", Records: 100000, RecordsPerS: 110000, MedianRecordsPerS: 105000, PeakRSSKiB: 40 * 1024},
		{Name: "100×1000 first sync --postgres (baseline)", Records: 100000, PeakRSSKiB: 10 * 1024},
		b.result(),
	}
	var out bytes.Buffer
	printPostgres(&out, rs)
	for _, want := range []string{
		"at 1000000 rows: 111111 records/s best, 100000 median",
		"40.0 MB at 100000 rows, 45.0 MB at 1000000 rows: +12.5%",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}
