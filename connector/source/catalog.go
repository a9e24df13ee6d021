package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// selected is one configured stream matched to the source's stream.
// loadCatalog reads a configured catalog and matches every entry to a stream
// of the source. Anything wrong (unknown stream, unsupported or invalid sync
// mode, duplicates) is a config error found before any stream is read, so a
// bad catalog never produces a half sync.
func loadCatalog(path string, streams []Stream) ([]Selection, error) {
	raw, err := readInput("catalog", path)
	if err != nil {
		return nil, err
	}
	return parseCatalog(path, raw, streams)
}

// parseCatalog is loadCatalog on a catalog already read; path names it in errors.
func parseCatalog(path string, raw []byte, streams []Stream) ([]Selection, error) {
	var cat struct {
		Streams []json.RawMessage `json:"streams"`
		// discover's output, a CATALOG message, has these instead.
		Type    string          `json:"type"`
		Catalog json.RawMessage `json:"catalog"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&cat); err != nil {
		return nil, ConfigErrorf("catalog %s is not a configured catalog (a JSON object with a \"streams\" array): %s", path, describeJSONError(err))
	}
	if trailing(dec, raw) {
		return nil, ConfigErrorf("catalog %s has data after its JSON object; a catalog file holds one object", path)
	}
	if k := duplicateKey(raw); k != "" {
		// As in a config: the last of two equal keys won without a word,
		// so a hand-made catalog giving "sync_mode" twice read the stream
		// in the mode its author may have meant to replace.
		return nil, ConfigErrorf("catalog %s holds the field %q twice; remove one of them (JSON readers differ on which one wins)", path, k)
	}
	if cat.Streams == nil && (cat.Type == "CATALOG" || len(cat.Catalog) > 0) {
		return nil, ConfigErrorf("catalog %s is the output of discover (a CATALOG message), not a configured catalog; %s, or make one of this file: %s",
			path, configuredCatalogHelp, wrapStreamsCommand(".catalog.streams[]", path))
	}
	if len(cat.Streams) == 0 {
		return nil, ConfigErrorf("catalog %s: \"streams\" is empty; configure at least one of: %s", path, streamNames(streams))
	}
	if err := notConfigured(path, cat.Streams[0]); err != nil {
		return nil, err
	}
	byName := map[string]Stream{}
	for _, s := range streams {
		byName[s.Name()] = s
	}
	seen := map[string]bool{}
	var out []Selection
	for i, rawStream := range cat.Streams {
		var cs protocol.ConfiguredStream
		field := fmt.Sprintf("catalog.streams[%d]", i)
		if err := json.Unmarshal(rawStream, &cs); err != nil {
			return nil, ConfigErrorf("%s is not a configured stream: %s", field, describeJSONError(err))
		}
		name := cs.Stream.Name
		if name == "" {
			return nil, ConfigErrorf("%s.stream.name is missing", field)
		}
		st, ok := byName[name]
		if !ok {
			return nil, ConfigErrorf("%s.stream.name: stream %q does not exist in this source; available streams: %s (run discover)", field, name, streamNames(streams))
		}
		if seen[name] {
			return nil, ConfigErrorf("%s.stream.name: stream %q is configured twice", field, name)
		}
		seen[name] = true
		supported := SyncModes(st)
		ok = false
		for _, m := range supported {
			ok = ok || m == cs.SyncMode
		}
		switch {
		case !ok && cs.SyncMode == "":
			// Absent or null: `"" is not a sync mode` said it as a wrong value.
			return nil, ConfigErrorf("%s.sync_mode is missing; set it to one of the sync modes stream %q supports: %s", field, name, joinModes(supported))
		case !ok:
			return nil, ConfigErrorf("%s.sync_mode: %q is not a sync mode stream %q supports; use one of: %s", field, cs.SyncMode, name, joinModes(supported))
		}
		if d := cs.DestinationSyncMode; d != "" && !slices.Contains(destinationSyncModes, d) {
			return nil, ConfigErrorf("%s.destination_sync_mode: %q is not a destination sync mode; use one of: %s", field, d, strings.Join(destinationSyncModes, ", "))
		}
		sel := Selection{Stream: st, Mode: cs.SyncMode}
		if own := st.CursorField(); cs.SyncMode == protocol.Incremental && len(cs.CursorField) > 0 && !slices.Equal(cs.CursorField, own) {
			// The Airbyte protocol lets a source that defines its cursor
			// ignore the catalog's; a hand-made catalog naming another
			// one expects something this stream does not do.
			sel.Notes = append(sel.Notes, fmt.Sprintf("%s.cursor_field %q is ignored: stream %q keeps its own cursor, %q (set by the source); remove cursor_field or set it to that",
				field, strings.Join(cs.CursorField, "."), name, strings.Join(own, ".")))
		}
		if own := st.PrimaryKey(); len(own) > 0 && len(cs.PrimaryKey) > 0 && !sameKey(cs.PrimaryKey, own) {
			// The destination dedups on the catalog's key; this source,
			// its sinks and its tombstones know only their own.
			if strings.HasSuffix(cs.DestinationSyncMode, "_dedup") && hasTombstones(st) {
				return nil, ConfigErrorf("%s.primary_key %s cannot be stream %q's key with destination_sync_mode %s: the stream has tombstones, records of deleted rows that carry only its key %s, its cursor and _ab_cdc_deleted_at, so a destination deduplicating on other fields would not find the deleted row and would keep it, adding the tombstone as a row of its own; remove primary_key or set it to %s",
					field, keyJSON(cs.PrimaryKey), name, cs.DestinationSyncMode, keyJSON(own), keyJSON(own))
			}
			sel.Notes = append(sel.Notes, fmt.Sprintf("%s.primary_key %s is not stream %q's key, %s (set by the source): --parquet-dir and --postgres keep its rows by that key, and a destination deduplicating on another may merge distinct rows or keep one row twice; remove primary_key or set it to that",
				field, keyJSON(cs.PrimaryKey), name, keyJSON(own)))
		}
		if ns := cs.Stream.Namespace; ns != "" {
			// Matched on its name alone: discover gives no stream a
			// namespace, so one here was added by hand; records and
			// states carry none (the protocol omits an empty one), and
			// a destination applies its own.
			sel.Notes = append(sel.Notes, fmt.Sprintf("%s.stream.namespace %q is ignored: this source's streams have no namespace, and its records and states carry none; set the namespace in the destination (Airbyte: the connection's destination namespace) and remove it here",
				field, ns))
		}
		out = append(out, sel)
	}
	return out, nil
}

// sameKey reports whether a and b name the same key fields, in any order:
// a key is a set of fields.
func sameKey(a, b [][]string) bool {
	paths := func(k [][]string) []string {
		out := make([]string, len(k))
		for i, p := range k {
			out[i] = strings.Join(p, "\x00")
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(paths(a), paths(b))
}

// keyJSON is a key as the catalog writes it, [["id"]].
func keyJSON(k [][]string) string {
	b, _ := json.Marshal(k)
	return string(b)
}

// hasTombstones reports whether stream s emits tombstones, records of
// deleted rows: its schema declares _ab_cdc_deleted_at.
func hasTombstones(s Stream) bool {
	var doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(s.Schema(), &doc)
	_, ok := doc.Properties["_ab_cdc_deleted_at"]
	return ok
}

// configuredCatalogHelp says what read's --catalog takes and where to find one.
const configuredCatalogHelp = `read takes a configured catalog, {"streams": [...]} with each of discover's streams wrapped as ` +
	`{"stream": {...}, "sync_mode": "full_refresh" or "incremental", "destination_sync_mode": "overwrite" or "append_dedup"}: ` +
	`pass one of the repository's catalogs/ files (catalogs/<connector>_full_refresh.json or catalogs/<connector>_incremental.json)`

// notConfigured is the error for a catalog whose first stream is no
// configured stream but a stream of another kind of catalog: discover's
// (its streams unwrapped, as jq '.catalog' makes of discover's output) or
// a Singer tap's. Without it, both failed as a missing stream.name.
func notConfigured(path string, first json.RawMessage) error {
	var probe map[string]json.RawMessage
	if json.Unmarshal(first, &probe) != nil {
		return nil
	}
	if _, ok := probe["tap_stream_id"]; ok {
		return ConfigErrorf("catalog %s is a Singer catalog (its streams have tap_stream_id), which the Singer mode takes (docs/singer.md), not a configured catalog; %s",
			path, configuredCatalogHelp)
	}
	_, wrapped := probe["stream"]
	_, named := probe["name"]
	if !wrapped && named {
		return ConfigErrorf("catalog %s holds discover's streams as they are, not configured streams; %s, or make one of this file: %s",
			path, configuredCatalogHelp, wrapStreamsCommand(".streams[]", path))
	}
	return nil
}

// wrapStreamsCommand is the jq command that makes a configured catalog,
// every stream full_refresh, of the discover output (or catalog) at path
// whose streams sel selects.
func wrapStreamsCommand(sel, path string) string {
	return fmt.Sprintf(`jq '{streams: [%s | {stream: ., sync_mode: "full_refresh", destination_sync_mode: "overwrite"}]}' %s > configured_catalog.json`, sel, shellQuote(path))
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+:@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// destinationSyncModes are the protocol's DestinationSyncMode values, and
// overwrite_dedup, which the Airbyte platform's own model has (the
// connection's "Full refresh | Overwrite + Deduped") and writes into the
// source's catalog although the protocol schema lacks it: refused, it failed
// every sync of such a connection before a stream was read. The source does
// not act on them, but a catalog naming another one was made for something
// else (or by hand, wrongly), and the user should hear of it.
var destinationSyncModes = []string{"append", "overwrite", "append_dedup", "overwrite_dedup", "update", "soft_delete"}

func streamNames(streams []Stream) string {
	n := make([]string, len(streams))
	for i, s := range streams {
		n[i] = s.Name()
	}
	return strings.Join(n, ", ")
}

func joinModes(m []protocol.SyncMode) string {
	s := make([]string, len(m))
	for i, v := range m {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// Configure builds a configured catalog of every stream: incremental where
// the stream supports it and incremental is true, full_refresh otherwise. The
// demo and the files in catalogs/ are made with it.
func Configure(streams []Stream, incremental bool) protocol.ConfiguredCatalog {
	var cat protocol.ConfiguredCatalog
	for _, s := range streams {
		cs := protocol.ConfiguredStream{Stream: Describe(s), SyncMode: protocol.FullRefresh, DestinationSyncMode: "overwrite", PrimaryKey: s.PrimaryKey()}
		if incremental && s.CursorField() != nil {
			cs.SyncMode = protocol.Incremental
			cs.DestinationSyncMode = "append_dedup"
			cs.CursorField = s.CursorField()
		}
		cat.Streams = append(cat.Streams, cs)
	}
	return cat
}
