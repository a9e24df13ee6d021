// Command cpuprofile is source-pluggy writing a CPU profile of its run to
// the file $CPUPROFILE, for profiling the real binary end to end (the sinks'
// goroutines, the read's, the collector) where a Go benchmark sees only a
// part; with $TRACE set it also writes an execution trace there, which shows
// what the profile cannot: when a core sits idle, and what the goroutines
// wait for. A development tool, not built into the product:
//
//	go build -o /tmp/sp-prof ./dev/cpuprofile
//	CPUPROFILE=/tmp/parquet.prof go run ./dev/pluggy-bench -parquet -runs 1 -incremental=false -transactions 10000 -bin /tmp/sp-prof
//	go tool pprof -top -cum /tmp/sp-prof /tmp/parquet.prof
//	CPUPROFILE=/dev/null TRACE=/tmp/parquet.trace go run ./dev/pluggy-bench ... (the same)
//	go tool trace -pprof=sync /tmp/parquet.trace > /tmp/sync.prof   # or open it: go tool trace /tmp/parquet.trace
//
// Every run of the binary writes the same files, so the last one wins: in
// pluggy-bench's Parquet mode without DuckDB that is the Parquet read.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"syscall"

	"github.com/source-pluggy/source-pluggy/cmd/source-pluggy/app"
)

func main() { os.Exit(run()) }

func run() int {
	path := os.Getenv("CPUPROFILE")
	if path == "" {
		fmt.Fprintln(os.Stderr, "cpuprofile: set CPUPROFILE to the file the profile goes to")
		return 2
	}
	stopProfile, err := record(path, pprof.StartCPUProfile, pprof.StopCPUProfile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cpuprofile: %v\n", err)
		return 2
	}
	defer stopProfile()
	if path := os.Getenv("TRACE"); path != "" {
		stopTrace, err := record(path, trace.Start, trace.Stop)
		if err != nil {
			fmt.Fprintf(os.Stderr, "cpuprofile: %v\n", err)
			return 2
		}
		defer stopTrace()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Binary.Runner().Main(ctx, "source-pluggy", os.Args[1:], os.Stdout, os.Stderr)
}

// record creates path and starts writing to it; the returned func stops
// and closes it.
func record(path string, start func(io.Writer) error, stop func()) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { stop(); f.Close() }, nil
}
