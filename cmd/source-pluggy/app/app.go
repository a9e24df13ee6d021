// Package app is the source-pluggy binary as a value: its main runs it, and
// fake-pluggy's demo reads through the same runtime in-process, so the demo
// shows exactly what the binary does while the binary links no fake.
package app

import (
	"github.com/source-pluggy/source-pluggy/connector/cli"
	"github.com/source-pluggy/source-pluggy/connector/pluggy"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Binary is source-pluggy: the Pluggy source, its tap, its extra commands
// and its PostgreSQL views.
var Binary = cli.Binary{
	Source:        pluggy.Source{},
	Tap:           "tap-pluggy",
	Commands:      []func(*source.Runner) source.Command{pluggy.ConnectCommand, pluggy.WebhookCommand},
	PostgresViews: []postgres.View{{Name: "category_spending", Tables: []string{"transactions", "accounts"}, Query: pluggy.CategorySpendingSQL}},
}
