package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/source"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// The binary was source-gocardless (tap-gocardless) until it was renamed
// to tell it from Airbyte's and Meltano's connectors of GoCardless's
// payments API. These tests hold the new names where a user sees them and
// the one default that must not move with them: the PostgreSQL schema
// (TestPostgresEveryStreamLoadsAndFollowsTheBank loads into it and
// resumes from the states stored there).

// TestOutputsCarryNoName: a state file and a Parquet directory written by
// a read hold neither the binary's name nor its former one, so those the
// old source-gocardless wrote are read and extended as they are (the tests
// of state compatibility load main's states through this binary).
func TestOutputsCarryNoName(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 1})
	dir := t.TempDir()
	stateFile, pq := filepath.Join(dir, "state.json"), filepath.Join(dir, "pq")
	e.read(e.catalog(true), "--state-file", stateFile, "--parquet-dir", pq)
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, name := range []string{"source-gocardless", "tap-gocardless", "gocardless-bank-data"} {
			if bytes.Contains(b, []byte(name)) {
				t.Errorf("%s holds %q: a renamed binary would not read it as its own", path, name)
			}
		}
		return nil
	})
	st.Must(t, err, "walk")
	if files < 3 {
		t.Fatalf("%d files written; want the state file and Parquet files", files)
	}
}

// TestNames: version, spec's title, the tap's --about and a Singer sync
// under the tap's new name, and read's --postgres-schema default.
func TestNames(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 1})

	out, stderr, code := st.Exec(t, e.bin, "version")
	if code != 0 || !strings.HasPrefix(string(out), "source-gocardless-bank-data "+source.Version) {
		t.Errorf("version: exit %d, %q %s", code, out, stderr)
	}

	out, stderr, code = st.Exec(t, e.bin, "read", "--help")
	if code != 0 || !regexp.MustCompile(`--postgres-schema NAME[^\n]*\(default "gocardless"\)`).Match(append(out, stderr...)) {
		t.Errorf("read --help: exit %d; want --postgres-schema's default to stay the old name's schema \"gocardless\":\n%s%s", code, out, stderr)
	}

	dir := t.TempDir()
	tap := filepath.Join(dir, "tap-gocardless-bank-data")
	st.Must(t, os.Symlink(e.bin, tap), "symlink")
	out, stderr, code = st.Exec(t, tap, "--about", "--format=json")
	var about struct {
		Name string `json:"name"`
	}
	if code != 0 || json.Unmarshal(out, &about) != nil || about.Name != "tap-gocardless-bank-data" {
		t.Errorf("tap-gocardless-bank-data --about: exit %d, name %q\n%s%s", code, about.Name, out, stderr)
	}

	out, stderr, code = st.Exec(t, tap, "--config", e.config(nil))
	if code != 0 {
		t.Fatalf("tap-gocardless-bank-data exited %d: %s", code, stderr)
	}
	records, states := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m struct {
			Type string `json:"type"`
		}
		st.Must(t, json.Unmarshal(sc.Bytes(), &m), "singer line")
		switch m.Type {
		case "RECORD":
			records++
		case "STATE":
			states++
		}
	}
	if records == 0 || states == 0 {
		t.Errorf("tap-gocardless-bank-data: %d RECORD and %d STATE messages, want some of each", records, states)
	}

	// A link still named tap-gocardless is not the tap (docs/gocardless.md
	// says to re-create it): it refuses to run rather than print Airbyte
	// messages to a Singer target, and says which link to make (it said
	// only: unknown command "--config").
	old := filepath.Join(dir, "tap-gocardless")
	st.Must(t, os.Symlink(e.bin, old), "symlink")
	for _, args := range [][]string{{"--config", e.config(nil)}, {"--about"}, {"read", "--config", e.config(nil)}} {
		out, stderr, code = st.Exec(t, old, args...)
		if code != source.ExitUsage || len(out) != 0 || !strings.Contains(string(stderr), "ln -s source-gocardless-bank-data tap-gocardless-bank-data") {
			t.Errorf("tap-gocardless %s: exit %d, stdout %q, stderr %s; want a usage error naming the link to make, and nothing on stdout", strings.Join(args, " "), code, out, stderr)
		}
	}
}

// TestSingerDiscoverDeclaresSchemaFields: --discover lists what the SCHEMA
// messages declare (_leftovers included), as a Meltano user selecting
// fields needs.
func TestSingerDiscoverDeclaresSchemaFields(t *testing.T) {
	e := newEnv(t, fake.Options{Requisitions: 1})
	tap := st.TapLink(t, e.bin, "tap-gocardless-bank-data")
	st.CheckSingerDiscoverMatchesSchema(t, tap, e.config(nil))
}
