package singer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Catalog is a Singer catalog: what --discover prints and --catalog reads.
type Catalog struct {
	Streams []CatalogEntry `json:"streams"`
}

// CatalogEntry is one stream of a Catalog. KeyProperties, ReplicationKey
// and ReplicationMethod mirror the metadata, as the Meltano SDK writes them.
// On input the metadata's replication-method wins over ReplicationMethod;
// a key or replication key given in either place is checked (plan), none
// ignored.
type CatalogEntry struct {
	TapStreamID       string          `json:"tap_stream_id"`
	Stream            string          `json:"stream"`
	TableName         string          `json:"table_name,omitempty"`
	Schema            json.RawMessage `json:"schema"`
	KeyProperties     []string        `json:"key_properties"`
	ReplicationKey    string          `json:"replication_key,omitempty"`
	ReplicationMethod string          `json:"replication_method,omitempty"`
	Metadata          []Metadata      `json:"metadata"`
	// Selected is the legacy top-level selection singer-python's taps
	// read, and Meltano writes beside the metadata's; --discover never
	// writes it.
	Selected any `json:"selected,omitempty"`
}

// Metadata is one metadata entry: breadcrumb [] is the stream,
// ["properties", "f"] a field, ["properties", "a", "properties", "b"] a
// nested one.
type Metadata struct {
	Breadcrumb []string       `json:"breadcrumb"`
	Metadata   map[string]any `json:"metadata"`
}

// Replication methods.
const (
	FullTable   = "FULL_TABLE"
	Incremental = "INCREMENTAL"
)

// Describe turns a discovered stream into its catalog entry. Every stream and
// field is selected by default; the primary key and the cursor are
// automatic, so no selection drops them. The schema is the one the
// stream's SCHEMA message declares: the stream's own plus the members Singer
// mode adds to records (_leftovers, and _sdc_deleted_at where the stream
// has tombstones), both automatic, since the tap emits them whatever the
// selection; a Meltano user listing or selecting fields sees every column
// the target will make.
func Describe(s protocol.Stream) CatalogEntry {
	keys := keyProperties(s.SourceDefinedPrimaryKey)
	cursor := replicationKey(s.DefaultCursorField)
	schema, err := declareSingerFields(s.JSONSchema, s.JSONSchema)
	if err != nil {
		schema = s.JSONSchema // not an object: plan refuses it as the sync starts
	}
	e := CatalogEntry{
		TapStreamID:       s.Name,
		Stream:            s.Name,
		Schema:            schema,
		KeyProperties:     keys,
		ReplicationMethod: FullTable,
	}
	root := map[string]any{
		"inclusion":            "available",
		"selected-by-default":  true,
		"table-key-properties": keys,
	}
	if cursor != "" {
		e.ReplicationKey = cursor
		e.ReplicationMethod = Incremental
		root["valid-replication-keys"] = []string{cursor}
	} else {
		root["forced-replication-method"] = FullTable
	}
	e.Metadata = append(e.Metadata, Metadata{Breadcrumb: []string{}, Metadata: root})
	auto := automatic(keys, cursor)
	auto[leftovers], auto[sdcDeletedAt] = true, true
	for _, name := range propertyNames(schema) {
		in := "available"
		if auto[name] {
			in = "automatic"
		}
		e.Metadata = append(e.Metadata, Metadata{
			Breadcrumb: []string{"properties", name},
			Metadata:   map[string]any{"inclusion": in, "selected-by-default": true},
		})
	}
	return e
}

// keyProperties is the primary key as Singer's key_properties: top-level
// names only. A key with a nested part cannot be said that way, so the stream
// then has no key properties rather than a wrong one.
func keyProperties(pk [][]string) []string {
	keys := []string{}
	for _, p := range pk {
		if len(p) != 1 {
			return []string{}
		}
		keys = append(keys, p[0])
	}
	return keys
}

func replicationKey(cursor []string) string {
	if len(cursor) != 1 {
		return "" // none, or nested: Singer's replication-key is a top-level field
	}
	return cursor[0]
}

func automatic(keys []string, cursor string) map[string]bool {
	auto := map[string]bool{}
	for _, k := range keys {
		auto[k] = true
	}
	if cursor != "" {
		auto[cursor] = true
	}
	return auto
}

