package sourcetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// PlatformCatalog is the configured catalog the Airbyte platform writes
// for a connection that selects every stream of cat (discover's), in the
// shape its current versions give the source: every member of the
// discovered stream, unset ones as null; cursor_field and primary_key
// copied from the stream ([] where it has none); generation_id,
// minimum_generation_id and sync_id, which refreshes added; and
// destination_sync_mode append_dedup for an incremental stream and
// overwrite_dedup (Full refresh | Overwrite + Deduped) for the others,
// with a top-level member the source does not know.
func PlatformCatalog(t testing.TB, cat *protocol.Catalog) string {
	t.Helper()
	var streams []any
	for _, s := range cat.Streams {
		stream := map[string]any{
			"name": s.Name, "namespace": nil, "json_schema": s.JSONSchema,
			"supported_sync_modes": s.SupportedSyncModes, "source_defined_cursor": s.SourceDefinedCursor,
			"default_cursor_field": orEmpty(s.DefaultCursorField), "source_defined_primary_key": s.SourceDefinedPrimaryKey,
			"is_resumable": s.IsResumable,
		}
		cs := map[string]any{
			"stream": stream, "sync_mode": protocol.FullRefresh, "cursor_field": []string{},
			"destination_sync_mode": "overwrite_dedup", "primary_key": s.SourceDefinedPrimaryKey,
			"generation_id": 3, "minimum_generation_id": 0, "sync_id": 4711, "include_files": false,
		}
		if s.SourceDefinedCursor {
			cs["sync_mode"], cs["cursor_field"], cs["destination_sync_mode"] = protocol.Incremental, s.DefaultCursorField, "append_dedup"
		}
		streams = append(streams, cs)
	}
	return WriteFile(t, "catalog.json", map[string]any{"streams": streams, "unknown_platform_field": map[string]any{"x": 1}})
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// PlatformState is the input state the Airbyte platform passes after the
// read r: a JSON array holding each stream's last STREAM state, its
// descriptor's namespace null, as the platform keeps them. It returns ""
// when r emitted no state (the platform then passes no --state).
func PlatformState(t testing.TB, r *Result) string {
	t.Helper()
	last := map[string]json.RawMessage{}
	var order []string
	for _, m := range r.Messages {
		if m.State == nil || m.State.Stream == nil {
			continue
		}
		name := m.State.Stream.StreamDescriptor.Name
		if _, ok := last[name]; !ok {
			order = append(order, name)
		}
		last[name] = m.State.Stream.StreamState
	}
	if len(order) == 0 {
		return ""
	}
	var states []any
	for _, name := range order {
		states = append(states, map[string]any{"type": "STREAM", "stream": map[string]any{
			"stream_descriptor": map[string]any{"name": name, "namespace": nil}, "stream_state": last[name]}})
	}
	return WriteFile(t, "inputState.json", states)
}

// PlatformRead runs bin's read the way the Airbyte platform's workload
// launcher starts a source's container: through sh -c, which evaluates
// "$AIRBYTE_ENTRYPOINT read --config … --catalog …", adding --state only
// when there is an input state file, in the source's directory, with the
// job's metadata in the environment (WORKER_CONNECTOR_IMAGE, WORKER_JOB_ID,
// WORKER_JOB_ATTEMPT), as the launcher sets them in every connector
// container. stdout is parsed as Run parses it.
func PlatformRead(t testing.TB, bin, config, catalog, state string) *Result {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to run the platform's command with")
	}
	dir := t.TempDir()
	for name, src := range map[string]string{"connectorConfig.json": config, "catalog.json": catalog, "inputState.json": state} {
		if src == "" {
			continue
		}
		b, err := os.ReadFile(src)
		Must(t, err, "reading ", src)
		Must(t, os.WriteFile(filepath.Join(dir, name), b, 0o600), "writing ", name)
	}
	// The launcher's script, with its paths under dir.
	script := `if [ ! -f "$SOURCE_DIR/inputState.json" ]; then
  eval "$AIRBYTE_ENTRYPOINT read --config $SOURCE_DIR/connectorConfig.json --catalog $SOURCE_DIR/catalog.json"
else
  eval "$AIRBYTE_ENTRYPOINT read --config $SOURCE_DIR/connectorConfig.json --catalog $SOURCE_DIR/catalog.json --state $SOURCE_DIR/inputState.json"
fi`
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sh, "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AIRBYTE_ENTRYPOINT="+bin, "SOURCE_DIR="+dir,
		"WORKER_CONNECTOR_IMAGE="+filepath.Base(bin)+":dev", "WORKER_JOB_ID=4711", "WORKER_JOB_ATTEMPT=0")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	r := &Result{MaxRSS: -1}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running the platform's command: %v", err)
		}
		r.Code = ee.ExitCode()
	}
	r.Stdout, r.Stderr = out.Bytes(), errb.Bytes()
	r.parse(t)
	return r
}

// CheckPlatformRead checks what the Airbyte platform needs of a read that
// succeeded, for every stream of the configured catalog: exit 0, every
// line valid against the protocol schema and every record against its
// stream's schema, STARTED, RUNNING… and COMPLETE, and a STATE for the
// stream before its COMPLETE (the platform commits a stream's records
// only with a state after them).
func CheckPlatformRead(t testing.TB, r *Result, cat *protocol.Catalog) {
	t.Helper()
	Succeeded(t, r)
	ValidateProtocol(t, r)
	ValidateRecords(t, r, cat)
	var names []string
	for _, s := range cat.Streams {
		names = append(names, s.Name)
	}
	CheckLifecycle(t, r, names)
	stated := map[string]bool{}
	for _, m := range r.Messages {
		switch {
		case m.State != nil && m.State.Stream != nil:
			stated[m.State.Stream.StreamDescriptor.Name] = true
		case m.Trace != nil && m.Trace.StreamStatus != nil && m.Trace.StreamStatus.Status == protocol.Complete:
			if n := m.Trace.StreamStatus.StreamDescriptor.Name; !stated[n] {
				t.Errorf("stream %s COMPLETE without a STATE before it", n)
			}
		}
	}
}

// PlatformSyncs runs two syncs of bin the way the Airbyte platform runs a
// source: PlatformRead with PlatformCatalog's catalog of every stream of
// disc, the second from the input state the platform keeps of the first
// (PlatformState). Each must pass CheckPlatformRead, and the second read
// fewer transactions than the first: it resumed from that state. It
// returns both, and the catalog and state for a further sync.
func PlatformSyncs(t testing.TB, bin, config string, disc *protocol.Catalog) (first, second *Result, catalog string) {
	t.Helper()
	catalog = PlatformCatalog(t, disc)
	first = PlatformRead(t, bin, config, catalog, "")
	CheckPlatformRead(t, first, disc)
	second = PlatformRead(t, bin, config, catalog, PlatformState(t, first))
	CheckPlatformRead(t, second, disc)
	if n, all := len(second.Records()["transactions"]), len(first.Records()["transactions"]); n >= all {
		t.Errorf("the second sync read %d transactions of %d: the platform's state was not resumed from", n, all)
	}
	if second.Warned("no state for") {
		t.Error("the second sync warned of a stream without state, though the platform passed every stream's")
	}
	return first, second, catalog
}
