package singer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// timeExtracted is RFC 3339 in UTC with microseconds, as singer-python
// writes it.
const timeExtracted = "2006-01-02T15:04:05.000000Z"

// encoder is the Singer output format of a read: the source.Encoder the
// runtime writes to in Singer mode, in place of the Airbyte one. Singer
// messages go to stdout, everything else to stderr:
//
//   - a stream's STARTED status: its SCHEMA (and again before a RECORD if
//     it somehow came first), so a SCHEMA always precedes its records;
//   - a record: a Singer RECORD with the selected fields and
//     time_extracted;
//   - a state: a Singer STATE whose value is {"bookmarks": {...}}: the
//     input state's bookmarks with this stream's state put in, so the last
//     STATE is a complete resume point even for streams not synced this
//     run;
//   - logs and errors: "LEVEL message" lines on stderr, the last error of a
//     failed run as the CRITICAL line (see close); COMPLETE and INCOMPLETE:
//     a record_count METRIC line.
//
// Every text is redacted before it is written, as the Airbyte writer does.
type encoder struct {
	tap    string
	out    *bufio.Writer // nil in discover: only errors are written
	stderr io.Writer
	redact *secret.Redactor
	now    func() time.Time

	mu         sync.Mutex
	plans      map[string]*streamPlan
	bookmarks  map[string]json.RawMessage
	schemaSent map[string]bool
	records    map[string]int64
	lastErr    string // the latest error, not yet printed
	// lastType is the failure type of the latest error; with
	// detailed, close turns it into the exit code.
	lastType   protocol.FailureType
	detailed   bool
	err        error  // the first stdout write error; sticky
	row        []byte // scratch for a record with fields to drop
	scan       jsonrow.Scanner
	kept, rest []byte          // scratch for a record with undeclared or misfit fields
	fixes      []fix           // scratch: a record's members to move or mend
	undeclared map[string]bool // stream + "\x00" + field, already named in a WARNING
	// tableVersions is the state's table_versions member (tableVersionsKey):
	// the input state's, each stream this run stamps (streamPlan.version)
	// with its version. Every STATE carries it, once it holds any.
	tableVersions map[string]int64
	// versionsStated is set once a STATE carried this run's versions: a
	// stream's first versioned RECORD waits for one (Record).
	versionsStated bool
	// notRead are the streams the config turned off (source.NotRead):
	// COMPLETE without a snapshot, so without ACTIVATE_VERSION, which
	// would have the target drop every row of the stream.
	notRead map[string]bool
}

var _ source.Encoder = (*encoder)(nil)

// RecordsCarryNoChanges tells the runtime that a Singer RECORD has no
// place for a row's changes (Airbyte's meta.source_changes), so its
// messages do not point the user at one.
func (e *encoder) RecordsCarryNoChanges() {}

// NotRead marks stream as turned off by the config: see notRead.
func (e *encoder) NotRead(stream string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.notRead == nil {
		e.notRead = map[string]bool{}
	}
	e.notRead[stream] = true
}

func newEncoder(tap string, stdout, stderr io.Writer, redact *secret.Redactor) *encoder {
	e := &encoder{tap: tap, stderr: stderr, redact: redact, now: time.Now,
		bookmarks: map[string]json.RawMessage{}, schemaSent: map[string]bool{}, records: map[string]int64{}}
	if stdout != nil {
		e.out = bufio.NewWriterSize(stdout, 256<<10)
	}
	return e
}

// start is called once the read is planned, before any stream is read,
// with the table versions of the input state (nil: none).
func (e *encoder) start(plans map[string]*streamPlan, states map[string]json.RawMessage, versions map[string]int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.plans = plans
	e.tableVersions = maps.Clone(versions)
	for name, p := range plans {
		if p.version != 0 {
			if e.tableVersions == nil {
				e.tableVersions = map[string]int64{}
			}
			e.tableVersions[name] = p.version
		}
	}
	for name, st := range states {
		// Input states may be pretty-printed; a STATE is one line.
		var c bytes.Buffer
		if json.Compact(&c, st) == nil {
			st = c.Bytes()
		}
		e.bookmarks[name] = st
	}
}

