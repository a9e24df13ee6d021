// Command pluggy-bench measures source-pluggy end to end: it starts the fake
// Pluggy API (cmd/fake-pluggy --prewarm, its own process) with N accounts ×
// M transactions, runs the source-pluggy binary reading the transactions
// stream incrementally to a pipe, and prints records/s, MB/s of stdout, the
// connector's peak RSS and CPU time, the fake's CPU time and the requests
// the fake served. Run it from the repository root:
//
//	go run ./cmd/pluggy-bench                               # 100 accounts × 1,000 and × 10,000 rows
//	go run ./cmd/pluggy-bench -latency 50ms -transactions 500 -serial
//	go run ./cmd/pluggy-bench -compare-node                 # the official Node SDK side by side
//
// Each size is read once as a first sync (-runs N keeps the fastest of N),
// optionally again with max_concurrency 1 (-serial), then incrementally from
// the first sync's state with nothing changed, whose requests are checked
// against the budget 1 auth + 2 per item + 2 per account.
//
// The peak RSS is the connector's own ru_maxrss. The fake runs in another
// process because Linux carries a parent's peak RSS over exec into its
// child's, so a fake holding a gigabyte of pre-encoded pages in this process
// would be reported as the connector's memory.
//
// Pacing is off in the benchmark config (requests_per_minute: 0): against the
// real API the default pace of 300 requests a minute per endpoint, under
// Pluggy's 360/min per IP, bounds a sync at about 5 pages (2,500 rows) a
// second, whatever the connector could do.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "pluggy-bench:", err)
		}
		os.Exit(1)
	}
}

type options struct {
	accounts, perItem, pageSize, concurrency, runs int
	sizes                                          []int
	catalog                                        string
	set                                            map[string]json.RawMessage
	latency                                        time.Duration
	bin, fakeBin, nodeDir                          string
	serial, incremental, compareNode, jsonOut      bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pluggy-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	sizes := fs.String("transactions", "1000,10000", "transactions per account; a comma-separated list runs each size")
	fs.IntVar(&o.accounts, "accounts", 100, "accounts in all")
	fs.IntVar(&o.perItem, "accounts-per-item", 4, "accounts per item")
	fs.IntVar(&o.pageSize, "page-size", 500, "fake page size (the real API's is 500)")
	fs.IntVar(&o.concurrency, "concurrency", 0, "connector max_concurrency (0: the connector's default)")
	fs.IntVar(&o.runs, "runs", 1, "timed runs per size; the best is reported")
	fs.DurationVar(&o.latency, "latency", 0, "delay the fake adds before every response")
	fs.BoolVar(&o.serial, "serial", false, "also read with max_concurrency 1 and report the speedup")
	fs.BoolVar(&o.incremental, "incremental", true, "after the first sync, run an unchanged incremental sync from its state and count its requests")
	fs.BoolVar(&o.compareNode, "compare-node", false, "also read the same data with the official Node SDK's fetchAllTransactions loop")
	fs.StringVar(&o.nodeDir, "node-dir", "cmd/pluggy-bench/node", "directory of fetch_all.mjs and its node_modules (npm install there first)")
	fs.StringVar(&o.bin, "bin", "", "source-pluggy binary (default: go build ./cmd/source-pluggy)")
	fs.StringVar(&o.fakeBin, "fake-bin", "", "fake-pluggy binary (default: go build ./cmd/fake-pluggy)")
	fs.BoolVar(&o.jsonOut, "json", false, "print results as JSON lines")
	fs.StringVar(&o.catalog, "catalog", "", "configured catalog file (default: transactions only, incremental); e.g. catalogs/pluggy_incremental.json for every stream")
	o.set = map[string]json.RawMessage{}
	fs.Func("set", "extra connector config, `key=JSON` (repeatable), e.g. -set lookback_days=0", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !json.Valid([]byte(v)) {
			return fmt.Errorf("want key=JSON, got %q", kv)
		}
		o.set[k] = json.RawMessage(v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-transactions %q: want positive integers", *sizes)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.accounts < 1 || o.perItem < 1 || o.runs < 1 {
		return errors.New("-accounts, -accounts-per-item and -runs must be positive")
	}
	if o.accounts%o.perItem != 0 {
		return fmt.Errorf("-accounts %d is not a multiple of -accounts-per-item %d", o.accounts, o.perItem)
	}

	dir, err := os.MkdirTemp("", "pluggy-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, b := range []struct {
		path *string
		name string
	}{{&o.bin, "source-pluggy"}, {&o.fakeBin, "fake-pluggy"}} {
		if *b.path != "" {
			continue
		}
		*b.path = filepath.Join(dir, b.name)
		fmt.Fprintf(stderr, "building ./cmd/%s\n", b.name)
		build := exec.CommandContext(ctx, "go", "build", "-o", *b.path, "./cmd/"+b.name)
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building %s (run from the repository root, or pass -bin and -fake-bin): %w", b.name, err)
		}
	}

	var results []result
	report := func(r result) {
		results = append(results, r)
		if o.jsonOut {
			b, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(b))
		} else {
			fmt.Fprintf(stderr, "  %s\n", r.short())
		}
	}
	fmt.Fprintf(stderr, "machine: %s, %d CPUs, %s %s/%s, load average %s\n", cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, loadAverage())
	for _, m := range o.sizes {
		if err := benchSize(ctx, o, m, dir, stderr, report); err != nil {
			return err
		}
	}
	if !o.jsonOut {
		printTable(stdout, results)
	}
	return nil
}

