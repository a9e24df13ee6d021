// Command pluggy-bench measures source-pluggy end to end: it starts the fake
// Pluggy API (cmd/fake-pluggy --prewarm, its own process) with N accounts ×
// M transactions, runs the source-pluggy binary reading the transactions
// stream incrementally to a pipe, and prints records/s, MB/s of stdout, the
// connector's peak RSS and CPU time, the fake's CPU time and the requests
// the fake served. Run it from anywhere inside the repository:
//
//	go run ./dev/pluggy-bench                               # 100 accounts × 1,000 and × 10,000 rows
//	go run ./dev/pluggy-bench -latency 50ms -transactions 500 -serial
//	go run ./dev/pluggy-bench -compare-node                 # the official Node SDK side by side
//	go run ./dev/pluggy-bench -baseline-bin /tmp/source-pluggy-main   # before and after a change
//	go run ./dev/pluggy-bench -postgres postgres://USER:PW@127.0.0.1:5432/bench -incremental=false
//	go run ./dev/pluggy-bench -parquet -runs 5 -duckdb-modules /tmp/duckdb/node_modules -incremental=false
//
// It lives under dev/, not cmd/, because it is a development tool: it is
// never shipped (the Dockerfile and the release build only cmd/), it builds
// the product's binaries from source, and it needs the repository around it
// (cmd/fake-pluggy, catalogs/, node/ for the SDK comparison). cmd/ holds
// what a user installs or runs to try the connector; dev/ holds what the
// people changing it run.
//
// Each size is read once as a first sync (-runs N keeps the fastest of N),
// optionally again with max_concurrency 1 (-serial), then incrementally from
// the first sync's state with nothing changed, whose requests are checked
// against the budget 1 auth + 2 per item + 2 per account.
//
// With -postgres URL, every first sync is also loaded into that database
// (read --postgres URL --no-records, into a fresh schema that is dropped
// afterwards), alternating with the JSON-lines read, so the two are
// measured side by side under the same load; with -baseline-bin too, the
// baseline loads it as well, alternating, and is compared side by side.
//
// With -parquet, every size is also read with --parquet-dir --no-records and
// as JSON lines piped into DuckDB's COPY, the three alternating run by run;
// medians and ratios are printed apart (see parquet.go).
//
// With -baseline-bin, every first sync is also read by that other build of
// source-pluggy (say, main before a change) against the same fake, the two
// alternating run by run so that load on the machine falls on both alike,
// and a side-by-side table gives each figure for both and the change. A
// figure taken in another run, at another load, is not comparable: this is.
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
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "pluggy-bench:", err)
		os.Exit(1)
	}
}

// options is the parsed command line.
type options struct {
	accounts, perItem, pageSize, concurrency, runs int
	sizes                                          []int
	catalog                                        string
	set                                            map[string]json.RawMessage
	latency                                        time.Duration
	gzip                                           bool
	bin, fakeBin, baselineBin, nodeDir, postgres   string
	serial, incremental, compareNode, jsonOut      bool
	parquet                                        bool
	duckdbModules                                  string
}

