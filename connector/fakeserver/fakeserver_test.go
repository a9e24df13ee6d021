package fakeserver

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// TestCommandsAndUsage: the first argument picks a command only when it
// names one exactly (flags and other words are the server's), and -help
// shows the serving form, each command and the serving flags.
func TestCommandsAndUsage(t *testing.T) {
	demo := Command{Name: "demo", Summary: "run the demo", Run: func(context.Context, []string, io.Writer, io.Writer) int { return 0 }}
	for args, want := range map[string]bool{"demo": true, "demo --out x": true, "": false, "-demo": false, "--items 2": false, "demos": false} {
		if got := commandOf(strings.Fields(args), []Command{demo}) != nil; got != want {
			t.Errorf("%q: command %v, want %v", args, got, want)
		}
	}
	var out bytes.Buffer
	fs := flag.NewFlagSet("fake-x", flag.ContinueOnError)
	fs.SetOutput(&out)
	fs.Int("items", 2, "items served")
	fs.Usage = Usage(fs, "serve the fake", demo)
	if err := fs.Parse([]string{"-help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-help: %v", err)
	}
	for _, want := range []string{"Usage of fake-x:", "  fake-x [flags]\n        serve the fake", "  fake-x demo [flags]\n        run the demo", "-items int"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}