func propertyNames(schema json.RawMessage) []string {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(schema, &s)
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// streamPlan is how one selected stream is synced.
type streamPlan struct {
	name   string
	mode   protocol.SyncMode
	mask   *fieldMask // nil: every field
	schema []byte     // the stream's SCHEMA message, one line
	// declared is the SCHEMA's top-level properties, each with what its
	// value must be (nil: anything): a record member not among them, or
	// whose value does not fit, is moved into _leftovers (nil map: the
	// schema names none; every member stays).
	declared map[string]*fit
	// pinned are the members a misfit value never moves out of place,
	// each with its role in words: the key properties, the replication
	// key and the members the schema requires (encoder.keepUndeclared).
	pinned map[string]string
	// order is declared by the position records' members last came in
	// (lookup).
	order []slot
	// version is the table version that stamps the stream's records and
	// its ACTIVATE_VERSION (stampVersions); 0: none, the stream is read
	// incrementally or the config does not ask for versions.
	version int64

	recordPrefix []byte
}

// plan selects what to sync: the streams of in whose selection says so, in
// the source's order, each with its replication method and fields (every
// stream, incremental where it can be, when in is nil). It returns the plan
// of each stream and the streams to read. origin names in in errors.
//
// Selection follows the Singer spec with the Meltano SDK's defaults: a
// breadcrumb's "inclusion" of "automatic" or "unsupported" decides, then
// its "selected" (a bool, or the strings "true"/"false");
// without it, the legacy "selected" of the stream's entry (singer-python's)
// and of its schema, then "selected-by-default";
// a field with none of them follows its stream. Automatic fields (the
// primary key and the replication key) are always emitted.
func plan(streams []source.Stream, in *Catalog, origin string) (map[string]*streamPlan, []source.Selection, error) {
	var cat []source.Selection
	entries := map[string]*CatalogEntry{}
	if in != nil {
		for i := range in.Streams {
			e := &in.Streams[i]
			id := e.TapStreamID
			if id == "" {
				id = e.Stream
			}
			if id == "" {
				return nil, cat, source.ConfigErrorf("%s: streams[%d] has no tap_stream_id", origin, i)
			}
			if entries[id] != nil {
				return nil, cat, source.ConfigErrorf("%s: stream %q appears twice", origin, id)
			}
			if err := e.checkSelected(id, origin); err != nil {
				return nil, cat, err
			}
			entries[id] = e
		}
	}
	known := map[string]bool{}
	var names []string
	for _, s := range streams {
		known[s.Name()] = true
		names = append(names, s.Name())
	}
	ids := make([]string, 0, len(entries))
	for id := range entries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if !known[id] && entries[id].selected() {
			return nil, cat, source.ConfigErrorf("%s selects stream %q, which this tap does not have (streams: %s); run --discover for a fresh catalog", origin, id, strings.Join(names, ", "))
		}
	}
	plans := map[string]*streamPlan{}
	for _, s := range streams {
		d := source.Describe(s)
		e := entries[s.Name()]
		if in != nil && (e == nil || !e.selected()) {
			continue
		}
		own := keyProperties(d.SourceDefinedPrimaryKey)
		keys := own
		cursor := replicationKey(d.DefaultCursorField)
		mode := protocol.FullRefresh
		if cursor != "" {
			mode = protocol.Incremental
		}
		var mask *fieldMask
		var notes []string
		if e != nil {
			var err error
			if keys, notes, err = e.keyProperties(own, d.JSONSchema, origin); err != nil {
				return nil, cat, err
			}
			if mode, err = e.mode(cursor, origin); err != nil {
				return nil, cat, err
			}
			mask = e.fieldMask(d.JSONSchema, automatic(append(slices.Clone(own), keys...), cursor))
		}
		p := &streamPlan{name: s.Name(), mode: mode, mask: mask, recordPrefix: recordPrefix(s.Name())}
		bookmarks := []string{}
		if mode == protocol.Incremental {
			bookmarks = []string{cursor}
		}
		schema, err := mask.schema(d.JSONSchema)
		if err == nil {
			schema, err = declareSingerFields(schema, d.JSONSchema)
		}
		if err != nil {
			return nil, cat, source.SystemErrorf("stream %s: its schema is not a JSON object: %v", s.Name(), err)
		}
		p.declared = compileFits(schema)
		p.pinned = pinnedMembers(schema, keys, cursor)
		if e != nil {
			if note := e.schemaOverrides(d.JSONSchema); note != "" {
				notes = append(notes, note)
			}
		}
		if p.schema, err = marshal(schemaMessage{Type: "SCHEMA", Stream: s.Name(), Schema: schema, KeyProperties: keys, BookmarkProperties: bookmarks}); err != nil {
			return nil, cat, source.SystemErrorf("stream %s: encoding its SCHEMA: %v", s.Name(), err)
		}
		plans[s.Name()] = p
		cat = append(cat, source.Selection{Stream: s, Mode: mode, Notes: notes})
	}
	if len(cat) == 0 {
		return nil, cat, source.ConfigErrorf("%s selects no stream; select at least one of: %s (metadata breadcrumb [] \"selected\": true)", origin, strings.Join(names, ", "))
	}
	return plans, cat, nil
}

