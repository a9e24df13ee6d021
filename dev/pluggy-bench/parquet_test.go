package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMedianRun(t *testing.T) {
	runs := []parquetRun{
		{result: result{Records: 10, Seconds: 3, CPUSeconds: 1, PeakRSSKiB: 300}, FileBytes: 7},
		{result: result{Records: 10, Seconds: 1, CPUSeconds: 5, PeakRSSKiB: 100}, FileBytes: 7},
		{result: result{Records: 10, Seconds: 9, CPUSeconds: 2, PeakRSSKiB: 200}, FileBytes: 9},
	}
	m := medianRun(runs)
	if m.Seconds != 3 || m.CPUSeconds != 2 || m.PeakRSSKiB != 200 || m.FileBytes != 7 || m.RecordsPerS != 10.0/3 {
		t.Errorf("median: %+v", m)
	}
	if !strings.Contains(m.Note, "median of 3 runs; seconds 1.00–9.00") {
		t.Errorf("note: %q", m.Note)
	}
	// An even count takes the lower middle one.
	if m := medianRun(runs[:2]); m.Seconds != 1 || m.PeakRSSKiB != 100 {
		t.Errorf("median of 2: %+v", m)
	}
}

func TestParquetReportText(t *testing.T) {
	mode := func(name string, secs float64, rss, duck int64) parquetRun {
		return parquetRun{result: result{Name: name, Records: 1000, Seconds: secs, PeakRSSKiB: rss, Bytes: 2e6}, FileBytes: 1e5, DuckDBPeakRSSKiB: duck}
	}
	reps := []parquetReport{
		{Name: "small", Runs: 3, Load: [2]string{"0.5", "0.7"}, Modes: []parquetRun{mode(modeJSON, 1, 40<<10, 0), mode(modeParquet, 1.4, 80<<10, 0)},
			Ratios: map[string]float64{"parquet_over_json_seconds": 1.4, "parquet_over_json_peak_rss": 2}, DuckNote: "DuckDB not measured: x"},
		{Name: "large", Runs: 3, Load: [2]string{"1", "2"}, Modes: []parquetRun{mode(modeJSON, 2, 40<<10, 0), mode(modeParquet, 2.8, 88<<10, 0), mode(modeDuckDB, 5.6, 41<<10, 1<<20)},
			Ratios:    map[string]float64{"parquet_over_json_seconds": 1.4, "parquet_over_json_peak_rss": 2.2, "parquet_over_duckdb_seconds": 0.5},
			RunRatios: []float64{1.32, 1.61, 1.5}},
	}
	var out bytes.Buffer
	printParquet(&out, reps)
	for _, want := range []string{
		"Parquet side by side, small, median of 3 runs (load average 0.5 at the start, 0.7 at the end)",
		"--parquet-dir / JSON lines: 1.40x the wall time (target ≤ 1.5x), 2.00x the peak RSS",
		"DuckDB not measured",
		"41.0 + DuckDB 1024.0",
		"--parquet-dir / JSON lines | DuckDB COPY: 0.50x the wall time (target < 1)",
		"  run by run: 1.32x, 1.61x, 1.50x; within 1.5x in 2 of 3\n--parquet-dir / JSON lines | DuckDB COPY",
		"peak RSS from small to large:",
		"--parquet-dir --no-records: 80.0 MB → 88.0 MB (+10.0%)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParquetOptions(t *testing.T) {
	o, err := parseOptions([]string{"-parquet", "-duckdb-modules", ""}, io.Discard)
	if err != nil || !o.parquet {
		t.Fatalf("-parquet: %+v, %v", o, err)
	}
	if _, err := parseOptions([]string{"-parquet", "-duckdb-modules", t.TempDir()}, io.Discard); err == nil || !strings.Contains(err.Error(), "-duckdb-modules") || !strings.Contains(err.Error(), "@duckdb/node-api") {
		t.Errorf("-duckdb-modules without DuckDB: %v", err)
	}
}

// TestTinyParquetRun reads a tiny data set the three ways; DuckDB's is
// measured when DUCKDB_NODE_MODULES names @duckdb/node-api (as in CI).
func TestTinyParquetRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs source-pluggy and fake-pluggy")
	}
	bins := buildBins(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	duck := os.Getenv("DUCKDB_NODE_MODULES")
	args := []string{"-accounts", "2", "-accounts-per-item", "1", "-transactions", "30,60", "-runs", "2", "-incremental=false",
		"-parquet", "-duckdb-modules", duck,
		"-bin", filepath.Join(bins, "source-pluggy"), "-fake-bin", filepath.Join(bins, "fake-pluggy")}
	var stdout, stderr bytes.Buffer
	if err := run(ctx, append(args, "-json"), &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var reps []parquetReport
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if !strings.Contains(line, `"parquet_side_by_side"`) {
			continue
		}
		var r parquetReport
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		reps = append(reps, r)
	}
	if len(reps) != 2 {
		t.Fatalf("%d Parquet reports, want one per size:\n%s", len(reps), stdout.String())
	}
	wantModes := []string{modeJSON, modeParquet}
	if duck != "" {
		wantModes = append(wantModes, modeDuckDB)
	} else {
		t.Log("DUCKDB_NODE_MODULES is not set: DuckDB's COPY is not measured")
	}
	for i, rep := range reps {
		rows := int64(2 * []int{30, 60}[i])
		if len(rep.Modes) != len(wantModes) || rep.Runs != 2 {
			t.Fatalf("%s: %+v", rep.Name, rep)
		}
		for j, m := range rep.Modes {
			if m.Name != wantModes[j] || m.Records != rows || m.Seconds <= 0 || m.PeakRSSKiB <= 0 || m.MBPerS <= 0 {
				t.Errorf("%s, %s: %+v", rep.Name, wantModes[j], m)
			}
			if (m.Name == modeJSON) != (m.FileBytes == 0) {
				t.Errorf("%s, %s: output files of %d bytes", rep.Name, m.Name, m.FileBytes)
			}
			if (m.Name == modeDuckDB) != (m.DuckDBPeakRSSKiB > 0) {
				t.Errorf("%s, %s: DuckDB peak RSS %d KiB", rep.Name, m.Name, m.DuckDBPeakRSSKiB)
			}
		}
		if rep.Ratios["parquet_over_json_seconds"] <= 0 || (duck != "") != (rep.Ratios["parquet_over_duckdb_seconds"] > 0) {
			t.Errorf("%s: ratios %v", rep.Name, rep.Ratios)
		}
	}

	// The text report: a table per size, the ratios, the RSS from the
	// smaller size to the larger.
	stdout.Reset()
	if err := run(ctx, append(args, "-runs", "1"), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Parquet side by side, 2×30 (60 rows), median of 1 runs", modeParquet, "the wall time (target ≤ 1.5x)", "peak RSS from 2×30 (60 rows) to 2×60 (120 rows)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, stdout.String())
		}
	}
}
