// Package singer runs a source as a Singer tap (Singer spec 0.3.0, with the
// Meltano SDK's command line): --about [--format=json], --discover, and a sync
// from --config [--state] [--catalog | --properties].
//
// Nothing in it is provider-specific. It drives the same source.Source and
// source.Stream implementations as the Airbyte commands, through the same
// read path (source.Runner.Read); only the output format differs: the
// runtime writes to a Singer encoder instead of the Airbyte one. A record
// becomes a Singer RECORD (unselected fields dropped, time_extracted), each
// state a Singer STATE whose value is {"bookmarks": {stream: its state}},
// and logs and errors become stderr lines. The two modes therefore read the
// same records and checkpoint at the same points by construction.
package singer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Capabilities are what --about advertises, in Meltano's vocabulary.
var Capabilities = []string{"about", "activate-version", "catalog", "discover", "state"}

// Command returns r's Singer mode as a command: `source-pluggy singer ARGS`,
// and the whole command line of the binary when it is invoked as tap (a
// symlink or copy named tap-pluggy; see source.Runner.Main).
func Command(r *source.Runner, tap string) source.Command {
	t := &Tap{Name: tap, Runner: r}
	if r.Elsewhere == nil {
		r.Elsewhere = map[string]string{}
	}
	r.Elsewhere[ActivateVersionSetting] = "the Singer tap " + tap
	return source.Command{
		Name:    "singer",
		Summary: "run as the Singer tap " + tap + " (--about, --discover, --config FILE [--state FILE] [--catalog FILE])",
		Program: tap,
		Run:     t.Run,
	}
}

// Tap is a source.Runner's source run as a Singer tap.
type Tap struct {
	// Name is the tap's name, e.g. "tap-pluggy".
	Name   string
	Runner *source.Runner
}

// Run executes a Singer command line (without the program name) and returns
// the exit code. stdout carries only Singer messages (or the --discover and
// --about documents); logs go to stderr, and a failed run's last line there
// begins with CRITICAL.
func (t *Tap) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(t.Name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	configs := fs.StringArray("config", nil, "config JSON `FILE` (the settings --about lists)")
	state := fs.String("state", "", "state JSON `FILE`: the value of the last STATE message, {\"bookmarks\": {...}}, or the run's STATE lines, Meltano's {\"singer_state\": ...}, or any state read --state takes (docs/incremental.md)")
	catalog := fs.String("catalog", "", "catalog JSON `FILE` selecting streams and fields (edit what --discover prints)")
	properties := fs.String("properties", "", "legacy name of --catalog `FILE`")
	discover := fs.Bool("discover", false, "print the catalog of streams and exit")
	about := fs.Bool("about", false, "describe the tap: name, version, capabilities and settings")
	format := fs.String("format", "text", "--about output `FORMAT`: text or json")
	version := fs.Bool("version", false, "print the version and exit")
	detailed := fs.Bool(source.DetailedExitCodesFlag, false, source.DetailedExitCodesUsage)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "%s %s: the %s connector as a Singer tap.\n\nUsage:\n", t.Name, source.Version, t.Runner.Source.Name())
		fmt.Fprintf(w, "  %s --about [--format=json]\n", t.Name)
		fmt.Fprintf(w, "  %s --config FILE --discover > catalog.json\n", t.Name)
		fmt.Fprintf(w, "  %s --config FILE [--state FILE] [--catalog FILE] > messages.jsonl\n", t.Name)
		fmt.Fprintf(w, "\nFlags:\n%s\nstdout carries only Singer messages; logs go to stderr.\n", fs.FlagUsages())
	}
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "CRITICAL %s: %s\n\n", t.Name, fmt.Sprintf(format, a...))
		usage(stderr)
		return source.ExitUsage
	}
	if err := source.ParseOnce(fs, args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			usage(stdout)
			return source.ExitOK
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("%s", source.UnexpectedArgument(fs))
	}
	switch {
	case *version:
		fmt.Fprintf(stdout, "%s %s (%s)\n", t.Name, source.Version, t.Runner.Source.Name())
		return source.ExitOK
	case *about:
		switch *format {
		case "text", "json":
			return t.about(*format, stdout, stderr)
		}
		return usageError("--format %q is not one of: text, json", *format)
	}
	if len(*configs) == 0 {
		return usageError("--config is required")
	}
	if len(*configs) > 1 {
		return usageError("--config was given %d times; pass one config file", len(*configs))
	}
	config := (*configs)[0]
	// An empty path ("$STATE" with the variable unset) read as no flag:
	// a sync of every stream from scratch, without a word.
	for _, f := range []struct{ name, fix string }{
		{"state", "leave --state out to start from scratch"},
		{"catalog", "leave --catalog out to sync every stream"},
		{"properties", "leave --properties out to sync every stream"},
	} {
		if fs.Changed(f.name) && fs.Lookup(f.name).Value.String() == "" {
			return usageError("--%s is empty: give the path of the %s file, or %s", f.name, f.name, f.fix)
		}
	}
	if *discover {
		return t.discover(ctx, t.redactor(args), config, *detailed, stdout, stderr)
	}
	if *catalog != "" && *properties != "" {
		return usageError("pass --catalog or --properties, not both")
	}
	catFlag, catPath := "catalog", *catalog
	if *properties != "" {
		catFlag, catPath = "properties", *properties
	}
	return t.sync(ctx, t.redactor(args), config, *state, catFlag, catPath, *detailed, stdout, stderr)
}

