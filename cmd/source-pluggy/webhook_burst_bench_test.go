package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/webhook"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// BenchmarkWebhookBurst measures `webhook serve` under a burst of N
// deliveries sent at once, each on its own connection (Pluggy's daily sync
// delivers an app's transactions/created and item/updated events many at
// a time, and wants each 2xx within 5 s): events/s over the burst, the
// latency of each delivery (p50, p99, max) and what made them durable, per
// burst: fsync calls of a directory log (counted by perf on the
// receiver's process, when perf is installed and allowed; left out
// without it), transaction commits of a PostgreSQL log (counted by the
// server, pg_stat_database).
//
// The logs: a directory on the disk of the test's temporary directory, one
// on tmpfs (/dev/shm: an fsync that costs nothing, against which the
// disk's cost shows), and PostgreSQL on a server of its own that commits
// durably (pgtest.Durable; the tests' server does not fsync). N is 50, 200
// and 1000, or WEBHOOK_BENCH_N (a comma-separated list).
//
// WEBHOOK_BENCH_BASELINE names another build of source-pluggy (the code
// before a change) to measure side by side with this one, alternating, in
// the same run:
//
//	git archive 2c39799~1 | (mkdir /tmp/before && tar -x -C /tmp/before) && (cd /tmp/before && go build -o /tmp/source-pluggy-before ./cmd/source-pluggy)
//	WEBHOOK_BENCH_BASELINE=/tmp/source-pluggy-before go test -run '^$' -bench BenchmarkWebhookBurst -benchtime 3x ./cmd/source-pluggy/
func BenchmarkWebhookBurst(b *testing.B) {
	type build struct{ name, bin string }
	var builds []build
	if base := os.Getenv("WEBHOOK_BENCH_BASELINE"); base != "" {
		builds = append(builds, build{"before", base})
	}
	builds = append(builds, build{"after", st.Build(b, "source-pluggy")})
	sizes := []int{50, 200, 1000}
	if s := os.Getenv("WEBHOOK_BENCH_N"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("WEBHOOK_BENCH_N=%q: give a comma-separated list of positive numbers", s)
			}
			sizes = append(sizes, n)
		}
	}
	// Started here, not in the first sub-benchmark that wants it: a
	// server is stopped at the end of the benchmark that started it.
	var pg *pgtest.Server
	if pgtest.BinDir() != "" {
		pg = pgtest.Durable(b)
	}
	logs := []struct {
		name     string
		location func(b *testing.B) string
	}{
		{"disk", func(b *testing.B) string { return filepath.Join(b.TempDir(), "log") }},
		{"tmpfs", func(b *testing.B) string {
			dir, err := os.MkdirTemp("/dev/shm", "webhook-bench-")
			if err != nil {
				b.Skipf("no tmpfs at /dev/shm: %v", err)
			}
			b.Cleanup(func() { os.RemoveAll(dir) })
			return filepath.Join(dir, "log")
		}},
		{"postgres", func(b *testing.B) string {
			if pg == nil {
				b.Skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
			}
			return pg.DB(b)
		}},
	}
	for _, l := range logs {
		for _, n := range sizes {
			for _, bld := range builds {
				b.Run(fmt.Sprintf("log=%s/n=%d/build=%s", l.name, n, bld.name), func(b *testing.B) {
					benchBurst(b, bld.bin, l.location(b), n)
				})
			}
		}
	}
}

func benchBurst(b *testing.B, bin, location string, n int) {
	b.StopTimer()
	args := []string{"webhook", "serve", "--log", location, "--listen", "127.0.0.1:0", "--header", "X-Hook-Token=" + hookSecret}
	cmd := exec.Command(bin, args...)
	var perfOut string
	if !webhook.IsURL(location) {
		if perf, err := exec.LookPath("perf"); err == nil && exec.Command(perf, "stat", "-e", "syscalls:sys_enter_fsync", "--", "true").Run() == nil {
			perfOut = filepath.Join(b.TempDir(), "perf.csv")
			cmd = exec.Command(perf, append([]string{"stat", "-x", ",", "-o", perfOut, "-e", "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync", "--", bin}, args...)...)
		}
	}
	r := startReceiverCmd(b, cmd, location)
	var commits0 int64
	if webhook.IsURL(location) {
		commits0 = pgCommits(b, location)
	}
	var lat []time.Duration
	var wall time.Duration
	for i := range b.N {
		ids := make([]string, n)
		for k := range ids {
			ids[k] = fmt.Sprintf("bench-%d-%05d", i, k)
		}
		b.StartTimer()
		start := time.Now()
		acked, took := r.burstTimed(ids)
		wall += time.Since(start)
		b.StopTimer()
		if len(acked) != n {
			b.Fatalf("%d of %d deliveries answered 200\n%s", len(acked), n, r.log())
		}
		lat = append(lat, took...)
	}
	// SIGTERM to the receiver, not to perf, which then writes its counts.
	pid := r.cmd.Process.Pid
	if perfOut != "" {
		pid = childOf(b, pid)
	}
	st.Must(b, syscall.Kill(pid, syscall.SIGTERM), "SIGTERM")
	<-r.done
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(n*b.N)/wall.Seconds(), "events/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
	switch {
	case perfOut != "":
		// Every fsync of the process: the segments', and one of the
		// directory as the receiver begins its segment.
		b.ReportMetric(float64(perfCount(b, perfOut))/float64(b.N), "fsyncs/burst")
	case webhook.IsURL(location):
		waitSessionGone(b, location)
		b.ReportMetric(float64(pgCommits(b, location)-commits0)/float64(b.N), "commits/burst")
	}
}

// childOf is the process pid started (perf's workload).
func childOf(b *testing.B, pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	st.Must(b, err, "finding perf's child")
	child, err := strconv.Atoi(strings.TrimSpace(strings.Fields(string(raw) + " x")[0]))
	st.Must(b, err, "finding perf's child")
	return child
}

// perfCount sums the counts of perf stat's CSV output.
func perfCount(b *testing.B, path string) int64 {
	raw, err := os.ReadFile(path)
	st.Must(b, err, "reading perf's counts")
	var sum int64
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Split(l, ","); len(f) > 2 && strings.HasPrefix(f[2], "syscalls:") {
			n, err := strconv.ParseInt(f[0], 10, 64)
			st.Must(b, err, "reading perf count "+l)
			sum += n
		}
	}
	return sum
}

// pgCommits is the transactions committed in the database of url, as the
// server counts them (each session's count is added as it ends), from a
// session of its own that ends at once.
func pgCommits(b *testing.B, url string) int64 {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	st.Must(b, err, "connecting")
	defer conn.Close(ctx)
	var n int64
	st.Must(b, conn.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n), "reading pg_stat_database")
	return n
}

// waitSessionGone waits until the receiver's session has ended, its
// commits counted.
func waitSessionGone(b *testing.B, url string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	st.Must(b, err, "connecting")
	defer conn.Close(ctx)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var n int
		st.Must(b, conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'source-pluggy webhook log'`).Scan(&n), "reading pg_stat_activity")
		if n == 0 {
			time.Sleep(100 * time.Millisecond) // the session's counts are added as it exits
			return
		}
	}
	b.Fatal("the receiver's session did not end")
}
