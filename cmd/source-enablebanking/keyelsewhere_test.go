package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking"
	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestKeyInAnotherFieldIsMasked: the private key pasted into another
// field than private_key (application_id, beside it in a form; a list of
// ids; a date), private_key left empty, as written, with its line breaks as "\n" text or as
// spaces, or as a list, is never printed by check or the Singer mode's
// discovery, whose validation messages quote the value they refuse. It
// was printed whole ("config.application_id: '-----BEGIN PRIVATE
// KEY-----\nMIIE…' is not a UUID"): only private_key's own value was a
// secret. The message still names the field.
func TestKeyInAnotherFieldIsMasked(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	key := e.fake.PrivateKeyPEM()
	var lines []string
	for _, l := range strings.Split(key, "\n") {
		if l != "" && !strings.Contains(l, "-----") {
			lines = append(lines, l)
		}
	}
	var spec struct {
		Properties map[string]struct {
			Secret bool `json:"airbyte_secret"`
		} `json:"properties"`
	}
	st.Must(t, json.Unmarshal(enablebanking.Source{}.Spec().ConnectionSpecification, &spec), "spec")
	shapes := map[string]any{
		"as written":       key,
		`"\n" text`:        strings.ReplaceAll(key, "\n", `\n`),
		"spaces":           strings.ReplaceAll(key, "\n", " "),
		"in a list":        []string{key},
		"after an id, cut": e.fake.SessionIDs()[0] + "," + key,
	}
	fields := 0
	for field, p := range spec.Properties {
		if p.Secret {
			continue
		}
		fields++
		for shape, v := range shapes {
			// Moved, not copied: private_key's own value is a secret.
			over := map[string]any{field: v, "private_key": nil}
			cfg := e.config(over)
			for _, args := range [][]string{{"check", "--config", cfg}, {"singer", "--config", cfg, "--discover"}} {
				stdout, stderr, _ := st.Exec(t, e.bin, args...)
				out := string(stdout) + string(stderr)
				for i, l := range lines {
					if strings.Contains(out, l) {
						t.Errorf("%s %s: line %d of the key is in the output:\n%s", field, shape, i+1, out)
						break
					}
				}
				// A field that takes any text (account_uids) fails
				// for the key it lacks.
				if args[0] == "check" && !strings.Contains(out, "config."+field) && !strings.Contains(out, "config.private_key:") {
					t.Errorf("%s %s: the failure names neither the field nor private_key:\n%s", field, shape, out)
				}
			}
		}
	}
	if fields < 5 {
		t.Fatalf("only %d fields of the spec were tried", fields)
	}
}
