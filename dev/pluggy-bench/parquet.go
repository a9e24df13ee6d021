package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The Parquet mode (-parquet) answers one question: is the built-in sink
// worth having? It reads the same data three ways, one after another within
// each run so that load on the machine falls on the three alike:
//
//   - JSON lines: read to stdout, as a pipeline would;
//   - --parquet-dir DIR --no-records: the built-in sink;
//   - JSON lines piped into DuckDB's COPY ... TO 'x.parquet': what a user
//     does without the sink (DuckDB from the npm package @duckdb/node-api,
//     the one the DuckDB read-back test uses; skipped when it is absent).
//
// It prints the median of each figure over -runs runs, and the ratios the
// sink is held to: its wall time against JSON lines' and against DuckDB's.

// Parquet mode names, in the order each run measures them.
const (
	modeJSON    = "JSON lines"
	modeParquet = "--parquet-dir --no-records"
	modeDuckDB  = "JSON lines | DuckDB COPY"
)

// duckdbCopyScript runs one statement with DuckDB and prints its result as
// JSON; for COPY that is the number of rows written.
const duckdbCopyScript = `
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const r = await con.runAndReadAll(process.argv[2]);
  process.stdout.write(JSON.stringify(r.getRowsJson()));
})().catch(e => { console.error(e); process.exit(1); });
`

// duckdbCopySQL is the user's workaround: every RECORD's data, each member
// a column as DuckDB infers it, into one zstd Parquet file (%s).
const duckdbCopySQL = `COPY (SELECT unnest(record.data) FROM read_ndjson('/dev/stdin') WHERE type = 'RECORD') TO '%s' (FORMAT parquet, COMPRESSION zstd)`

// parquetRun is one measurement of one mode.
type parquetRun struct {
	result
	// FileBytes is the size of the Parquet output (0 for JSON lines).
	FileBytes int64 `json:"file_bytes"`
	// DuckDBPeakRSSKiB is DuckDB's own peak (its process), apart from the
	// connector's, which is PeakRSSKiB.
	DuckDBPeakRSSKiB int64 `json:"duckdb_peak_rss_kib,omitempty"`
}

// parquetReport is the Parquet mode's outcome for one data set size: the
// median of each mode's figures and the ratios.
type parquetReport struct {
	Name   string             `json:"parquet_side_by_side"`
	Runs   int                `json:"runs"`
	Load   [2]string          `json:"load_average"` // at the start and at the end
	Modes  []parquetRun       `json:"modes"`        // medians, modeJSON first
	Ratios map[string]float64 `json:"ratios"`
	// RunRatios is --parquet-dir's wall time over JSON lines' run by
	// run: the two modes of a run read one after the other, so a load
	// that comes and goes weighs on both, and the target is per run.
	RunRatios []float64 `json:"parquet_over_json_seconds_by_run,omitempty"`
	DuckNote  string    `json:"duckdb_note,omitempty"`
}

// benchParquet runs the Parquet mode for one size against the running fake.
// measure runs the connector once with extra flags, as benchSize's does.
func benchParquet(ctx context.Context, o options, label, dir string, cfg map[string]any, stderr io.Writer,
	measure func(bin string, cfg map[string]any, state []byte, extra ...string) (result, []byte, fakeStats, error)) (parquetReport, error) {
	rep := parquetReport{Name: label, Runs: o.runs, Ratios: map[string]float64{}}
	rep.Load[0] = loadAverage()
	duck := o.duckdbModules
	if duck == "" {
		rep.DuckNote = "DuckDB not measured: give -duckdb-modules DIR/node_modules (or set DUCKDB_NODE_MODULES) after npm install --prefix DIR @duckdb/node-api"
	}
	byMode := map[string][]parquetRun{}
	for i := range o.runs {
		r, _, _, err := measure(o.bin, cfg, nil)
		if err != nil {
			return rep, err
		}
		r.Name = modeJSON
		byMode[modeJSON] = append(byMode[modeJSON], parquetRun{result: r})
		fmt.Fprintf(stderr, "  run %d: %s\n", i+1, r.short())

		pdir := filepath.Join(dir, "parquet")
		r, _, _, err = measure(o.bin, cfg, nil, "--parquet-dir", pdir, "--no-records")
		if err != nil {
			return rep, fmt.Errorf("--parquet-dir: %w", err)
		}
		r.Name = modeParquet
		pr := parquetRun{result: r, FileBytes: treeSize(pdir)}
		if err := os.RemoveAll(pdir); err != nil {
			return rep, err
		}
		byMode[modeParquet] = append(byMode[modeParquet], pr)
		fmt.Fprintf(stderr, "  run %d: %s, files %.1f MB\n", i+1, r.short(), float64(pr.FileBytes)/1e6)

		if duck != "" {
			dr, err := runDuckDB(ctx, o, dir, cfg, duck)
			if err != nil {
				return rep, fmt.Errorf("DuckDB: %w", err)
			}
			dr.Name = modeDuckDB
			byMode[modeDuckDB] = append(byMode[modeDuckDB], dr)
			fmt.Fprintf(stderr, "  run %d: %s, DuckDB peak RSS %.1f MB, file %.1f MB\n", i+1, dr.short(), float64(dr.DuckDBPeakRSSKiB)/1024, float64(dr.FileBytes)/1e6)
		}
	}
	rep.Load[1] = loadAverage()
	for _, m := range []string{modeJSON, modeParquet, modeDuckDB} {
		if rs := byMode[m]; len(rs) > 0 {
			med := medianRun(rs)
			med.Name = m
			rep.Modes = append(rep.Modes, med)
		}
	}
	// Every mode reads the same rows; MB/s is of the JSON-lines text of
	// those rows (the sink's input), not of what each mode prints.
	jsonBytes := rep.Modes[0].Bytes
	for i := range rep.Modes {
		m := &rep.Modes[i]
		m.MBPerS = float64(jsonBytes) / 1e6 / m.Seconds
		if m.Records != rep.Modes[0].Records {
			return rep, fmt.Errorf("%s read %d records, JSON lines %d: the modes must read the same data", m.Name, m.Records, rep.Modes[0].Records)
		}
	}
	for i, j := range byMode[modeJSON] {
		rep.RunRatios = append(rep.RunRatios, byMode[modeParquet][i].Seconds/j.Seconds)
	}
	json, pq := rep.Modes[0], rep.Modes[1]
	rep.Ratios["parquet_over_json_seconds"] = pq.Seconds / json.Seconds
	rep.Ratios["parquet_over_json_peak_rss"] = float64(pq.PeakRSSKiB) / float64(json.PeakRSSKiB)
	if len(rep.Modes) > 2 {
		d := rep.Modes[2]
		rep.Ratios["parquet_over_duckdb_seconds"] = pq.Seconds / d.Seconds
	}
	return rep, nil
}