// Record writes a Singer RECORD: the row laid out by jsonrow, without its
// unselected fields.
func (e *encoder) Record(stream string, row jsonrow.Row) error {
	ms := e.now().UnixMilli()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.out == nil || e.err != nil {
		return e.err
	}
	p := e.plans[stream]
	if e.versioned(p) && !e.versionsStated {
		// Before the first record of this run's versions reaches the
		// target, the state records them: a run stopped before its first
		// STATE (killed, or its only streams failed) leaves rows of
		// these versions in the target, which the next run's must come
		// after.
		if err := e.stateLocked(); err != nil {
			return err
		}
	}
	e.schemaLocked(stream)
	w := e.out
	if p != nil {
		w.Write(p.recordPrefix)
	} else {
		w.Write(recordPrefix(stream))
	}
	if row.Tombstone {
		row = singerTombstone(row)
	}
	e.row = row.AppendTo(e.row[:0])
	data := e.row
	if p != nil && p.mask != nil {
		var err error
		if data, err = p.mask.record(data); err != nil {
			e.err = fmt.Errorf("a %s record is not a JSON object: %w", stream, err)
			return e.err
		}
	}
	if p != nil && p.declared != nil {
		data = e.keepUndeclared(stream, p, data)
	}
	if cap(e.row) > 1<<20 {
		e.row = nil // one huge row does not pin its buffer
	}
	e.records[stream]++
	w.Write(data)
	w.WriteString(`,"time_extracted":"`)
	w.WriteString(time.UnixMilli(ms).UTC().Format(timeExtracted))
	w.WriteByte('"')
	if e.versioned(p) {
		w.WriteString(`,"version":`)
		w.WriteString(strconv.FormatInt(p.version, 10))
	}
	if _, err := w.WriteString("}\n"); err != nil {
		e.err = err
	}
	return e.err
}

// keepUndeclared returns data with every top-level member that does not
// fit the stream's SCHEMA moved into one member, _leftovers, which the
// SCHEMA declares as an object (declareSingerFields):
//
//   - a member the SCHEMA does not declare (a field the API added since
//     the schema was written, say). A Singer target makes its columns, or
//     its CSV header, from the SCHEMA: MeltanoLabs' target-csv fails on a
//     record with any other member, and target-postgres drops it without
//     a word (the Meltano SDK's taps drop such fields too);
//   - a declared member whose value does not fit its schema (a string
//     where it says object, a number with a fraction where it says
//     integer, a nested member of the wrong type): a Meltano SDK target
//     validates every record against the SCHEMA and, by default, stops
//     the whole load at the first that fails. The member is moved whole,
//     however deep its misfit: its value stays as sent, under its name,
//     readable in one place, and the rest of the object would be of
//     little use with a part missing.
//
// A key property, the replication key and a member the schema requires
// are never moved (see pinnedValue). Here every value is kept, as the
// Parquet and PostgreSQL sinks keep theirs, and each field is named once
// per stream in a WARNING that says what came, never the value. Only a
// record that has such a member is rewritten; the others cost one scan of
// their top level, and a walk of the members whose schema has typed parts.
func (e *encoder) keepUndeclared(stream string, p *streamPlan, data []byte) []byte {
	e.fixes = e.fixes[:0]
	i := -1
	e.scan.Reset(data)
	err := e.scan.Object(func(key []byte) error {
		i++
		f, name, declared := lookup(p.declared, &p.order, i, key)
		if !kept(declared, name) {
			e.fixes = append(e.fixes, fix{at: i, name: name})
			return e.scan.Skip()
		}
		if f == nil || name == sdcDeletedAt {
			return e.scan.Skip()
		}
		start := e.scan.Pos()
		m, err := f.check(&e.scan)
		if m != nil && err == nil {
			fx := fix{at: i, name: name, misfit: m}
			if role, ok := p.pinned[name]; ok {
				fx.role = role
				fx.value = pinnedValue(f, data[start:e.scan.Pos()])
			}
			e.fixes = append(e.fixes, fx)
		}
		return err
	})
	if err != nil || len(e.fixes) == 0 {
		return data // not an object: written as it is, as fieldMask.record does
	}
	for _, fx := range e.fixes {
		e.warnFix(stream, p, fx)
	}
	// Declared members first, as they came, then _leftovers.
	out, rest := append(e.kept[:0], '{'), append(e.rest[:0], '{')
	fixes := e.fixes
	i = -1
	e.scan.Reset(data)
	err = e.scan.Object(func(key []byte) error {
		i++
		name := string(key) // key is the scanner's until its next call
		v, err := e.scan.Raw()
		if err != nil {
			return err
		}
		to, put := &out, v
		if len(fixes) > 0 && fixes[0].at == i {
			fx := fixes[0]
			fixes = fixes[1:]
			switch {
			case fx.misfit == nil || fx.role == "":
				to = &rest
			case fx.value != nil:
				// Pinned: in place as its stand-in, and as sent in
				// _leftovers.
				put = fx.value
				if len(rest) > 1 {
					rest = append(rest, ',')
				}
				rest = append(append(jsonrow.AppendString(rest, name), ':'), v...)
			}
		}
		if len(*to) > 1 {
			*to = append(*to, ',')
		}
		*to = append(append(jsonrow.AppendString(*to, name), ':'), put...)
		return nil
	})
	if err != nil {
		return data
	}
	if len(rest) > 1 {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(append(append(jsonrow.AppendString(out, leftovers), ':'), rest...), '}')
	}
	out = append(out, '}')
	e.kept, e.rest = out, rest
	if cap(e.kept) > 1<<20 {
		e.kept, e.rest = nil, nil // one huge row does not pin its buffers
	}
	return out
}