// parseOptions reads the command line; every error names the flag and what
// it wants. Binaries given with -bin, -fake-bin and -baseline-bin must exist.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("pluggy-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	sizes := fs.String("transactions", "1000,10000", "transactions per account; a comma-separated list runs each size")
	fs.IntVar(&o.accounts, "accounts", 100, "accounts in all")
	fs.IntVar(&o.perItem, "accounts-per-item", 4, "accounts per item")
	fs.IntVar(&o.pageSize, "page-size", 500, "fake page size (the real API's is 500)")
	fs.IntVar(&o.concurrency, "concurrency", 0, "connector max_concurrency (0: the connector's default)")
	fs.IntVar(&o.runs, "runs", 1, "timed runs per size; the best is reported")
	fs.DurationVar(&o.latency, "latency", 0, "delay the fake adds before every response, e.g. 50ms")
	fs.BoolVar(&o.gzip, "gzip", false, "the fake gzips its answers, as a compressing front end would (its own CPU then grows with the compression)")
	fs.BoolVar(&o.serial, "serial", false, "also read with max_concurrency 1 and report the speedup")
	fs.BoolVar(&o.incremental, "incremental", true, "after the first sync, run an unchanged incremental sync from its state and count its requests")
	fs.BoolVar(&o.compareNode, "compare-node", false, "also read the same data with the official Node SDK's fetchAllTransactions loop")
	fs.StringVar(&o.nodeDir, "node-dir", "", "directory of fetch_all.mjs and its node_modules (default dev/pluggy-bench/node; npm install there first)")
	fs.StringVar(&o.bin, "bin", "", "source-pluggy binary to measure (default: go build ./cmd/source-pluggy)")
	fs.StringVar(&o.baselineBin, "baseline-bin", "", "another source-pluggy binary (e.g. built from main) to read every first sync too, side by side")
	fs.StringVar(&o.fakeBin, "fake-bin", "", "fake-pluggy binary (default: go build ./cmd/fake-pluggy)")
	fs.BoolVar(&o.jsonOut, "json", false, "print results as JSON lines")
	fs.StringVar(&o.postgres, "postgres", "", "also load every first sync into PostgreSQL at `URL` (a fresh schema per run, dropped afterwards), side by side with the JSON-lines read")
	fs.BoolVar(&o.parquet, "parquet", false, "also read every size with --parquet-dir --no-records and piped into DuckDB's COPY, side by side with JSON lines, and print the medians and ratios")
	fs.StringVar(&o.duckdbModules, "duckdb-modules", os.Getenv("DUCKDB_NODE_MODULES"), "node_modules `DIR` holding @duckdb/node-api, for -parquet's DuckDB COPY (default $DUCKDB_NODE_MODULES; npm install --prefix X @duckdb/node-api gives X/node_modules)")
	fs.StringVar(&o.catalog, "catalog", "", "configured catalog file (default: transactions only, incremental); e.g. catalogs/pluggy_incremental.json for every stream")
	o.set = map[string]json.RawMessage{}
	fs.Func("set", "extra connector config, `key=JSON` (repeatable), e.g. -set lookback_days=0", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || !json.Valid([]byte(v)) {
			return fmt.Errorf("want key=JSON, got %q", kv)
		}
		o.set[k] = json.RawMessage(v)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q: every setting is a flag (see -help)", fs.Arg(0))
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return o, fmt.Errorf("-transactions %q: want positive integers, comma-separated", *sizes)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.accounts < 1 || o.perItem < 1 || o.runs < 1 || o.pageSize < 1 || o.concurrency < 0 {
		return o, errors.New("-accounts, -accounts-per-item, -runs and -page-size must be positive, -concurrency 0 or more")
	}
	if o.accounts%o.perItem != 0 {
		return o, fmt.Errorf("-accounts %d is not a multiple of -accounts-per-item %d", o.accounts, o.perItem)
	}
	for _, b := range []struct{ flag, path string }{{"-bin", o.bin}, {"-fake-bin", o.fakeBin}, {"-baseline-bin", o.baselineBin}, {"-catalog", o.catalog}} {
		if b.path == "" {
			continue
		}
		if _, err := os.Stat(b.path); err != nil {
			return o, fmt.Errorf("%s: %w", b.flag, err)
		}
	}
	if o.parquet && o.duckdbModules != "" {
		if err := checkDuckDB(o.duckdbModules); err != nil {
			return o, fmt.Errorf("-duckdb-modules: %w", err)
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// The fake's stderr goes to the same writer from exec's copying
	// goroutine (when it is not a file), so every write takes a lock.
	stderr = &lockedWriter{w: stderr}
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "pluggy-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.bin == "" || o.fakeBin == "" || (o.compareNode && o.nodeDir == "") {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		if o.nodeDir == "" {
			o.nodeDir = filepath.Join(root, "dev", "pluggy-bench", "node")
		}
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
			build.Dir = root
			build.Stdout, build.Stderr = stderr, stderr
			if err := build.Run(); err != nil {
				return fmt.Errorf("building %s (or pass -bin and -fake-bin): %w", b.name, err)
			}
		}
	}

	var results []result
	var pairs []comparison
	report := func(r result) {
		results = append(results, r)
		if o.jsonOut {
			b, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(b))
		} else {
			fmt.Fprintf(stderr, "  %s\n", r.short())
		}
	}
	compare := func(c comparison) {
		pairs = append(pairs, c)
		if o.jsonOut {
			b, _ := json.Marshal(c)
			fmt.Fprintln(stdout, string(b))
		}
	}
	var parquets []parquetReport
	parquetDone := func(r parquetReport) {
		parquets = append(parquets, r)
		if o.jsonOut {
			b, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(b))
		}
	}
	fmt.Fprintf(stderr, "machine: %s, %d CPUs, %s %s/%s, load average %s\n", cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, loadAverage())
	for _, m := range o.sizes {
		if err := benchSize(ctx, o, m, dir, stderr, report, compare, parquetDone); err != nil {
			return err
		}
	}
	if !o.jsonOut {
		printTable(stdout, results)
		if len(pairs) > 0 {
			fmt.Fprintf(stdout, "\nside by side with -baseline-bin %s, best of %d alternating runs each:\n", o.baselineBin, o.runs)
			printSideBySide(stdout, pairs)
		}
		printParquet(stdout, parquets)
		printPostgres(stdout, results)
	}
	return nil
}