// redactor is a run's redactor, holding the password of any URL on the
// command line: one given to --state or --catalog is quoted back by the
// message that refuses it, as a path that does not exist.
func (t *Tap) redactor(args []string) *secret.Redactor {
	secrets := &secret.Redactor{}
	source.AddURLSecrets(secrets, args...)
	return secrets
}

// discover prints the source's streams as a Singer catalog.
func (t *Tap) discover(ctx context.Context, secrets *secret.Redactor, config string, detailed bool, stdout, stderr io.Writer) int {
	enc := newEncoder(t.Name, nil, stderr, secrets)
	enc.detailed = detailed
	streams, code := t.Runner.Discover(ctx, config, secrets, enc)
	if code = enc.close(code); code != source.ExitOK {
		return code
	}
	cat := Catalog{Streams: []CatalogEntry{}}
	for _, s := range streams {
		cat.Streams = append(cat.Streams, Describe(s))
	}
	out, err := marshalIndent(cat)
	if err != nil {
		fmt.Fprintf(stderr, "CRITICAL %s: encoding the catalog: %v\n", t.Name, err)
		return source.ExitFail
	}
	if _, err := stdout.Write(out); err != nil {
		// As a sync says it (encoder.close): the catalog did not reach
		// its reader, and a bare exit 1 named nothing.
		fmt.Fprintf(stderr, "CRITICAL writing to stdout: %v; its reader went away, so the run stopped before it finished\n", err)
		return source.ExitFail
	}
	return source.ExitOK
}

// sync reads the selected streams (every stream when there is no catalog).
func (t *Tap) sync(ctx context.Context, secrets *secret.Redactor, config, statePath, catFlag, catPath string, detailed bool, stdout, stderr io.Writer) int {
	enc := newEncoder(t.Name, stdout, stderr, secrets)
	enc.detailed = detailed
	prepare := func(streams []source.Stream) ([]source.Selection, map[string]json.RawMessage, error) {
		// The config is valid by now; this tap's own setting is read here.
		versioned, err := activateVersion(config)
		if err != nil {
			return nil, nil, err
		}
		var in *Catalog
		origin := "the default catalog (every stream)"
		if catPath != "" {
			var err error
			if in, err = readCatalog(catFlag, catPath); err != nil {
				return nil, nil, err
			}
			origin = "--" + catFlag + " " + catPath
		}
		plans, sel, err := plan(streams, in, origin)
		if err != nil {
			return nil, nil, err
		}
		states, reset, versions, err := readState(statePath, streams)
		if err != nil {
			return nil, nil, err
		}
		source.MarkReset(sel, reset)
		if versioned {
			enc.warnBehind(stampVersions(plans, versions, source.StartTime()))
		}
		enc.start(plans, states, versions)
		return sel, states, nil
	}
	own := append([]string{ActivateVersionSetting}, sdkOnlySettings...)
	code := t.Runner.Read(ctx, source.ReadInput{Config: config, Secrets: secrets, Encoder: enc, Prepare: prepare, Own: own, StateGiven: statePath != ""})
	return enc.close(code)
}