type schemaMessage struct {
	Type               string          `json:"type"`
	Stream             string          `json:"stream"`
	Schema             json.RawMessage `json:"schema"`
	KeyProperties      []string        `json:"key_properties"`
	BookmarkProperties []string        `json:"bookmark_properties"`
}

// metadataAt returns the metadata of breadcrumb b (nil when there is none).
func (e *CatalogEntry) metadataAt(b ...string) map[string]any {
	for _, m := range e.Metadata {
		if len(m.Breadcrumb) == len(b) && strings.Join(m.Breadcrumb, "\x00") == strings.Join(b, "\x00") {
			return m.Metadata
		}
	}
	return nil
}

// legacySchema is the entry's own schema, read only for the deprecated
// "selected" keys inside it.
func (e *CatalogEntry) legacySchema() map[string]any {
	var s map[string]any
	_ = json.Unmarshal(e.Schema, &s)
	return s
}

// checkSelected refuses a "selected" or "selected-by-default" that is not
// a boolean (or the string "true" or "false"): read as absent, "no", 0 or
// "off" fell back to selected-by-default, so a stream the user meant to
// leave out was synced. null counts as absent.
func (e *CatalogEntry) checkSelected(id, origin string) error {
	if e.Selected != nil {
		if _, ok := boolish(e.Selected); !ok {
			return source.ConfigErrorf("%s: stream %q: \"selected\" is %v, which is not a boolean; write true or false", origin, id, e.Selected)
		}
	}
	for _, m := range e.Metadata {
		for _, k := range []string{"selected", "selected-by-default"} {
			v, ok := m.Metadata[k]
			if !ok || v == nil {
				continue
			}
			if _, ok := boolish(v); !ok {
				where := "breadcrumb []"
				if len(m.Breadcrumb) > 0 {
					where = fmt.Sprintf("breadcrumb %q", m.Breadcrumb)
				}
				return source.ConfigErrorf("%s: stream %q, metadata %s: %q is %v, which is not a boolean; write true or false", origin, id, where, k, v)
			}
		}
	}
	return nil
}

func (e *CatalogEntry) selected() bool {
	root := e.metadataAt()
	if in, ok := inclusion(root); ok {
		return in
	}
	if v, ok := boolish(root["selected"]); ok {
		return v
	}
	if v, ok := boolish(e.Selected); ok {
		return v
	}
	if v, ok := boolish(e.legacySchema()["selected"]); ok {
		return v
	}
	v, _ := boolish(root["selected-by-default"])
	return v
}

