package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// externalFlags are the flags the manual names of other programs' command
// lines (docker, buildah, kubectl, perf, hyperfine, meltano, kind), each
// with the program, so that a new one is added knowingly.
var externalFlags = map[string]string{
	"all":            "meltano select",
	"build-arg":      "docker build",
	"children":       "perf report",
	"entrypoint":     "docker run",
	"from-file":      "kubectl create configmap",
	"isolation":      "buildah run",
	"list":           "meltano select",
	"name":           "kind load",
	"prefix":         "npm install",
	"rm":             "docker run",
	"runs":           "hyperfine",
	"sort":           "perf report",
	"stdio":          "perf report",
	"storage-driver": "buildah",
	"target":         "docker build",
	"warmup":         "hyperfine",
}

// docFlag is a double-dash flag in the manual: a word starting "--" after
// a space, a backquote, a bracket or a parenthesis.
var docFlag = regexp.MustCompile("(?:^|[ `(\\[|])--([a-z][a-z0-9-]*[a-z0-9])")

// helpFlag is a flag as pflag's and flag's --help list them.
var helpFlag = regexp.MustCompile(`(?m)^\s+(?:-[a-z], )?--?([a-z][a-z0-9-]*)`)

// TestDocsNameOnlyRealFlags: every --flag README.md and docs/ mention is
// one a binary's --help lists (a connector's command, a fake, the demo),
// or another program's, listed in externalFlags. A flag renamed or
// removed from the binaries, and left in the manual, fails here.
func TestDocsNameOnlyRealFlags(t *testing.T) {
	have := map[string]bool{"help": true} // every command takes it
	for _, bin := range []string{"source-pluggy", "source-gocardless-bank-data", "source-enablebanking"} {
		path := st.Build(t, bin)
		for _, cmd := range [][]string{{"spec"}, {"check"}, {"discover"}, {"read"}, {"connect"}, {"singer"},
			{"webhook", "serve"}, {"webhook", "register"}, {"webhook", "list"}, {"webhook", "delete"}} {
			helpFlags(t, have, path, append(cmd, "--help")...)
		}
	}
	for _, bin := range []string{"fake-pluggy", "fake-gocardless-bank-data", "fake-enablebanking"} {
		path := st.Build(t, bin)
		helpFlags(t, have, path, "-help")
		helpFlags(t, have, path, "demo", "--help")
	}
	for _, want := range []string{"no-states", "state-file", "parquet-dir", "postgres", "max-body-bytes", "read-flag", "accounts"} {
		if !have[want] {
			t.Fatalf("no --help lists --%s: the help parsing is broken (flags found: %d)", want, len(have))
		}
	}

	root := st.RepoRoot()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	st.Must(t, err, "docs")
	docs = append(docs, filepath.Join(root, "README.md"))
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		st.Must(t, err, doc)
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range docFlag.FindAllStringSubmatch(line, -1) {
				if name := m[1]; !have[name] && externalFlags[name] == "" {
					t.Errorf("%s:%d names --%s, which no binary's --help lists: fix the manual, or add it to externalFlags with its program",
						filepath.Base(doc), i+1, name)
				}
			}
		}
	}
}

// helpFlags adds the flags bin's --help lists for args to have. A command a
// binary lacks prints a usage error; its flags are then simply none.
func helpFlags(t *testing.T, have map[string]bool, bin string, args ...string) {
	t.Helper()
	stdout, stderr, _ := st.Exec(t, bin, args...)
	for _, m := range helpFlag.FindAllStringSubmatch(string(stdout)+string(stderr), -1) {
		have[m[1]] = true
	}
}
