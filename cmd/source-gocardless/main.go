// Command source-gocardless is an Airbyte-protocol source for the GoCardless
// Bank Account Data API, and the Singer tap tap-gocardless when invoked under
// that name (a symlink or copy) or as `source-gocardless singer`. main only
// wires signals to a context and exits with the code the runner returns;
// everything else is testable without a process.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/source-pluggy/source-pluggy/connector/gocardless"
	"github.com/source-pluggy/source-pluggy/connector/singer"
	"github.com/source-pluggy/source-pluggy/connector/sink/parquet"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newRunner().Main(ctx, filepath.Base(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func newRunner() *source.Runner {
	r := &source.Runner{Source: gocardless.Source{}}
	r.Extra = []source.Command{gocardless.DemoCommand(r), singer.Command(r, "tap-gocardless")}
	r.Sinks = []source.SinkFlags{&parquet.Flags{Version: source.Version}}
	return r
}