// stampVersions gives each full-table stream of plans its table version,
// which its records and ACTIVATE_VERSION carry: the run's start by the
// clock, in epoch milliseconds, or one after the version the tap last
// stamped on the stream (last, from the input state's table_versions) when
// that is not older. A target that honours ACTIVATE_VERSION (the Meltano
// SDK's, target-postgres) deletes or marks deleted the rows of versions
// below the one activated, and keeps those above it: a version below the
// last run's, from a clock stepped back (NTP, a VM restored from a
// snapshot, a second machine running the pipeline), would leave the last
// run's rows live for good, a row the bank deleted among them. It returns
// the streams that took one after the state's, with the clock's time.
func stampVersions(plans map[string]*streamPlan, last map[string]int64, start time.Time) behind {
	b := behind{clock: start}
	for _, name := range slices.Sorted(maps.Keys(plans)) {
		p := plans[name]
		if p.mode != protocol.FullRefresh {
			continue
		}
		p.version = start.UnixMilli()
		if l := last[name]; l >= p.version {
			p.version = l + 1
			b.streams = append(b.streams, name)
			b.versions = append(b.versions, p.version)
		}
	}
	return b
}

// behind is the streams whose table version a run took from the state
// rather than the clock, which is behind it (stampVersions).
type behind struct {
	clock    time.Time
	streams  []string
	versions []int64
}

