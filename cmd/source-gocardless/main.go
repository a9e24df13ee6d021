// Command source-gocardless is an Airbyte-protocol source for the GoCardless
// Bank Account Data API, and the Singer tap tap-gocardless when invoked under
// that name (a symlink or copy) or as `source-gocardless singer`. Everything
// but the provider is the shared binary of package cli.
package main

import (
	"github.com/source-pluggy/source-pluggy/connector/cli"
	"github.com/source-pluggy/source-pluggy/connector/gocardless"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

func main() {
	cli.Binary{Source: gocardless.Source{}, Tap: "tap-gocardless", Commands: []func(*source.Runner) source.Command{demoCommand, gocardless.ConnectCommand}}.Main()
}
