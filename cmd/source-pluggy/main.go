// Command source-pluggy is an Airbyte-protocol source for the Pluggy Open
// Finance API, and the Singer tap tap-pluggy when invoked under that name (a
// symlink or copy) or as `source-pluggy singer`. Everything but the provider
// is the shared binary of package cli.
package main

import (
	"github.com/source-pluggy/source-pluggy/connector/cli"
	"github.com/source-pluggy/source-pluggy/connector/pluggy"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

func main() {
	cli.Binary{Source: pluggy.Source{}, Tap: "tap-pluggy", Commands: []func(*source.Runner) source.Command{demoCommand, pluggy.ConnectCommand, pluggy.WebhookCommand},
		PostgresViews: []postgres.View{{Name: "category_spending", Tables: []string{"transactions", "accounts"}, Query: pluggy.CategorySpendingSQL}}}.Main()
}