// benchSize runs every measurement for one data set size.
func benchSize(ctx context.Context, o options, m int, dir string, stderr io.Writer, report func(result)) error {
	items := o.accounts / o.perItem
	fmt.Fprintf(stderr, "fake: %d items × %d accounts × %d transactions = %d rows, latency %v\n", items, o.perItem, m, o.accounts*m, o.latency)
	f, err := startFake(ctx, o.fakeBin, []string{
		"--prewarm", "--items", strconv.Itoa(items), "--accounts", strconv.Itoa(o.perItem),
		"--transactions", strconv.Itoa(m), "--page-size", strconv.Itoa(o.pageSize), "--latency", o.latency.String(),
	}, stderr)
	if err != nil {
		return err
	}
	defer f.stop()

	label := fmt.Sprintf("%d×%d", o.accounts, m)
	cfg := map[string]any{
		"client_id": f.ClientID, "client_secret": f.ClientSecret, "item_ids": f.ItemIDs,
		"base_url": f.BaseURL, "requests_per_minute": 0, "start_date": "2000-01-01",
	}
	if o.concurrency > 0 {
		cfg["max_concurrency"] = o.concurrency
	}
	for k, v := range o.set {
		cfg[k] = v
	}
	conc := "default"
	if o.concurrency > 0 {
		conc = strconv.Itoa(o.concurrency)
	}
	// measure runs the connector once and counts the requests it made.
	measure := func(cfg map[string]any, state []byte) (result, []byte, fakeStats, error) {
		if err := f.resetStats(ctx); err != nil {
			return result{}, nil, fakeStats{}, err
		}
		cpu0 := f.cpu()
		r, st, err := runConnector(ctx, o.bin, dir, o.catalog, cfg, state)
		if err != nil {
			return result{}, nil, fakeStats{}, err
		}
		r.FakeCPUSeconds = (f.cpu() - cpu0).Seconds()
		s, err := f.stats(ctx)
		r.Requests = s.Total
		return r, st, s, err
	}

	var best *result
	var lastState []byte
	var rates []float64
	for i := range o.runs {
		r, state, _, err := measure(cfg, nil)
		if err != nil {
			return err
		}
		r.Name, r.Concurrency = label+" first sync", conc
		fmt.Fprintf(stderr, "  run %d: %s\n", i+1, r.short())
		if best == nil || r.Seconds < best.Seconds {
			best = &r
		}
		rates = append(rates, r.RecordsPerS)
		lastState = state
	}
	if o.runs > 1 {
		sort.Float64s(rates)
		best.Note = fmt.Sprintf("best of %d runs; median %.0f records/s, slowest %.0f", o.runs, rates[len(rates)/2], rates[0])
	}
	report(*best)

	if o.serial {
		c := cloneMap(cfg)
		c["max_concurrency"] = 1
		r, _, _, err := measure(c, nil)
		if err != nil {
			return err
		}
		r.Name, r.Concurrency = label+" first sync", "1"
		r.Note = fmt.Sprintf("the concurrent run (%s) is %.1fx faster", conc, r.Seconds/best.Seconds)
		report(r)
	}

	if o.incremental {
		r, _, s, err := measure(cfg, lastState)
		if err != nil {
			return err
		}
		r.Name, r.Concurrency = label+" unchanged incremental", conc
		// The budget covers what reading transactions takes; other
		// streams of a -catalog add their own calls, listed apart.
		budget := 1 + 2*items + 2*o.accounts
		used := s.ByRoute["POST /auth"] + s.ByRoute["GET /items/{id}"] + s.ByRoute["GET /accounts"] + s.ByRoute["GET /v2/transactions"]
		r.Note = fmt.Sprintf("auth + items + accounts + transactions = %d, budget 1 + 2×%d items + 2×%d accounts = %d; %s", used, items, o.accounts, budget, routes(s))
		if used > budget {
			r.Note += " (OVER BUDGET)"
		}
		report(r)
	}

	if o.compareNode {
		if err := f.resetStats(ctx); err != nil {
			return err
		}
		cpu0 := f.cpu()
		r, err := runNode(ctx, o.nodeDir, f)
		if err != nil {
			fmt.Fprintf(stderr, "  node: %v\n", err)
			return nil
		}
		r.FakeCPUSeconds = (f.cpu() - cpu0).Seconds()
		s, err := f.stats(ctx)
		if err != nil {
			return err
		}
		r.Name, r.Concurrency, r.Requests = label+" Node SDK fetchAllTransactions", "1", s.Total
		r.Note = fmt.Sprintf("source-pluggy (%s) is %.1fx faster and peaks at %.1fx less memory", conc, r.Seconds/best.Seconds, float64(r.PeakRSSKiB)/float64(best.PeakRSSKiB))
		report(r)
	}
	return nil
}

