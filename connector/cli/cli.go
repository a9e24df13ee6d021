// Package cli is what every connector binary's main shares: the protocol
// commands, the Singer mode under the tap's name, the output flags of read
// (--parquet-dir, --postgres, ...), the binary's extra commands (connect) and the wiring of
// SIGINT/SIGTERM to a context. A provider's main is one call to Main.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/source-pluggy/source-pluggy/connector/singer"
	"github.com/source-pluggy/source-pluggy/connector/sink/parquet"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Binary describes one connector binary.
type Binary struct {
	// Source is the provider.
	Source source.Source
	// Tap is the program name of the Singer mode, e.g. "tap-pluggy".
	Tap string
	// FormerTap is the tap's name before a rename. Started under it, the
	// binary refuses to run and says which link to make: it takes neither
	// mode, since a Singer target fed Airbyte messages, or an Airbyte
	// platform fed Singer's, would fail far from the cause.
	FormerTap string
	// Commands make the binary's extra commands (connect), given the runner.
	Commands []func(r *source.Runner) source.Command
	// PostgresViews are the provider's views over its tables that
	// read --postgres creates (reports).
	PostgresViews []postgres.View
	// PostgresSchema is the default of --postgres-schema when it is not
	// the binary's name without "source-": a renamed binary keeps loading
	// into the schema its earlier name chose.
	PostgresSchema string
}

// Runner assembles the binary's runner: the protocol commands, the extra
// commands, the Singer mode and read's sink flags.
func (b Binary) Runner() *source.Runner {
	r := &source.Runner{Source: b.Source}
	for _, c := range b.Commands {
		r.Extra = append(r.Extra, c(r))
	}
	r.Extra = append(r.Extra, singer.Command(r, b.Tap), b.demo())
	if b.FormerTap != "" {
		r.Extra = append(r.Extra, b.formerTap())
	}
	r.Sinks = []source.SinkFlags{
		&parquet.Flags{Version: source.Version, Provider: b.provider()},
		&postgres.Flags{Connector: b.Source.Name(), Schema: b.PostgresSchema, Version: source.Version, Provider: b.provider(), Views: b.PostgresViews},
	}
	return r
}

// provider is the stable name of the binary's data (pluggy, gocardless,
// enablebanking), which its Parquet files and its PostgreSQL schema
// record: the default PostgreSQL schema, which a rename of the binary
// does not move either.
func (b Binary) provider() string {
	if b.PostgresSchema != "" {
		return b.PostgresSchema
	}
	return postgres.DefaultSchema(b.Source.Name())
}

// Main runs the binary's command line and exits with its code. A signal
// cancels the run's context: the read stops, says so, and the last STATE is
// where the next run resumes.
func (b Binary) Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	code := b.Runner().Main(ctx, filepath.Base(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// formerTap is what runs under the tap's former name (see FormerTap).
func (b Binary) formerTap() source.Command {
	return source.Command{
		Program: b.FormerTap,
		Run: func(_ context.Context, _ []string, _, stderr io.Writer) int {
			fmt.Fprintf(stderr, "%s: this binary is %s now, and its Singer tap %s; %s is another connector's name. Link it under the new name (ln -s %s %s) and point Meltano's executable at that; see docs/gocardless.md, \"Formerly source-gocardless\"\n",
				b.FormerTap, b.Source.Name(), b.Tap, b.FormerTap, b.Source.Name(), b.Tap)
			return source.ExitUsage
		},
	}
}

// demo is the command that says where the demo is. It runs with the fake
// (fake-pluggy demo and the like), so that no connector binary or image
// links fake code; someone who types the connector's own demo, as earlier
// versions had it, is told the command that replaced it.
func (b Binary) demo() source.Command {
	fake := "fake-" + strings.TrimPrefix(b.Source.Name(), "source-")
	return source.Command{
		Name:    "demo",
		Summary: "where the demo is: go run ./cmd/" + fake + " demo (it runs with the fake API)",
		Run: func(_ context.Context, _ []string, _, stderr io.Writer) int {
			fmt.Fprintf(stderr, "%s: the demo runs with the fake API, so that the connector itself links no fake code. From a checkout of the repository: go run ./cmd/%s demo\n", b.Source.Name(), fake)
			return source.ExitUsage
		},
	}
}
