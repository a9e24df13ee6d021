// Command source-enablebanking is an Airbyte-protocol source for the Enable
// Banking Accounts API, and the Singer tap tap-enablebanking when invoked
// under that name (a symlink or copy) or as `source-enablebanking singer`.
// Everything but the provider and its demo is the shared binary of package
// cli.
package main

import (
	"github.com/source-pluggy/source-pluggy/connector/cli"
	"github.com/source-pluggy/source-pluggy/connector/enablebanking"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

func main() {
	cli.Binary{Source: enablebanking.Source{}, Tap: "tap-enablebanking", Commands: []func(*source.Runner) source.Command{demoCommand, enablebanking.ConnectCommand}}.Main()
}