// fakeProc is the fake Pluggy API running as its own process (see the
// package comment for why).
type fakeProc struct {
	cmd *exec.Cmd
	announce
}

type announce struct {
	BaseURL      string   `json:"base_url"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	ItemIDs      []string `json:"item_ids"`
}

type fakeStats struct {
	Total   int            `json:"total"`
	ByRoute map[string]int `json:"by_route"`
}

func startFake(ctx context.Context, bin string, args []string, stderr io.Writer) (*fakeProc, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &fakeProc{cmd: cmd}
	if err := json.NewDecoder(out).Decode(&f.announce); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("reading fake-pluggy's announcement: %w", err)
	}
	return f, nil
}

func (f *fakeProc) stop() {
	_ = f.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = f.cmd.Process.Kill()
		<-done
	}
}

func (f *fakeProc) admin(ctx context.Context, method, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, f.BaseURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fake %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if v == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// cpu is the fake's CPU time so far (Linux only; 0 elsewhere), so a report
// can say how much of the machine the fake took.
func (f *fakeProc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", f.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the whole line, in clock ticks (100 Hz).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func (f *fakeProc) resetStats(ctx context.Context) error {
	return f.admin(ctx, http.MethodPost, "/__fake/stats/reset", nil)
}

func (f *fakeProc) stats(ctx context.Context) (fakeStats, error) {
	var s fakeStats
	err := f.admin(ctx, http.MethodGet, "/__fake/stats", &s)
	return s, err
}

func cloneMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func routes(s fakeStats) string {
	var keys []string
	for k := range s.ByRoute {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.ByRoute[k]))
	}
	return strings.Join(parts, ", ")
}

// result is one measured run.
type result struct {
	Name        string  `json:"name"`
	Concurrency string  `json:"concurrency,omitempty"`
	Records     int64   `json:"records"`
	States      int64   `json:"states"`
	Bytes       int64   `json:"stdout_bytes"`
	Seconds     float64 `json:"seconds"`
	RecordsPerS float64 `json:"records_per_s"`
	MBPerS      float64 `json:"mb_per_s"`
	PeakRSSKiB  int64   `json:"peak_rss_kib"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	// FakeCPUSeconds is what the fake spent serving the run, on the same
	// machine.
	FakeCPUSeconds float64 `json:"fake_cpu_seconds"`
	Requests       int     `json:"requests"`
	Note           string  `json:"note,omitempty"`
}

