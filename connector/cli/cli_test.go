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
