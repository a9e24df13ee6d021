// Package app is the source-enablebanking binary as a value: its main runs
// it, and fake-enablebanking's demo reads through the same runtime
// in-process, so the demo shows exactly what the binary does while the
// binary links no fake.
package app

import (
	"github.com/source-pluggy/source-pluggy/connector/cli"
	"github.com/source-pluggy/source-pluggy/connector/enablebanking"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Binary is source-enablebanking: the Enable Banking source, its tap and
// its extra commands.
var Binary = cli.Binary{
	Source:   enablebanking.Source{},
	Tap:      "tap-enablebanking",
	Commands: []func(*source.Runner) source.Command{enablebanking.ConnectCommand},
}