func (r result) short() string {
	return fmt.Sprintf("%s: %d records in %.2fs = %.0f records/s, %.1f MB/s, peak RSS %.1f MB, CPU %.2fs (fake %.2fs), %d requests %s",
		r.Name, r.Records, r.Seconds, r.RecordsPerS, r.MBPerS, float64(r.PeakRSSKiB)/1024, r.CPUSeconds, r.FakeCPUSeconds, r.Requests, r.Note)
}

func printTable(w io.Writer, rs []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tconcurrency\trecords\tseconds\trecords/s\tMB/s\tpeak RSS MB\tCPU s\tfake CPU s\trequests\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.0f\t%.1f\t%.1f\t%.2f\t%.2f\t%d\t\n", r.Name, r.Concurrency, r.Records, r.Seconds, r.RecordsPerS, r.MBPerS, float64(r.PeakRSSKiB)/1024, r.CPUSeconds, r.FakeCPUSeconds, r.Requests)
	}
	tw.Flush()
	for _, r := range rs {
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Name, r.Note)
		}
	}
}

// runConnector runs `source-pluggy read` with the catalog (by default the
// transactions stream, incremental, so states are part of the output) and
// counts its stdout. It returns the run's result and the last state of each
// stream, as a --state file.
func runConnector(ctx context.Context, bin, dir, catalogFile string, cfg map[string]any, state []byte) (result, []byte, error) {
	cfgPath := filepath.Join(dir, "config.json")
	catPath := catalogFile
	if err := writeJSON(cfgPath, cfg); err != nil {
		return result{}, nil, err
	}
	if catPath == "" {
		catPath = filepath.Join(dir, "catalog.json")
		if err := os.WriteFile(catPath, []byte(transactionsCatalog), 0o600); err != nil {
			return result{}, nil, err
		}
	}
	args := []string{"read", "--config", cfgPath, "--catalog", catPath}
	if state != nil {
		p := filepath.Join(dir, "state.json")
		if err := os.WriteFile(p, state, 0o600); err != nil {
			return result{}, nil, err
		}
		args = append(args, "--state", p)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, nil, err
	}
	c, err := count(pipe)
	werr := cmd.Wait()
	elapsed := time.Since(start)
	if err != nil {
		return result{}, nil, err
	}
	if werr != nil {
		return result{}, nil, fmt.Errorf("source-pluggy read: %v\n%s\n%s", werr, stderr.Bytes(), c.lastError)
	}
	r := resultOf(cmd.ProcessState, c, elapsed)
	if len(c.lastState) == 0 {
		return r, nil, errors.New("source-pluggy read emitted no STATE")
	}
	st, err := stateFile(c.lastState)
	return r, st, err
}

func resultOf(ps *os.ProcessState, c counts, elapsed time.Duration) result {
	r := result{Records: c.records, States: c.states, Bytes: c.bytes, Seconds: elapsed.Seconds()}
	r.RecordsPerS = float64(c.records) / r.Seconds
	r.MBPerS = float64(c.bytes) / 1e6 / r.Seconds
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSKiB = ru.Maxrss // KiB on Linux
	}
	r.CPUSeconds = (ps.UserTime() + ps.SystemTime()).Seconds()
	return r
}