// fix is a member of a record that keepUndeclared moves or mends: the
// at-th member, undeclared (misfit nil) or a misfit; role is why a misfit
// stays in place (a key property, …; "" when it is moved) and value, then,
// what stands in its place (nil: the value as sent, no stand-in fits).
type fix struct {
	at     int
	name   string
	misfit *mismatch
	role   string
	value  []byte
}

// pinnedValue is what stands in place of a misfit that must stay (a key
// property, the replication key, a required member), its value as sent
// going to _leftovers: null where the schema takes null (the replication
// key: the typed sinks null that column too, and the tap's bookmarks do
// not come from it), else the value's JSON text as a string where it
// takes a string (a key: the row stays keyed, the same key at every run,
// and _leftovers tells it from a string of that text; the typed sinks
// store a number or a boolean in a text key column so too). Never the
// text of null (every row without a key would share the key "null") nor
// of a string. nil when nothing fits: the value is left as sent, and a
// target that validates records refuses the record; a key cannot be
// dropped (the Meltano SDK refuses a record without one, and a target
// that took it would append it at every run), and nothing else stands
// for it.
func pinnedValue(f *fit, v []byte) []byte {
	var sc jsonrow.Scanner
	stands := [][]byte{[]byte("null")}
	if v[0] != 'n' && v[0] != '"' {
		stands = append(stands, jsonrow.AppendString(nil, string(v)))
	}
	for _, c := range stands {
		sc.Reset(c)
		if m, err := f.check(&sc); m == nil && err == nil {
			return c
		}
	}
	return nil
}

// warnFix names a moved or mended member of stream in a WARNING, once
// per stream and field.
func (e *encoder) warnFix(stream string, p *streamPlan, fx fix) {
	k := stream + "\x00" + fx.name
	if e.undeclared[k] {
		return
	}
	if e.undeclared == nil {
		e.undeclared = map[string]bool{}
	}
	e.undeclared[k] = true
	field := e.redact.String(string(jsonrow.AppendString(nil, fx.name)))
	switch {
	case fx.misfit == nil:
		e.logf("WARNING", "stream '%s': field %s is not in the stream's schema; kept in its records' %s object, since Singer targets build their tables from the SCHEMA", stream, field, leftovers)
	case fx.role == "":
		e.logf("WARNING", "stream '%s': field %s is declared %s in the stream's schema, but in a record it %s; moved into its records' %s object as sent, since a target that validates records against the SCHEMA (the Meltano SDK's) stops the load at the first that does not fit", stream, field, p.declared[fx.name].label, fx.misfit.words(fx.name), leftovers)
	case fx.value == nil:
		e.logf("WARNING", "stream '%s': field %s, %s, is declared %s in the stream's schema, but in a record it %s; it stays in place as sent, as no value of its type can stand for it, and a target that validates records against the SCHEMA (the Meltano SDK's) refuses the record", stream, field, fx.role, p.declared[fx.name].label, fx.misfit.words(fx.name))
	default:
		stand := "null"
		if fx.value[0] == '"' {
			stand = "its JSON text, a string"
		}
		e.logf("WARNING", "stream '%s': field %s, %s, is declared %s in the stream's schema, but in a record it %s; it stays in place as %s, and its value as sent is kept in the record's %s object", stream, field, fx.role, p.declared[fx.name].label, fx.misfit.words(fx.name), stand, leftovers)
	}
}

// versioned reports whether the stream of plan p carries versions: a
// full-table stream, in a run whose config asked for them (stampVersions).
func (e *encoder) versioned(p *streamPlan) bool {
	return p != nil && p.version != 0
}