// runDuckDB pipes the connector's JSON lines into DuckDB's COPY and measures
// the pipeline: wall time until both have exited, the connector's peak RSS
// and DuckDB's apart, their CPU together.
func runDuckDB(ctx context.Context, o options, dir string, cfg map[string]any, modules string) (parquetRun, error) {
	script := filepath.Join(dir, "duckdb_copy.cjs")
	if err := os.WriteFile(script, []byte(duckdbCopyScript), 0o600); err != nil {
		return parquetRun{}, err
	}
	out := filepath.Join(dir, "duckdb.parquet")
	defer os.Remove(out)
	args, err := readArgs(dir, o.catalog, cfg, nil)
	if err != nil {
		return parquetRun{}, err
	}
	src := exec.CommandContext(ctx, o.bin, args...)
	sink := exec.CommandContext(ctx, "node", script, fmt.Sprintf(duckdbCopySQL, out))
	sink.Env = append(os.Environ(), "NODE_PATH="+modules)
	pr, pw, err := os.Pipe()
	if err != nil {
		return parquetRun{}, err
	}
	var srcErr, sinkErr, sinkOut bytes.Buffer
	src.Stdout, src.Stderr = pw, &srcErr
	sink.Stdin, sink.Stdout, sink.Stderr = pr, &sinkOut, &sinkErr
	start := time.Now()
	if err := sink.Start(); err != nil {
		pr.Close()
		pw.Close()
		return parquetRun{}, fmt.Errorf("starting node: %w", err)
	}
	pr.Close()
	if err := src.Start(); err != nil {
		pw.Close()
		_ = sink.Wait()
		return parquetRun{}, err
	}
	pw.Close()
	srcWait := src.Wait()
	sinkWait := sink.Wait()
	elapsed := time.Since(start)
	if srcWait != nil {
		return parquetRun{}, fmt.Errorf("source-pluggy read: %w\n%s", srcWait, srcErr.Bytes())
	}
	if sinkWait != nil {
		return parquetRun{}, fmt.Errorf("node (DuckDB COPY): %w\n%s", sinkWait, sinkErr.Bytes())
	}
	var rows [][]string
	if err := json.Unmarshal(sinkOut.Bytes(), &rows); err != nil || len(rows) != 1 || len(rows[0]) != 1 {
		return parquetRun{}, fmt.Errorf("DuckDB COPY printed %q, want its row count", sinkOut.Bytes())
	}
	n, err := strconv.ParseInt(rows[0][0], 10, 64)
	if err != nil {
		return parquetRun{}, fmt.Errorf("DuckDB COPY's row count %q: %w", rows[0][0], err)
	}
	r := resultOf(src.ProcessState, counts{records: n}, elapsed)
	r.CPUSeconds += (sink.ProcessState.UserTime() + sink.ProcessState.SystemTime()).Seconds()
	run := parquetRun{result: r, FileBytes: treeSize(out)}
	run.DuckDBPeakRSSKiB = resultOf(sink.ProcessState, counts{}, elapsed).PeakRSSKiB
	return run, nil
}

