package source

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// A secret pasted into the wrong shape (a list, an object) is still a
// secret: every string inside is masked, and the object's keys are not.
func TestSecretInAWrongShapeIsStillMasked(t *testing.T) {
	spec := json.RawMessage(`{"properties":{"token":{"type":"string","airbyte_secret":true},"name":{"type":"string"}}}`)
	r := &secret.Redactor{}
	registerSecrets(spec, map[string]any{
		"token": []any{"abc-secret-1", map[string]any{"value": "abc-secret-2"}, 3.0},
		"name":  "not-a-secret",
	}, r)
	got := r.String("abc-secret-1 abc-secret-2 value not-a-secret")
	if want := secret.Mask + " " + secret.Mask + " value not-a-secret"; got != want {
		t.Fatalf("redacted %q, want %q", got, want)
	}
}

// panicSource panics in Open with its config's secret in the message.
type panicSource struct{ fuzzSource }

func (panicSource) Open(_ context.Context, cfg json.RawMessage, _ Env) (Conn, error) {
	panic("cannot use " + string(cfg))
}

// A panic on the main path becomes an ERROR trace and exit 1, its message
// and stack redacted like everything else.
func TestPanicIsReportedRedacted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(`{"token":"tok-Secret-0042","ids":["a"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := (&Runner{Source: panicSource{}}).Run(context.Background(), []string{"discover", "--config", path}, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	if code != ExitFail || !strings.Contains(out, `"failure_type":"system_error"`) || !strings.Contains(out, "crashed") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "tok-Secret-0042") {
		t.Fatalf("the secret is in the crash report:\n%s", out)
	}
}
