package source

import (
	"encoding/json"
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
