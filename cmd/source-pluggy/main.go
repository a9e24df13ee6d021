// Command source-pluggy is an Airbyte-protocol source for the Pluggy Open
// Finance API, and the Singer tap tap-pluggy when invoked under that name (a
// symlink or copy) or as `source-pluggy singer`. main only wires signals to a
// context and exits with the code the runner returns; everything else is
// testable without a process.
package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/source-pluggy/source-pluggy/connector/pluggy"
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
	r := &source.Runner{Source: pluggy.Source{}}
	r.Extra = []source.Command{pluggy.DemoCommand(r), pluggy.ConnectCommand(r), pluggy.WebhookCommand(r), singer.Command(r, "tap-pluggy")}
	r.Sinks = []source.SinkFlags{&parquet.Flags{Version: source.Version}}
	return r
}