// mode is the entry's replication method as an Airbyte sync mode: the
// metadata's replication-method, else the legacy top-level one, else the
// metadata's forced-replication-method (which the Meltano SDK reads as the
// method), else INCREMENTAL where the stream has a cursor. A
// forced-replication-method that differs from the method given is an
// error, as are replication keys other than the stream's cursor
// (replicationKeys).
func (e *CatalogEntry) mode(cursor, origin string) (protocol.SyncMode, error) {
	root := e.metadataAt()
	if err := e.replicationKeys(root, cursor, origin); err != nil {
		return "", err
	}
	method, err := e.stringMeta(root, "replication-method", origin, `"FULL_TABLE" or "INCREMENTAL"`)
	if err != nil {
		return "", err
	}
	if method == "" {
		method = e.ReplicationMethod
	}
	method = strings.ToUpper(strings.TrimSpace(method))
	if method == Incremental && cursor == "" {
		return "", source.ConfigErrorf("%s: stream %q cannot be replicated INCREMENTAL; it supports FULL_TABLE only", origin, e.TapStreamID)
	}
	forced, err := e.stringMeta(root, "forced-replication-method", origin, `"FULL_TABLE" or "INCREMENTAL", or leave it out`)
	if err != nil {
		return "", err
	}
	if forced = strings.ToUpper(strings.TrimSpace(forced)); forced != "" {
		if method != "" && method != forced {
			return "", source.ConfigErrorf("%s: stream %q has replication-method %q and metadata \"forced-replication-method\" %q; give one method (replication-method, as Meltano's metadata: extra sets it)", origin, e.TapStreamID, method, forced)
		}
		method = forced
	}
	if method == "" {
		method = FullTable
		if cursor != "" {
			method = Incremental
		}
	}
	switch method {
	case FullTable:
		return protocol.FullRefresh, nil
	case Incremental:
		if cursor == "" {
			return "", source.ConfigErrorf("%s: stream %q cannot be replicated INCREMENTAL; it supports FULL_TABLE only", origin, e.TapStreamID)
		}
		return protocol.Incremental, nil
	}
	return "", source.ConfigErrorf("%s: stream %q has replication-method %q; use FULL_TABLE or INCREMENTAL", origin, e.TapStreamID, method)
}

// replicationKeys checks the replication keys the entry names: the
// metadata's replication-key and the legacy top-level replication_key must
// each be the stream's cursor, whatever the method (the tap cannot
// replicate on another field, and a key it did not use would be ignored
// without a word), and valid-replication-keys, what --discover reports,
// must be the stream's.
func (e *CatalogEntry) replicationKeys(root map[string]any, cursor, origin string) error {
	want := fmt.Sprintf("%q, or leave it out", cursor)
	if cursor == "" {
		want = "nothing: leave it out"
	}
	key, err := e.stringMeta(root, "replication-key", origin, want)
	if err != nil {
		return err
	}
	for _, k := range []struct{ name, value string }{{"replication-key", key}, {"replication_key", e.ReplicationKey}} {
		switch {
		case k.value == "" || k.value == cursor:
		case cursor == "":
			return source.ConfigErrorf("%s: stream %q has %s %q, but it has no replication key: it is FULL_TABLE only, a whole snapshot each run; remove %s", origin, e.TapStreamID, k.name, k.value, k.name)
		default:
			return source.ConfigErrorf("%s: stream %q has %s %q, but its only valid replication key is %q (its cursor, which the tap's bookmarks follow); set %q or remove %s", origin, e.TapStreamID, k.name, k.value, cursor, cursor, k.name)
		}
	}
	v, ok := root["valid-replication-keys"]
	if !ok || v == nil {
		return nil
	}
	own := []string{}
	if cursor != "" {
		own = []string{cursor}
	}
	if list, ok := stringList(v); !ok || !sameSet(list, own) {
		got, _ := marshal(v)
		return source.ConfigErrorf("%s: stream %q, metadata breadcrumb []: \"valid-replication-keys\" is %s, but the stream's are %s: it is what --discover reports, not a setting (choose the key with replication-key); remove it or run --discover for a fresh catalog", origin, e.TapStreamID, got, quotedList(own))
	}
	return nil
}