// warnBehind logs one WARNING for the streams whose table version came
// after the state's rather than from the clock, naming each, its version
// and the clock's time.
func (e *encoder) warnBehind(b behind) {
	if len(b.streams) == 0 {
		return
	}
	parts := make([]string, len(b.streams))
	for i, name := range b.streams {
		parts[i] = fmt.Sprintf("stream '%s' version %d", name, b.versions[i])
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.logf("WARNING", "the clock (%s) is behind the table version this tap last stamped on a full-table stream, which the state's %s holds (the clock stepped back, a VM was restored from a snapshot, or another machine runs this pipeline): the run takes one after it, not the clock's, so that a target activating it deletes (or marks deleted) the rows of the earlier versions rather than keeping them as newer: %s",
		b.clock.UTC().Format(time.RFC3339Nano), tableVersionsKey, strings.Join(parts, ", "))
}

// ActivateVersionSetting is the config key that turns on ACTIVATE_VERSION
// messages, named as the Meltano SDK names it. Off by default: a target
// that does not know the message may fail on it.
const ActivateVersionSetting = "emit_activate_version_messages"

// sdkOnlySettings are Meltano SDK settings that change what a tap's
// records hold, which this tap does not implement: set, they are a config
// error (checkSDKOnly), not a warning about an unknown key, since the
// records would reach the target otherwise than the user set them to
// (fields meant to be removed or hashed sent as they are).
var sdkOnlySettings = []string{"stream_maps", "flattening_enabled"}

// checkSDKOnly refuses the sdkOnlySettings the config turns on: a
// non-empty stream_maps, flattening_enabled true. Off (null, {}, false),
// they ask for what the tap does.
func checkSDKOnly(cfg map[string]json.RawMessage) error {
	if v, ok := cfg["stream_maps"]; ok {
		var maps map[string]json.RawMessage
		if err := json.Unmarshal(v, &maps); err != nil || len(maps) > 0 {
			return source.InvalidConfigf("config.stream_maps: this tap does not apply the Meltano SDK's stream maps, so its records would reach the target unmapped (fields meant to be removed, renamed or hashed sent as they are); remove stream_maps from the tap's config and put a mapper between tap and target (meltano-map-transformer: meltano run TAP MAPPER TARGET), see docs/singer.md")
		}
	}
	if v, ok := cfg["flattening_enabled"]; ok {
		var on *bool
		if err := json.Unmarshal(v, &on); err != nil || on != nil && *on {
			return source.InvalidConfigf("config.flattening_enabled: this tap does not flatten records, so the target would get nested objects, not the flattened columns asked for; remove flattening_enabled (or set it false) and flatten in a mapper between tap and target (meltano-map-transformer's flattening_enabled), see docs/singer.md")
		}
	}
	return nil
}

// activateVersion reads ActivateVersionSetting from the config file, and
// refuses the SDK settings the tap does not implement (checkSDKOnly).
func activateVersion(path string) (bool, error) {
	raw, err := source.ReadInputFile("config", path)
	if err != nil {
		return false, err
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return false, source.ConfigErrorf("config %s: %v", path, err)
	}
	if err := checkSDKOnly(cfg); err != nil {
		return false, err
	}
	v, ok := cfg[ActivateVersionSetting]
	if !ok || string(v) == "null" {
		return false, nil
	}
	var on bool
	if err := json.Unmarshal(v, &on); err != nil {
		return false, source.InvalidConfigf("config.%s: %s is not a boolean; give true or false", ActivateVersionSetting, v)
	}
	return on, nil
}

func readCatalog(flag, path string) (*Catalog, error) {
	raw, err := source.ReadInputFile(flag, path)
	if err != nil {
		return nil, err
	}
	if airbyteCatalog(raw) {
		return nil, source.ConfigErrorf("--%s %s is an Airbyte catalog (each stream under \"stream\", with a \"sync_mode\"), not a Singer one: "+
			"pass it to the Airbyte command instead (read --catalog %s), or give the tap the catalog its --discover prints, with the streams to sync marked \"selected\": true in their metadata", flag, path, path)
	}
	notCatalog := func(why string) error {
		return source.ConfigErrorf("--%s %s is not a Singer catalog (a JSON object with a \"streams\" array, as --discover prints): %s", flag, path, why)
	}
	var top struct {
		Streams []json.RawMessage `json:"streams"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&top); err != nil {
		return nil, notCatalog(describeJSONError("", err))
	}
	if len(bytes.TrimSpace(raw[dec.InputOffset():])) > 0 {
		// Two catalogs in one file (--discover >> catalog.json run twice):
		// which one the user edited is a guess.
		return nil, notCatalog("it has data after its JSON object; a catalog file holds one object (run --discover > FILE, not >>)")
	}
	c := &Catalog{Streams: make([]CatalogEntry, len(top.Streams))}
	for i, s := range top.Streams {
		if err := json.Unmarshal(s, &c.Streams[i]); err != nil {
			return nil, notCatalog(describeJSONError(fmt.Sprintf("streams[%d]", i), err))
		}
	}
	return c, nil
}

// describeJSONError says what is wrong with a catalog's JSON in its own
// words, at the path of the value at fault (under at): encoding/json's
// "cannot unmarshal number into Go struct field CatalogEntry.streams.
// tap_stream_id of type string" names Go types, not the fix.
func describeJSONError(at string, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		where := at
		if te.Field != "" {
			if where != "" {
				where += "."
			}
			where += te.Field
		}
		if where == "" {
			where = "the file"
		}
		want := jsonKind(te.Type)
		if te.Type == reflect.TypeFor[[]json.RawMessage]() {
			want = "a list of objects" // the streams
		}
		return fmt.Sprintf("%s is a JSON %s; it must be %s", where, te.Value, want)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "its JSON ends early: the file is cut short"
	case errors.Is(err, io.EOF):
		return "the file holds no JSON value"
	}
	return err.Error()
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // json.RawMessage: any value
			return "a JSON value"
		}
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a JSON value"
}

// airbyteCatalog reports a configured Airbyte catalog: streams whose
// "stream" is an object (a Singer catalog's is the stream's name).
func airbyteCatalog(raw []byte) bool {
	var c struct {
		Streams []struct {
			Stream json.RawMessage `json:"stream"`
		} `json:"streams"`
	}
	if json.Unmarshal(raw, &c) != nil || len(c.Streams) == 0 {
		return false
	}
	st := bytes.TrimSpace(c.Streams[0].Stream)
	return len(st) > 0 && st[0] == '{'
}

// about prints the tap's name, version, capabilities and settings.
func (t *Tap) about(format string, stdout, stderr io.Writer) int {
	settings := settingsSchema(t.Runner.Source.Spec().ConnectionSpecification)
	if format == "json" {
		doc := struct {
			Name         string          `json:"name"`
			Description  string          `json:"description"`
			Version      string          `json:"version"`
			Capabilities []string        `json:"capabilities"`
			Settings     json.RawMessage `json:"settings"`
		}{t.Name, t.description(), source.Version, Capabilities, settings}
		out, err := marshalIndent(doc)
		if err != nil {
			fmt.Fprintf(stderr, "CRITICAL %s: %v\n", t.Name, err)
			return source.ExitFail
		}
		_, _ = stdout.Write(out)
		return source.ExitOK
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Name: %s\nDescription: %s\nVersion: %s\nCapabilities: %s\nSettings:\n", t.Name, t.description(), source.Version, strings.Join(Capabilities, ", "))
	for _, s := range describeSettings(settings) {
		fmt.Fprintf(&b, "  - %s\n", s)
	}
	_, _ = io.WriteString(stdout, b.String())
	return source.ExitOK
}

func (t *Tap) description() string {
	var spec struct {
		Title string `json:"title"`
	}
	_ = json.Unmarshal(t.Runner.Source.Spec().ConnectionSpecification, &spec)
	if spec.Title == "" {
		spec.Title = t.Runner.Source.Name()
	}
	return fmt.Sprintf("Singer tap for %s: the %s connector in Singer mode, same streams and state", spec.Title, t.Runner.Source.Name())
}

// settingsSchema is the config's JSON Schema as Meltano reads settings:
// properties marked airbyte_secret also carry "secret" and "writeOnly".
func settingsSchema(spec json.RawMessage) json.RawMessage {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return spec
	}
	props, _ := doc["properties"].(map[string]any)
	for _, p := range props {
		if m, ok := p.(map[string]any); ok && m["airbyte_secret"] == true {
			m["secret"] = true
			m["writeOnly"] = true
		}
	}
	if props != nil {
		props[ActivateVersionSetting] = map[string]any{
			"type": "boolean", "default": false, "title": "Emit ACTIVATE_VERSION messages",
			"description": "Singer mode only: stamp each full-table stream's records with a version and, once the stream completed, send ACTIVATE_VERSION, so that a target drops (or marks deleted) the rows of earlier snapshots that this one no longer has. Off by default: a target that does not know the message may fail on it.",
		}
	}
	out, err := marshal(doc)
	if err != nil {
		return spec
	}
	return out
}

// describeSettings renders the settings one line each, in the spec's order.
func describeSettings(schema json.RawMessage) []string {
	var doc struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Type        any         `json:"type"`
			Description string      `json:"description"`
			Secret      bool        `json:"secret"`
			Default     any         `json:"default"`
			Order       json.Number `json:"order"`
		} `json:"properties"`
	}
	if json.Unmarshal(schema, &doc) != nil {
		return nil
	}
	names := make([]string, 0, len(doc.Properties))
	for n := range doc.Properties {
		names = append(names, n)
	}
	order := func(n string) float64 {
		f, err := doc.Properties[n].Order.Float64()
		if err != nil {
			return 1e9
		}
		return f
	}
	sort.Slice(names, func(i, j int) bool {
		if oi, oj := order(names[i]), order(names[j]); oi != oj {
			return oi < oj
		}
		return names[i] < names[j]
	})
	req := map[string]bool{}
	for _, n := range doc.Required {
		req[n] = true
	}
	var out []string
	for _, n := range names {
		p := doc.Properties[n]
		attrs := []string{fmt.Sprint(p.Type)}
		if req[n] {
			attrs = append(attrs, "required")
		}
		if p.Secret {
			attrs = append(attrs, "secret")
		}
		if p.Default != nil {
			attrs = append(attrs, fmt.Sprintf("default %v", p.Default))
		}
		out = append(out, fmt.Sprintf("%s (%s): %s", n, strings.Join(attrs, ", "), p.Description))
	}
	return out
}

// marshal encodes v without HTML escaping, so text round-trips as written.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// marshalIndent encodes a document meant to be read and edited (the catalog,
// --about), ending with a newline.
func marshalIndent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