// medianRun is, figure by figure, the median of runs of one mode (the
// lower middle one of an even count): a figure of a run the machine's load
// slowed is not taken for the mode's.
func medianRun(rs []parquetRun) parquetRun {
	med := func(get func(parquetRun) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		sort.Float64s(v)
		return v[(len(v)-1)/2]
	}
	m := rs[0]
	m.Seconds = med(func(r parquetRun) float64 { return r.Seconds })
	m.RecordsPerS = float64(m.Records) / m.Seconds
	m.CPUSeconds = med(func(r parquetRun) float64 { return r.CPUSeconds })
	m.FakeCPUSeconds = med(func(r parquetRun) float64 { return r.FakeCPUSeconds })
	m.PeakRSSKiB = int64(med(func(r parquetRun) float64 { return float64(r.PeakRSSKiB) }))
	m.DuckDBPeakRSSKiB = int64(med(func(r parquetRun) float64 { return float64(r.DuckDBPeakRSSKiB) }))
	m.FileBytes = int64(med(func(r parquetRun) float64 { return float64(r.FileBytes) }))
	m.Bytes = int64(med(func(r parquetRun) float64 { return float64(r.Bytes) }))
	if len(rs) > 1 {
		lo, hi := rs[0].Seconds, rs[0].Seconds
		for _, r := range rs {
			lo, hi = min(lo, r.Seconds), max(hi, r.Seconds)
		}
		m.Note = fmt.Sprintf("median of %d runs; seconds %.2f–%.2f", len(rs), lo, hi)
	}
	return m
}

// printParquet prints each size's medians and ratios, then how each mode's
// peak RSS moved from the smallest size to the largest.
func printParquet(w io.Writer, reps []parquetReport) {
	for _, rep := range reps {
		fmt.Fprintf(w, "\nParquet side by side, %s, median of %d runs (load average %s at the start, %s at the end):\n", rep.Name, rep.Runs, rep.Load[0], rep.Load[1])
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "mode\trecords\tseconds\trecords/s\tJSON MB/s\tpeak RSS MB\tCPU s\toutput MB\t")
		for _, m := range rep.Modes {
			rss := fmt.Sprintf("%.1f", float64(m.PeakRSSKiB)/1024)
			if m.DuckDBPeakRSSKiB > 0 {
				rss += fmt.Sprintf(" + DuckDB %.1f", float64(m.DuckDBPeakRSSKiB)/1024)
			}
			outMB := float64(m.FileBytes) / 1e6
			if m.Name == modeJSON {
				outMB = float64(m.Bytes) / 1e6
			}
			fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.1f\t%s\t%.2f\t%.1f\t\n", m.Name, m.Records, m.Seconds, m.RecordsPerS, m.MBPerS, rss, m.CPUSeconds, outMB)
		}
		tw.Flush()
		fmt.Fprintf(w, "--parquet-dir / JSON lines: %.2fx the wall time (target ≤ 1.5x), %.2fx the peak RSS\n",
			rep.Ratios["parquet_over_json_seconds"], rep.Ratios["parquet_over_json_peak_rss"])
		if len(rep.RunRatios) > 1 {
			within := 0
			runs := make([]string, len(rep.RunRatios))
			for i, r := range rep.RunRatios {
				runs[i] = fmt.Sprintf("%.2fx", r)
				if r <= 1.5 {
					within++
				}
			}
			fmt.Fprintf(w, "  run by run: %s; within 1.5x in %d of %d\n", strings.Join(runs, ", "), within, len(runs))
		}
		if r, ok := rep.Ratios["parquet_over_duckdb_seconds"]; ok {
			fmt.Fprintf(w, "--parquet-dir / JSON lines | DuckDB COPY: %.2fx the wall time (target < 1)\n", r)
		}
		if rep.DuckNote != "" {
			fmt.Fprintln(w, rep.DuckNote)
		}
	}
	if len(reps) < 2 {
		return
	}
	first, last := reps[0], reps[len(reps)-1]
	fmt.Fprintf(w, "\npeak RSS from %s to %s:\n", first.Name, last.Name)
	for i, m := range first.Modes {
		if i >= len(last.Modes) {
			break
		}
		a, b := float64(m.PeakRSSKiB)/1024, float64(last.Modes[i].PeakRSSKiB)/1024
		fmt.Fprintf(w, "  %s: %.1f MB → %.1f MB (%s)\n", m.Name, a, b, change(a, b))
	}
}

// treeSize is the bytes of the regular files under path (a file or a
// directory); 0 when it is absent.
func treeSize(path string) int64 {
	var n int64
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// checkDuckDB makes sure node can load @duckdb/node-api from modules.
func checkDuckDB(modules string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(modules, "@duckdb", "node-api")); err != nil {
		return fmt.Errorf("%s has no @duckdb/node-api: npm install --prefix DIR @duckdb/node-api, then give DIR/node_modules", modules)
	}
	return nil
}
