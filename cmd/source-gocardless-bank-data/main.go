// Command source-gocardless-bank-data is an Airbyte-protocol source for the
// GoCardless Bank Account Data API (formerly Nordigen), and the Singer tap
// tap-gocardless-bank-data when invoked under that name (a symlink or copy)
// or as `source-gocardless-bank-data singer`. Everything but the provider is
// the shared binary of package cli.
//
// It was called source-gocardless (tap-gocardless) until it was renamed so
// that nobody takes it for Airbyte's source-gocardless or Meltano's
// tap-gocardless, which read GoCardless's payments API. Nothing it writes
// carries its name except the PostgreSQL sink's default schema, which stays
// the old name's "gocardless" so existing loads go on where they were.
package main

import (
	"github.com/source-pluggy/source-pluggy/connector/cli"
	"github.com/source-pluggy/source-pluggy/connector/gocardless"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// formerName is the binary's name before the rename.
const formerName = "source-gocardless"

func main() {
	cli.Binary{
		Source:         gocardless.Source{},
		Tap:            "tap-gocardless-bank-data",
		Commands:       []func(*source.Runner) source.Command{demoCommand, gocardless.ConnectCommand},
		PostgresSchema: postgres.DefaultSchema(formerName),
	}.Main()
}