// kept reports whether a record's member name, declared or not by the
// schema, may stay where it is: the schema declares it, or it is
// _sdc_deleted_at. A member named _leftovers that the API itself sent is
// moved into the connector's, not merged with it.
func kept(declared bool, name string) bool {
	return declared && name != leftovers || name == sdcDeletedAt
}

// leftovers is the member that holds, in Singer mode, a record's fields
// its schema does not declare (the name the Parquet and PostgreSQL sinks
// give their column of such fields).
const leftovers = "_leftovers"

// sdcDeletedAt is the member Singer targets take for a deletion (the
// Meltano SDK's soft-delete column), where Airbyte's is _ab_cdc_deleted_at.
const sdcDeletedAt = "_sdc_deleted_at"

// singerTombstone is a tombstone with _sdc_deleted_at beside its
// _ab_cdc_deleted_at, the same time: a Singer target that only knows its
// own field would otherwise take the tombstone for an update of the row.
func singerTombstone(row jsonrow.Row) jsonrow.Row {
	var t struct {
		DeletedAt json.RawMessage `json:"_ab_cdc_deleted_at"`
	}
	if json.Unmarshal(row.Raw, &t) != nil || len(t.DeletedAt) == 0 {
		return row
	}
	row.Fields = append(slices.Clip(row.Fields), jsonrow.Raw(sdcDeletedAt, t.DeletedAt))
	return row
}

// recordPrefix is a RECORD message up to its record's first byte.
func recordPrefix(stream string) []byte {
	return append(jsonrow.AppendString([]byte(`{"type":"RECORD","stream":`), stream), `,"record":`...)
}

// schemaLocked sends a stream's SCHEMA once, before anything else of it.
func (e *encoder) schemaLocked(stream string) {
	p := e.plans[stream]
	if e.out == nil || e.schemaSent[stream] || p == nil {
		return
	}
	e.schemaSent[stream] = true
	e.out.Write(p.schema)
	if err := e.out.WriteByte('\n'); err != nil {
		e.err = err
	}
}

// State writes a Singer STATE with every stream's bookmark and flushes it:
// a STATE is a resume point, and leaves at once, after the records it covers.
func (e *encoder) State(stream string, state json.RawMessage, _ int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.out == nil || e.err != nil {
		return e.err
	}
	st := bytes.TrimSpace(state)
	if len(st) == 0 || bytes.Equal(st, []byte("null")) {
		delete(e.bookmarks, stream)
	} else {
		e.bookmarks[stream] = st
	}
	return e.stateLocked()
}

// stateLocked writes a STATE of the bookmarks and table versions, and
// flushes it.
func (e *encoder) stateLocked() error {
	// Written by hand, in stream-name order: a state can be megabytes
	// (ids by account) and is re-sent whole at every checkpoint, and each
	// bookmark is already one compact line's JSON.
	names := make([]string, 0, len(e.bookmarks))
	for n := range e.bookmarks {
		names = append(names, n)
	}
	sort.Strings(names)
	w := e.out
	w.WriteString(`{"type":"STATE","value":{"bookmarks":{`)
	for i, n := range names {
		if i > 0 {
			w.WriteByte(',')
		}
		w.Write(jsonrow.AppendString(nil, n))
		w.WriteByte(':')
		w.Write(e.bookmarks[n])
	}
	w.WriteByte('}')
	if len(e.tableVersions) > 0 {
		w.WriteString(`,"` + tableVersionsKey + `":{`)
		for i, n := range slices.Sorted(maps.Keys(e.tableVersions)) {
			if i > 0 {
				w.WriteByte(',')
			}
			w.Write(jsonrow.AppendString(nil, n))
			w.WriteByte(':')
			w.WriteString(strconv.FormatInt(e.tableVersions[n], 10))
		}
		w.WriteByte('}')
	}
	e.versionsStated = true
	w.WriteString("}}\n")
	if err := w.Flush(); err != nil {
		e.err = err
	}
	return e.err
}