// transactionsCatalog reads transactions incrementally: RECORDs and
// STATEs, as a scheduled sync does.
const transactionsCatalog = `{"streams":[{"stream":{"name":"transactions","json_schema":{},"supported_sync_modes":["full_refresh","incremental"],"source_defined_cursor":true,"default_cursor_field":["createdAt"],"source_defined_primary_key":[["id"]]},"sync_mode":"incremental","destination_sync_mode":"append_dedup","cursor_field":["createdAt"],"primary_key":[["id"]]}]}`

type counts struct {
	records, states, bytes int64
	lastState              map[string][]byte // the last STATE line of each stream
	lastError              []byte
}

// count reads the protocol stream: RECORD lines are recognised by their
// prefix, which is all this loop can afford at a million lines.
func count(r io.Reader) (counts, error) {
	c := counts{lastState: map[string][]byte{}}
	br := bufio.NewReaderSize(r, 1<<20)
	recordPrefix := []byte(`{"type":"RECORD"`)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			line, err = longLine(br, line) // a large STATE
		}
		c.bytes += int64(len(line))
		switch {
		case bytes.HasPrefix(line, recordPrefix):
			c.records++
		case bytes.Contains(line, []byte(`"type":"STATE"`)):
			c.states++
			name := stateStream(line)
			c.lastState[name] = append(c.lastState[name][:0], line...)
		case bytes.Contains(line, []byte(`"type":"ERROR"`)):
			c.lastError = append(c.lastError[:0], line...)
		}
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return c, err
		}
	}
}

// longLine finishes a line longer than br's buffer, of which ReadSlice
// returned head (valid only until the next read, so it is copied first).
func longLine(br *bufio.Reader, head []byte) ([]byte, error) {
	line := append([]byte(nil), head...)
	rest, err := br.ReadBytes('\n')
	return append(line, rest...), err
}

// stateStream is the stream a STATE line is about, read without decoding
// a state that may be megabytes.
func stateStream(line []byte) string {
	const key = `"stream_descriptor":{"name":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// stateFile turns the last STATE message of each stream into a --state
// file.
func stateFile(lines map[string][]byte) ([]byte, error) {
	var states []json.RawMessage
	for _, line := range lines {
		var m struct {
			State json.RawMessage `json:"state"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("decoding a STATE: %w", err)
		}
		states = append(states, m.State)
	}
	return json.Marshal(states)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// runNode reads every account with the official SDK through
// node/fetch_all.mjs and counts the JSON lines it prints.
func runNode(ctx context.Context, dir string, f *fakeProc) (result, error) {
	script := filepath.Join(dir, "fetch_all.mjs")
	if _, err := exec.LookPath("node"); err != nil {
		return result{}, errors.New("node is not installed; install Node.js 18+ and run: npm install --prefix " + dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "pluggy-sdk")); err != nil {
		return result{}, errors.New("pluggy-sdk is not installed; run: npm install --prefix " + dir)
	}
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = append(os.Environ(),
		"PLUGGY_API_URL="+f.BaseURL,
		"PLUGGY_CLIENT_ID="+f.ClientID,
		"PLUGGY_CLIENT_SECRET="+f.ClientSecret,
		"PLUGGY_ITEM_IDS="+strings.Join(f.ItemIDs, ","),
	)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	var c counts
	br := bufio.NewReaderSize(pipe, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			line, err = longLine(br, line) // a large STATE
		}
		c.bytes += int64(len(line))
		if len(line) > 1 {
			c.records++
		}
		if err != nil {
			break
		}
	}
	werr := cmd.Wait()
	elapsed := time.Since(start)
	if werr != nil {
		return result{}, fmt.Errorf("node fetch_all.mjs: %v\n%s", werr, errBuf.Bytes())
	}
	return resultOf(cmd.ProcessState, c, elapsed), nil
}

// loadAverage is /proc/loadavg's 1-minute figure: other work on the
// machine shows in every number this tool prints.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
