//go:build unix

package sourcetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// CheckHostileInputs runs bin's read with inputs a confused user or a
// hostile file system hands it, each of which must be a config_error that
// names the input and the fix, exit 1, emit no record, and never hang:
// a FIFO nothing writes to as --config, --catalog or --state (a pipe is
// taken there, as --config <(...) hands one over, so it must not wait for
// a writer), a FIFO as --state-file; data after the config object;
// a destination_sync_mode the protocol does not have; a state giving one
// stream twice; a GLOBAL state mixed with STREAM ones. config and catalog
// are files a good read takes; stream is one of the catalog's streams.
func CheckHostileInputs(t *testing.T, bin, config, catalog, stream string) {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	rawConfig, err := os.ReadFile(config)
	Must(t, err, "config")
	trailing := filepath.Join(dir, "trailing.json")
	Must(t, os.WriteFile(trailing, append(rawConfig, []byte("}{")...), 0o600), "config")
	var cat map[string]any
	rawCatalog, err := os.ReadFile(catalog)
	Must(t, err, "catalog")
	Must(t, json.Unmarshal(rawCatalog, &cat), "catalog")
	cat["streams"].([]any)[0].(map[string]any)["destination_sync_mode"] = "sideways"
	badDest := WriteFile(t, "dest.json", cat)
	streamState := func() map[string]any {
		return map[string]any{"type": "STREAM", "stream": map[string]any{"stream_descriptor": map[string]any{"name": stream}, "stream_state": nil}}
	}
	twice := WriteFile(t, "twice.json", []any{streamState(), streamState()})
	mixed := WriteFile(t, "mixed.json", []any{
		map[string]any{"type": "GLOBAL", "global": map[string]any{"stream_states": []any{}}},
		streamState(),
	})
	for _, c := range []struct {
		name                   string
		config, catalog, state string
		mention1, mention2     string
		extra                  []string
	}{
		{"FIFO as --config", fifo, catalog, "", "--config", "a pipe nothing wrote to", nil},
		{"FIFO as --catalog", config, fifo, "", "--catalog", "a pipe nothing wrote to", nil},
		{"FIFO as --state", config, catalog, fifo, "--state", "a pipe nothing wrote to", nil},
		{"FIFO as --state-file", config, catalog, "", "--state-file", "not a regular file", []string{"--state-file", fifo}},
		{"data after the config object", trailing, catalog, "", trailing, "data after its JSON object", nil},
		{"invalid destination_sync_mode", config, badDest, "", "destination_sync_mode", "sideways", nil},
		{"one stream twice in the state", config, catalog, twice, stream, "second state", nil},
		{"GLOBAL mixed with STREAM", config, catalog, mixed, "GLOBAL", "never both", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"read", "--config", c.config, "--catalog", c.catalog}
			if c.state != "" {
				args = append(args, "--state", c.state)
			}
			args = append(args, c.extra...)
			r := Run(t, bin, args...)
			ValidateProtocol(t, r)
			errs := r.ErrorTraces()
			if r.Code != 1 || len(errs) == 0 || errs[0].FailureType != protocol.ConfigError ||
				!strings.Contains(errs[0].Message, c.mention1) || !strings.Contains(errs[0].Message, c.mention2) {
				t.Fatalf("exit %d, errors %+v; want exit 1 and a config_error mentioning %q and %q", r.Code, errs, c.mention1, c.mention2)
			}
			if len(r.Records()) != 0 {
				t.Fatal("records emitted despite the bad input")
			}
		})
	}
}