// Log writes a stderr line at the log's level, in Singer's vocabulary.
func (e *encoder) Log(level protocol.Level, msg string) error {
	name := string(level)
	switch level {
	case protocol.LevelWarn:
		name = "WARNING"
	case protocol.LevelFatal:
		name = "CRITICAL"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.logf(name, "%s", e.redact.String(msg))
	return nil
}

// StreamStatus logs a stream's start and end, and sends its SCHEMA when it
// starts.
func (e *encoder) StreamStatus(stream string, status protocol.Status, reasons ...protocol.StatusReason) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch status {
	case protocol.Started:
		if p := e.plans[stream]; p != nil {
			e.logf("INFO", "Beginning %s sync of stream '%s'", methodOf(p.mode), stream)
		}
		e.schemaLocked(stream)
	case protocol.Running:
		for _, r := range reasons {
			if r.RateLimited != nil && r.RateLimited.QuotaReset > 0 {
				e.logf("INFO", "stream '%s' is rate limited; waiting until %s", stream, time.UnixMilli(r.RateLimited.QuotaReset).UTC().Format(time.RFC3339))
			}
		}
	case protocol.Complete, protocol.Incomplete:
		if p := e.plans[stream]; status == protocol.Complete && e.versioned(p) && !e.notRead[stream] && e.out != nil && e.err == nil {
			// The snapshot is whole: the target may now drop (or mark
			// deleted) the rows earlier versions had and this one has not.
			// Never after an INCOMPLETE stream, whose snapshot lacks what
			// a failed account or item would have sent.
			e.schemaLocked(stream)
			line, _ := marshal(struct {
				Type    string `json:"type"`
				Stream  string `json:"stream"`
				Version int64  `json:"version"`
			}{"ACTIVATE_VERSION", stream, p.version})
			e.out.Write(line)
			if err := e.out.WriteByte('\n'); err != nil {
				e.err = err
			}
		}
		if e.out != nil {
			result := "succeeded"
			if status == protocol.Incomplete {
				result = "failed"
			}
			metric, _ := marshal(map[string]any{"type": "counter", "metric": "record_count", "value": e.records[stream],
				"tags": map[string]string{"stream": stream, "status": result}})
			e.logf("INFO", "METRIC: %s", metric)
		}
	}
	return e.err
}

// Estimate prints nothing: Singer has no message for a row estimate, and
// a stderr line per part read would only be noise in a Meltano log.
func (e *encoder) Estimate(string, int64) error { return nil }

// Error keeps the failure as the run's latest; the one before it, if any,
// is printed as an ERROR line. close prints the last one.
func (e *encoder) Error(ft protocol.FailureType, stream, msg, internal string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lastErr != "" {
		e.logf("ERROR", "%s", e.lastErr)
	}
	msg, internal = e.redact.String(msg), e.redact.String(internal)
	orig := msg
	if stream != "" {
		msg = "stream " + stream + ": " + msg
	}
	if ft != "" {
		msg += " [" + string(ft) + "]"
	}
	// A joined error's internal message has a line per part, where the
	// message joins them with "; " (one per failed account): the same
	// words, not a cause.
	if internal != "" && !strings.Contains(orig, strings.ReplaceAll(internal, "\n", "; ")) {
		msg += "\n  cause: " + internal
	}
	e.lastErr, e.lastType = msg, ft
	return nil
}

// Flush writes out buffered records.
func (e *encoder) Flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.out != nil && e.err == nil {
		e.err = e.out.Flush()
	}
	return e.err
}

// close ends the run that exited with code: the last error becomes the
// CRITICAL line if the run failed, and stdout is flushed. It returns the
// exit code, non-zero if stdout failed.
func (e *encoder) close(code int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.out != nil {
		if err := e.out.Flush(); err != nil && e.err == nil {
			e.err = err
		}
	}
	if e.detailed && e.err == nil {
		code = source.DetailedExitCode(code, e.lastType)
	}
	switch {
	case e.err != nil:
		// stdout is gone (the target exited, say): that is why the run
		// stopped, whatever error the streams then met.
		e.logf("CRITICAL", "writing to stdout: %v; its reader went away, so the run stopped before it finished", e.err)
		code = source.ExitFail
	case code != 0 && e.lastErr != "":
		e.logf("CRITICAL", "%s", e.lastErr)
	case code != 0:
		e.logf("CRITICAL", "%s failed (exit code %d)", e.tap, code)
	case e.lastErr != "":
		e.logf("ERROR", "%s", e.lastErr)
	}
	e.lastErr = ""
	return code
}

func methodOf(m protocol.SyncMode) string {
	if m == protocol.Incremental {
		return Incremental
	}
	return FullTable
}

// logf writes one stderr line; a multi-line text keeps its level on every
// line so no line of it can be mistaken for another message.
func (e *encoder) logf(level, format string, a ...any) {
	text := fmt.Sprintf(format, a...)
	var sb strings.Builder
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		sb.WriteString(level)
		sb.WriteByte(' ')
		sb.WriteString(l)
		sb.WriteByte('\n')
	}
	_, _ = io.WriteString(e.stderr, sb.String())
}
