package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConfigErrorsReadAsValidationErrors: a config value the connector
// refuses on its own, before any API call (a base_url it cannot use, a
// start_date after today, attended without the holder's details, the
// private key fields mixed up), reads "Config validation error: config.…"
// as the schema's errors do, in check's FAILED status and in read's
// config_error trace, where these began "config.…" bare; check still exits
// 0 and read 1.
func TestConfigErrorsReadAsValidationErrors(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	st.Must(t, os.WriteFile(keyFile, []byte(e.fake.PrivateKeyPEM()), 0o600), "key file")
	cat := e.catalog(true, "accounts")
	for _, c := range []struct {
		name  string
		over  map[string]any
		field string
	}{
		{"plain http base_url", map[string]any{"base_url": "http://api.enablebanking.com"}, "config.base_url"},
		{"base_url with a query", map[string]any{"base_url": "https://api.enablebanking.com/?x=1"}, "config.base_url"},
		{"future start_date", map[string]any{"start_date": "2099-01-01"}, "config.start_date"},
		{"attended without ip", map[string]any{"attended": true}, "config.psu_ip_address"},
		{"both keys", map[string]any{"private_key_path": keyFile}, "config.private_key"},
		{"key contents in private_key_path", map[string]any{"private_key": nil, "private_key_path": e.fake.PrivateKeyPEM()}, "config.private_key_path"},
		{"key file path in private_key", map[string]any{"private_key": keyFile}, "config.private_key"},
		{"malformed key", map[string]any{"private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"}, "config.private_key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := "Config validation error: " + c.field
			cs, r := st.CheckRun(t, e.bin, e.config(c.over))
			if r.Code != 0 || cs.Status != protocol.StatusFailed || !strings.HasPrefix(cs.Message, want) {
				t.Errorf("check: exit %d, %s %q; want exit 0, FAILED starting %q", r.Code, cs.Status, cs.Message, want)
			}
			r = st.Run(t, e.bin, "read", "--config", e.config(c.over), "--catalog", cat)
			traces := r.ErrorTraces()
			if r.Code != 1 || len(traces) == 0 || traces[0].FailureType != protocol.ConfigError || !strings.HasPrefix(traces[0].Message, want) {
				t.Errorf("read: exit %d, traces %+v; want exit 1, a config_error starting %q", r.Code, traces, want)
			}
			e.noSecrets(r)
		})
	}
}
