// Package app is the source-gocardless-bank-data binary as a value: its
// main runs it, and fake-gocardless-bank-data's demo reads through the same
// runtime in-process, so the demo shows exactly what the binary does while
// the binary links no fake.
package app

import (
	"github.com/source-pluggy/source-pluggy/connector/cli"
	"github.com/source-pluggy/source-pluggy/connector/gocardless"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// FormerName is the binary's name before the rename (see the main
// package's doc).
const FormerName = "source-gocardless"

// Binary is source-gocardless-bank-data: the GoCardless Bank Account Data
// source, its tap, its extra commands, and the PostgreSQL schema its
// former name chose, kept so existing loads go on where they were.
var Binary = cli.Binary{
	Source:         gocardless.Source{},
	Tap:            "tap-gocardless-bank-data",
	FormerTap:      "tap-gocardless",
	Commands:       []func(*source.Runner) source.Command{gocardless.ConnectCommand},
	PostgresSchema: postgres.DefaultSchema(FormerName),
}
