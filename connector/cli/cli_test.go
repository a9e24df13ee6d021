package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// TestDemoNamesTheFake: `source-X demo`, the command earlier versions and
// issue texts name, says which command runs the demo now, and fails as a
// usage error rather than pretending to have run it.
func TestDemoNamesTheFake(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Binary{Source: enablebanking.Source{}, Tap: "tap-enablebanking"}.Runner().Run(context.Background(), []string{"demo"}, &stdout, &stderr)
	if code != source.ExitUsage {
		t.Fatalf("exit %d, want %d", code, source.ExitUsage)
	}
	if stdout.Len() != 0 {
		t.Fatalf("stdout is not empty: %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), "go run ./cmd/fake-enablebanking demo") {
		t.Fatalf("stderr does not name the demo command: %q", stderr.String())
	}
}

// TestHelpListsOnlyCommands: a binary with a former tap name lists no line
// for it in its --help (it runs only under that program name, and has no
// command name), and an empty command is not taken for it.
func TestHelpListsOnlyCommands(t *testing.T) {
	b := Binary{Source: enablebanking.Source{}, Tap: "tap-enablebanking", FormerTap: "tap-formerly"}
	var stdout, stderr bytes.Buffer
	if code := b.Runner().Run(context.Background(), []string{"--help"}, &stdout, &stderr); code != source.ExitOK {
		t.Fatalf("--help: exit %d, want %d", code, source.ExitOK)
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.TrimSpace(line) == b.Source.Name() {
			t.Errorf("--help lists a command with no name:\n%s", stdout.String())
		}
	}
	stdout.Reset()
	stderr.Reset()
	code := b.Runner().Run(context.Background(), []string{""}, &stdout, &stderr)
	if code != source.ExitUsage || !strings.Contains(stderr.String(), `unknown command ""`) {
		t.Errorf("command \"\": exit %d, stderr %q; want %d and unknown command", code, stderr.String(), source.ExitUsage)
	}
}

// TestVersionTakesHelp: version, like every command, answers --help with
// its usage, and refuses an argument it does not take (exit 2).
func TestVersionTakesHelp(t *testing.T) {
	r := Binary{Source: enablebanking.Source{}, Tap: "tap-enablebanking"}.Runner()
	var stdout, stderr bytes.Buffer
	if code := r.Run(context.Background(), []string{"version", "--help"}, &stdout, &stderr); code != source.ExitOK || !strings.HasPrefix(stdout.String(), "Usage: source-enablebanking version") {
		t.Errorf("version --help: exit %d, stdout %q; want 0 and the usage", code, stdout.String())
	}
	stdout.Reset()
	if code := r.Run(context.Background(), []string{"version", "--bogus"}, &stdout, &stderr); code != source.ExitUsage || stdout.Len() != 0 {
		t.Errorf("version --bogus: exit %d, stdout %q; want %d and nothing on stdout", code, stdout.String(), source.ExitUsage)
	}
	stdout.Reset()
	if code := r.Run(context.Background(), []string{"version"}, &stdout, &stderr); code != source.ExitOK || stdout.String() != "source-enablebanking "+source.Version+"\n" {
		t.Errorf("version: exit %d, stdout %q", code, stdout.String())
	}
}
