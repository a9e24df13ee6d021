package main

import (
	"regexp"
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// placeholderLine is a flag that --help shows with a value placeholder, as
// flag (`  -name value`, usage on the next line) and pflag (`  --name value`
// then the usage after two spaces or more) print it.
var placeholderLine = regexp.MustCompile(`(?m)^\s+(?:-[a-z], )?(--?)([a-z][a-z0-9-]*) (\S+)(?:$|\s{2,})`)

// TestHelpPlaceholdersOnlyOnValueFlags: no --help of the six binaries (the
// connectors' commands, webhook's subcommands included, the fakes and their
// demos) shows a value placeholder on a flag that takes no value. flag and
// pflag both take the first backquoted word of a usage text as the
// placeholder, even on a boolean, so "write v2 `next` ..." showed
// `-next-drops-filters next`. A flag is boolean when it parses without a
// value: `-name -help -no-such-flag` then stops at -help and exits 0, where
// a flag that takes a value takes -help as it and fails on -no-such-flag.
func TestHelpPlaceholdersOnlyOnValueFlags(t *testing.T) {
	var runs [][]string // a binary and the arguments before --help
	for _, bin := range []string{"source-pluggy", "source-gocardless-bank-data", "source-enablebanking"} {
		for _, cmd := range [][]string{{"spec"}, {"check"}, {"discover"}, {"read"}, {"connect"}, {"singer"}} {
			runs = append(runs, append([]string{bin}, cmd...))
		}
	}
	for _, sub := range []string{"serve", "register", "list", "delete"} {
		runs = append(runs, []string{"source-pluggy", "webhook", sub})
	}
	for _, bin := range []string{"fake-pluggy", "fake-gocardless-bank-data", "fake-enablebanking"} {
		runs = append(runs, []string{bin}, []string{bin, "demo"})
	}
	checked := 0
	for _, run := range runs {
		bin, args := st.Build(t, run[0]), run[1:]
		stdout, stderr, _ := st.Exec(t, bin, append(args, "--help")...)
		for _, m := range placeholderLine.FindAllStringSubmatch(string(stdout)+string(stderr), -1) {
			dash, name, placeholder := m[1], m[2], m[3]
			checked++
			_, _, code := st.Exec(t, bin, append(args, dash+name, dash+"help", dash+"no-such-flag")...)
			if code == 0 {
				t.Errorf("%s --help shows %s%s %s, but %s%s takes no value: a backquoted word in its usage text became the placeholder; drop the backquotes",
					strings.Join(run, " "), dash, name, placeholder, dash, name)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d flags with a placeholder found: the help parsing is broken", checked)
	}
}

// TestNextStylePlaceholder: --next-style takes a string, the style of the
// v2 next links, and --help names its value so.
func TestNextStylePlaceholder(t *testing.T) {
	_, stderr, _ := st.Exec(t, st.Build(t, "fake-pluggy"), "-help")
	for _, want := range []string{"\n  -next-style style\n", "\n  -next-drops-filters\n"} {
		if !strings.Contains(string(stderr), want) {
			t.Errorf("-help lacks %q:\n%s", want, stderr)
		}
	}
}