// schemaOverrides says, for a WARN, which top-level properties of the
// entry's schema are not the stream's: a type or format changed (Meltano's
// schema: extra), or a field the stream does not have. The tap sends its
// own schema and its records as they are, where a Meltano SDK tap would
// declare the catalog's; without the WARN the change was dropped without a
// word. A property the catalog lacks (a catalog older than the stream's
// schema) is no override; selection keys inside the schema (the legacy
// "selected") are not compared. "" when nothing differs.
func (e *CatalogEntry) schemaOverrides(own json.RawMessage) string {
	var given, mine struct {
		Properties map[string]any `json:"properties"`
	}
	full, err := declareSingerFields(own, own)
	if err != nil || len(e.Schema) == 0 || json.Unmarshal(e.Schema, &given) != nil || json.Unmarshal(full, &mine) != nil {
		return ""
	}
	var differ []string
	for name, g := range given.Properties {
		if m, ok := mine.Properties[name]; !ok || !reflect.DeepEqual(withoutSelection(g), m) {
			differ = append(differ, strconv.Quote(name))
		}
	}
	if len(differ) == 0 {
		return ""
	}
	sort.Strings(differ)
	return fmt.Sprintf("the catalog's schema differs from the stream's for %s: the tap declares and sends its own (a Meltano schema: extra is not applied, and a field the stream lacks is not added); remove the change, or run --discover for a fresh catalog", strings.Join(differ, ", "))
}

// withoutSelection is a catalog schema node without the legacy selection
// keys some catalogs keep in it.
func withoutSelection(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		switch k {
		case "selected", "inclusion", "selected-by-default":
			continue
		case "properties":
			if props, ok := x.(map[string]any); ok {
				clean := make(map[string]any, len(props))
				for n, p := range props {
					clean[n] = withoutSelection(p)
				}
				x = clean
			}
		}
		out[k] = x
	}
	return out
}

// keyProperties is the stream's key as the entry asks for it: own (the
// source's key) unless key_properties or the metadata's
// table-key-properties (where Meltano's metadata: extra puts it) give
// another. Either one that differs from own is an override; two different
// overrides are an error, as neither can be taken without ignoring the
// other. The Meltano SDK takes key_properties first, and the Singer
// spec's metadata second; here neither is ignored.
//
// An override is honoured where it is safe: the key only tells the target
// what to upsert on, and the tap's reading, state and records do not
// depend on it. It must name top-level fields of the stream's own schema,
// at least one. It is refused on a stream with tombstones
// (_ab_cdc_deleted_at in its schema): a tombstone carries only the
// stream's key fields, its cursor and the deletion's time, so a target
// keyed on anything else could not match it with the deleted row. notes
// are WARNs for key fields the schema does not require: records without
// them have no key.
func (e *CatalogEntry) keyProperties(own []string, schema json.RawMessage, origin string) ([]string, []string, error) {
	var meta []string
	if v, ok := e.metadataAt()["table-key-properties"]; ok && v != nil {
		list, ok := stringList(v)
		if !ok {
			got, _ := marshal(v)
			return nil, nil, source.ConfigErrorf("%s: stream %q, metadata breadcrumb []: \"table-key-properties\" is %s, which is not a list of field names; write %s, or leave it out", origin, e.TapStreamID, got, quotedList(own))
		}
		meta = list
	}
	var given []string
	var from string
	for _, c := range []struct {
		keys []string
		name string
	}{{meta, `metadata "table-key-properties"`}, {e.KeyProperties, `key_properties`}} {
		if c.keys == nil || sameSet(c.keys, own) {
			continue
		}
		if given != nil && !sameSet(given, c.keys) {
			return nil, nil, source.ConfigErrorf("%s: stream %q has key_properties %s and metadata \"table-key-properties\" %s, two different keys; give the same in both (or leave them as --discover wrote them, %s)", origin, e.TapStreamID, quotedList(e.KeyProperties), quotedList(meta), quotedList(own))
		}
		given, from = c.keys, c.name
	}
	if given == nil {
		return own, nil, nil
	}
	refuse := func(why string, a ...any) error {
		return source.ConfigErrorf("%s: stream %q: %s %s cannot be its key: %s; remove the override to keep the stream's key, %s (with Meltano: the stream's table-key-properties under metadata: in meltano.yml)",
			origin, e.TapStreamID, from, quotedList(given), fmt.Sprintf(why, a...), quotedList(own))
	}
	var doc struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(schema, &doc)
	if _, ok := doc.Properties["_ab_cdc_deleted_at"]; ok {
		return nil, nil, refuse("the stream has tombstones, records of deleted rows that carry only its key fields, its cursor and _sdc_deleted_at, so a target keyed on other fields would not find the deleted row, and would keep it, adding the tombstone as a row of its own (or refusing its empty key fields)")
	}
	if len(given) == 0 {
		return nil, nil, refuse("with no key a target appends every record it is sent, and runs send rows again (the look-back window, full-table snapshots), so its rows would be duplicated")
	}
	var notes []string
	for i, k := range given {
		if slices.Contains(given[:i], k) {
			return nil, nil, refuse("it names %q twice", k)
		}
		if _, ok := doc.Properties[k]; !ok {
			return nil, nil, refuse("%q is not a top-level field of the stream (run --discover for its fields)", k)
		}
		if !slices.Contains(doc.Required, k) {
			notes = append(notes, fmt.Sprintf("key property %q (%s) is not a field every record has: a record without it, or with it null, has no key, which a target may refuse or never match", k, from))
		}
	}
	return given, notes, nil
}

