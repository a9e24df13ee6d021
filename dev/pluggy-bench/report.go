package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

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
	// MedianRecordsPerS is the median of repeated runs' records/s (of
	// which RecordsPerS is the best).
	MedianRecordsPerS float64 `json:"median_records_per_s,omitempty"`
	MBPerS            float64 `json:"mb_per_s"`
	PeakRSSKiB        int64   `json:"peak_rss_kib"`
	// MaxPeakRSSKiB is the largest peak RSS of repeated runs (of which
	// PeakRSSKiB is the fastest run's).
	MaxPeakRSSKiB int64   `json:"max_peak_rss_kib,omitempty"`
	CPUSeconds    float64 `json:"cpu_seconds"`
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

// comparison is one measurement of the build under test and the same
// measurement of the baseline build, taken in the same run against the same
// fake (see -baseline-bin).
type comparison struct {
	Name string `json:"side_by_side"`
	Base result `json:"baseline"`
	This result `json:"this"`
}

// printSideBySide prints, for each comparison, the figures that say whether
// a change made the connector faster or leaner: records/s, wall seconds,
// CPU seconds and peak RSS, for the baseline and this build, and the change
// in per cent (positive: this build's figure is higher).
func printSideBySide(w io.Writer, cs []comparison) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tfigure\tbaseline\tthis build\tchange\t")
	for _, c := range cs {
		for _, f := range []struct {
			name       string
			base, this float64
			format     string
		}{
			{"records/s", c.Base.RecordsPerS, c.This.RecordsPerS, "%.0f"},
			{"median records/s", c.Base.MedianRecordsPerS, c.This.MedianRecordsPerS, "%.0f"},
			{"seconds", c.Base.Seconds, c.This.Seconds, "%.2f"},
			{"CPU s", c.Base.CPUSeconds, c.This.CPUSeconds, "%.2f"},
			{"peak RSS MB", float64(c.Base.PeakRSSKiB) / 1024, float64(c.This.PeakRSSKiB) / 1024, "%.1f"},
			{"requests", float64(c.Base.Requests), float64(c.This.Requests), "%.0f"},
		} {
			fmt.Fprintf(tw, "%s\t%s\t"+f.format+"\t"+f.format+"\t%s\t\n", c.Name, f.name, f.base, f.this, change(f.base, f.this))
		}
	}
	tw.Flush()
}

// change is this against base in per cent, signed; "n/a" when base is 0.
func change(base, this float64) string {
	if base == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", (this-base)/base*100)
}

// printPostgres prints the PostgreSQL load against its targets
// (docs/postgres.md): at least 100,000 rows/s at the largest size, and a
// peak RSS flat (within 10%) from the smallest size to the largest, taking
// the largest peak of any run of each.
func printPostgres(w io.Writer, rs []result) {
	var loads []result
	for _, r := range rs {
		if strings.HasSuffix(r.Name, " first sync --postgres") {
			loads = append(loads, r)
		}
	}
	if len(loads) == 0 {
		return
	}
	small, large := loads[0], loads[len(loads)-1]
	fmt.Fprintf(w, "\n--postgres --no-records at %d rows: %.0f records/s best, %.0f median (target ≥ 100000 at 1M rows)\n",
		large.Records, large.RecordsPerS, large.MedianRecordsPerS)
	if len(loads) < 2 {
		return
	}
	peak := func(r result) float64 { return float64(max(r.PeakRSSKiB, r.MaxPeakRSSKiB)) / 1024 }
	fmt.Fprintf(w, "--postgres peak RSS, the most of any run: %.1f MB at %d rows, %.1f MB at %d rows: %+.1f%% (target flat, within 10%%)\n",
		peak(small), small.Records, peak(large), large.Records, 100*(peak(large)/peak(small)-1))
}