// lockedWriter serialises writes from this program and its children's
// output copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// moduleRoot is the directory of the go.mod above the working directory,
// so the tool builds the right packages wherever in the tree it is run.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/source-pluggy/source-pluggy") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the source-pluggy repository: run from it, or pass -bin, -fake-bin (and -node-dir)")
		}
		dir = parent
	}
}

// benchSize runs every measurement for one data set size.
func benchSize(ctx context.Context, o options, m int, dir string, stderr io.Writer, report func(result), compare func(comparison), parquetDone func(parquetReport)) error {
	items := o.accounts / o.perItem
	fmt.Fprintf(stderr, "fake: %d items × %d accounts × %d transactions = %d rows, latency %v, gzip %v\n", items, o.perItem, m, o.accounts*m, o.latency, o.gzip)
	args := []string{
		"--prewarm", "--items", strconv.Itoa(items), "--accounts", strconv.Itoa(o.perItem),
		"--transactions", strconv.Itoa(m), "--page-size", strconv.Itoa(o.pageSize), "--latency", o.latency.String(),
	}
	if o.gzip {
		args = append(args, "--gzip")
	}
	f, err := startFake(ctx, o.fakeBin, args, stderr)
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
	// measure runs a connector binary once and counts the requests it made.
	measure := func(bin string, cfg map[string]any, state []byte, extra ...string) (result, []byte, fakeStats, error) {
		if err := f.resetStats(ctx); err != nil {
			return result{}, nil, fakeStats{}, err
		}
		cpu0 := f.cpu()
		r, st, err := runConnector(ctx, bin, dir, o.catalog, cfg, state, extra...)
		if err != nil {
			return result{}, nil, fakeStats{}, err
		}
		r.FakeCPUSeconds = (f.cpu() - cpu0).Seconds()
		s, err := f.stats(ctx)
		r.Requests = s.Total
		return r, st, s, err
	}

	// The first sync, alternating with the baseline's when there is one,
	// and with the load into PostgreSQL.
	var best, baseBest, pgBest, pgBaseBest best
	var lastState []byte
	for i := range o.runs {
		r, state, _, err := measure(o.bin, cfg, nil)
		if err != nil {
			return err
		}
		r.Name, r.Concurrency = label+" first sync", conc
		fmt.Fprintf(stderr, "  run %d: %s\n", i+1, r.short())
		best.add(r)
		lastState = state
		if o.baselineBin != "" {
			r, _, _, err := measure(o.baselineBin, cfg, nil)
			if err != nil {
				return fmt.Errorf("baseline: %w", err)
			}
			r.Name, r.Concurrency = label+" first sync (baseline)", conc
			fmt.Fprintf(stderr, "  run %d: %s\n", i+1, r.short())
			baseBest.add(r)
		}
		if o.postgres != "" {
			schema := fmt.Sprintf("bench_%d_%d", m, i)
			r, _, _, err := measure(o.bin, cfg, nil, "--postgres", o.postgres, "--postgres-schema", schema, "--no-records")
			if derr := dropSchema(ctx, o.postgres, schema); err == nil {
				err = derr
			}
			if err != nil {
				return fmt.Errorf("--postgres: %w", err)
			}
			r.Name, r.Concurrency = label+" first sync --postgres", conc
			fmt.Fprintf(stderr, "  run %d: %s\n", i+1, r.short())
			pgBest.add(r)
			if o.baselineBin != "" {
				schema := fmt.Sprintf("bench_%d_%d_baseline", m, i)
				r, _, _, err := measure(o.baselineBin, cfg, nil, "--postgres", o.postgres, "--postgres-schema", schema, "--no-records")
				if derr := dropSchema(ctx, o.postgres, schema); err == nil {
					err = derr
				}
				if err != nil {
					return fmt.Errorf("baseline --postgres: %w", err)
				}
				r.Name, r.Concurrency = label+" first sync --postgres (baseline)", conc
				fmt.Fprintf(stderr, "  run %d: %s\n", i+1, r.short())
				pgBaseBest.add(r)
			}
		}
	}
	report(best.result())
	if o.baselineBin != "" {
		report(baseBest.result())
		compare(comparison{Name: label + " first sync", Base: baseBest.result(), This: best.result()})
	}
	if o.postgres != "" {
		report(pgBest.result())
		if o.baselineBin != "" {
			report(pgBaseBest.result())
			compare(comparison{Name: label + " first sync --postgres", Base: pgBaseBest.result(), This: pgBest.result()})
		}
	}

	if o.parquet {
		rep, err := benchParquet(ctx, o, fmt.Sprintf("%s (%d rows)", label, o.accounts*m), dir, cfg, stderr, measure)
		if err != nil {
			return err
		}
		parquetDone(rep)
	}

	if o.serial {
		c := cloneMap(cfg)
		c["max_concurrency"] = 1
		r, _, _, err := measure(o.bin, c, nil)
		if err != nil {
			return err
		}
		r.Name, r.Concurrency = label+" first sync", "1"
		r.Note = fmt.Sprintf("the concurrent run (%s) is %.1fx faster", conc, r.Seconds/best.r.Seconds)
		report(r)
	}

	if o.incremental {
		r, _, s, err := measure(o.bin, cfg, lastState)
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
		r.Note = fmt.Sprintf("source-pluggy (%s) is %.1fx faster and peaks at %.1fx less memory", conc, r.Seconds/best.r.Seconds, float64(r.PeakRSSKiB)/float64(best.r.PeakRSSKiB))
		report(r)
	}
	return nil
}

// dropSchema removes a run's schema, so each -postgres run is a first sync
// and the database does not fill up.
func dropSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

// best keeps the fastest of repeated runs and the spread of their rates.
type best struct {
	r      result
	n      int
	rates  []float64
	maxRSS int64 // the largest peak RSS of the runs
}

func (b *best) add(r result) {
	if b.n == 0 || r.Seconds < b.r.Seconds {
		b.r = r
	}
	b.n++
	b.rates = append(b.rates, r.RecordsPerS)
	b.maxRSS = max(b.maxRSS, r.PeakRSSKiB)
}

// result is the fastest run, noting the median and slowest when there were
// several.
func (b *best) result() result {
	r := b.r
	r.MedianRecordsPerS = r.RecordsPerS
	r.MaxPeakRSSKiB = b.maxRSS
	if b.n > 1 {
		rates := append([]float64(nil), b.rates...)
		sort.Float64s(rates)
		r.MedianRecordsPerS = rates[len(rates)/2]
		r.Note = fmt.Sprintf("best of %d runs; median %.0f records/s, slowest %.0f", b.n, rates[len(rates)/2], rates[0])
	}
	return r
}

func cloneMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