func stringList(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// sameSet reports whether a and b hold the same names, in any order: a
// key is a set of fields.
func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(x string) bool { return !slices.Contains(b, x) })
}

func quotedList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := marshal(l)
	return string(b)
}

// stringMeta reads the stream's metadata key, which must be a string
// ("" when absent or null). Any other value is a config error naming what
// to write: read as absent, a ["FULL_TABLE"] or a ["date"] (Airbyte's
// cursor_field is a list) was ignored, and the stream synced in a way the
// user had not asked for.
func (e *CatalogEntry) stringMeta(root map[string]any, key, origin, want string) (string, error) {
	v, ok := root[key]
	if !ok || v == nil {
		return "", nil
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	got, _ := marshal(v)
	return "", source.ConfigErrorf("%s: stream %q, metadata breadcrumb []: %q is %s, which is not a string; write %s", origin, e.TapStreamID, key, got, want)
}

// fieldMask builds the fields to drop from the stream's own schema (never
// the catalog's, which may be stale) and the entry's selection.
func (e *CatalogEntry) fieldMask(schema json.RawMessage, auto map[string]bool) *fieldMask {
	var node map[string]any
	if json.Unmarshal(schema, &node) != nil {
		return nil
	}
	return e.maskOf(node, []string{}, e.legacySchema(), auto)
}

func (e *CatalogEntry) maskOf(node map[string]any, crumb []string, legacy map[string]any, auto map[string]bool) *fieldMask {
	props, _ := node["properties"].(map[string]any)
	legacyProps, _ := legacy["properties"].(map[string]any)
	var m fieldMask
	for name, child := range props {
		if auto[name] {
			continue
		}
		bc := append(append([]string{}, crumb...), "properties", name)
		md := e.metadataAt(bc...)
		legacyChild, _ := legacyProps[name].(map[string]any)
		sel, ok := inclusion(md)
		if !ok {
			sel, ok = boolish(md["selected"])
		}
		if !ok {
			sel, ok = boolish(legacyChild["selected"])
		}
		if !ok {
			sel, ok = boolish(md["selected-by-default"])
		}
		if !ok {
			sel = true // follows its parent, which is selected
		}
		if !sel {
			if m.drop == nil {
				m.drop = map[string]bool{}
			}
			m.drop[name] = true
			continue
		}
		if childNode, ok := child.(map[string]any); ok {
			if cm := e.maskOf(childNode, bc, legacyChild, nil); cm != nil {
				if m.nested == nil {
					m.nested = map[string]*fieldMask{}
				}
				m.nested[name] = cm
			}
		}
	}
	if m.drop == nil && m.nested == nil {
		return nil
	}
	return &m
}

// inclusion is what a breadcrumb's "inclusion" decides, as the Meltano SDK
// reads it before "selected": "automatic" is always synced and
// "unsupported" never, whatever "selected" says; "available" (or none)
// leaves it to "selected". A catalog says it where Meltano's metadata:
// extra or a hand edit changed what --discover gave; the tap's own
// automatic fields (the key, the cursor) are emitted either way.
func inclusion(md map[string]any) (selected, decided bool) {
	switch md["inclusion"] {
	case "automatic":
		return true, true
	case "unsupported":
		return false, true
	}
	return false, false
}

// boolish reads a selection flag: a JSON bool, or "true"/"false" as the
// Singer docs' own example writes it.
func boolish(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// fieldMask says which properties of an object to drop, and which to filter
// further. A nil mask keeps everything.
type fieldMask struct {
	drop   map[string]bool
	nested map[string]*fieldMask
}

// record returns raw without the dropped fields. It keeps the order of the
// fields and every value's bytes (money keeps its digits); a value that is
// not an object (null, say) is returned as is.
func (m *fieldMask) record(raw []byte) ([]byte, error) {
	if m == nil {
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return raw, nil
	}
	out := make([]byte, 0, len(raw))
	out = append(out, '{')
	first := true
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if m.drop[key] {
			continue
		}
		if c := m.nested[key]; c != nil {
			if v, err = c.record(v); err != nil {
				return nil, err
			}
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		k, _ := marshal(key)
		out = append(out, k...)
		out = append(out, ':')
		out = append(out, v...)
	}
	return append(out, '}'), nil
}

// schema returns the JSON Schema without the dropped properties (and
// without them in "required", or a target validating records would reject
// every one).
func (m *fieldMask) schema(raw json.RawMessage) (json.RawMessage, error) {
	if m == nil {
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var node map[string]any
	if err := dec.Decode(&node); err != nil {
		return nil, err
	}
	m.prune(node)
	return marshal(node)
}

func (m *fieldMask) prune(node map[string]any) {
	props, _ := node["properties"].(map[string]any)
	for name := range m.drop {
		delete(props, name)
	}
	if req, ok := node["required"].([]any); ok {
		kept := []any{}
		for _, r := range req {
			if name, _ := r.(string); !m.drop[name] {
				kept = append(kept, r)
			}
		}
		if len(kept) > 0 {
			node["required"] = kept
		} else {
			delete(node, "required")
		}
	}
	for name, c := range m.nested {
		if child, ok := props[name].(map[string]any); ok {
			c.prune(child)
		}
	}
}

// pinnedMembers are the top-level members of a SCHEMA whose misfit
// value stays in place, by role: the key properties (a target upserts on
// them, and the Meltano SDK refuses a record that lacks one), the
// stream's replication key (its cursor, a column the target is told of,
// also when a catalog reads the stream FULL_TABLE) and the members the
// schema requires (a record without one fails validation as surely).
func pinnedMembers(schema json.RawMessage, keys []string, cursor string) map[string]string {
	var s struct {
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(schema, &s)
	pinned := map[string]string{}
	for _, r := range s.Required {
		pinned[r] = "which the schema requires"
	}
	if cursor != "" {
		pinned[cursor] = "the stream's replication key"
	}
	for _, k := range keys {
		pinned[k] = "a key property"
	}
	return pinned
}

// declareSingerFields adds to a schema's properties the members Singer
// mode adds to records: _leftovers, the object a record's fields its
// schema does not declare are kept in (encoder.keepUndeclared), and, where
// the stream has tombstones (_ab_cdc_deleted_at in full, the stream's own
// schema), _sdc_deleted_at, defined as that is (singerTombstone). A target
// makes its columns from the SCHEMA. schema is the one the selection
// left: a tombstone carries _sdc_deleted_at even when _ab_cdc_deleted_at
// is deselected, so its declaration comes from full. A schema without
// properties is returned as it is.
func declareSingerFields(schema, full json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	var node map[string]any
	if err := dec.Decode(&node); err != nil {
		return nil, err
	}
	props, _ := node["properties"].(map[string]any)
	if props == nil {
		return schema, nil
	}
	var own struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(full, &own); err != nil {
		return nil, err
	}
	if def, ok := own.Properties["_ab_cdc_deleted_at"]; ok {
		if _, taken := props[sdcDeletedAt]; !taken {
			props[sdcDeletedAt] = def
		}
	}
	props[leftovers] = map[string]any{
		"type":                 []string{"object", "null"},
		"additionalProperties": true,
		"description":          "Fields the API sent that this stream's schema does not declare, kept here by name; absent when there are none.",
	}
	return marshal(node)
}
