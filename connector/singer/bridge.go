package singer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// timeExtracted is RFC 3339 in UTC with microseconds, as singer-python
// writes it.
const timeExtracted = "2006-01-02T15:04:05.000000Z"

// bridge is the io.Writer the runtime writes Airbyte messages to in Singer
// mode; it writes the Singer messages they mean to stdout and everything
// else to stderr, line by line as they arrive:
//
//   - STREAM_STATUS STARTED: the stream's SCHEMA (and again before a RECORD
//     if it somehow came first), so a SCHEMA always precedes its records;
//   - RECORD: a Singer RECORD with the selected fields and time_extracted
//     (the Airbyte emitted_at, in UTC);
//   - STATE: a Singer STATE whose value is {"bookmarks": {...}}: the input
//     state's bookmarks with this stream's stream_state put in, so the last
//     STATE is a complete resume point even for streams not synced this run;
//   - LOG and ERROR traces: "LEVEL message" lines on stderr, the last error
//     of a failed run as the CRITICAL line; COMPLETE and INCOMPLETE: a
//     record_count METRIC line.
//
// The runtime's protocol.Writer calls Write under its lock, so lines arrive
// whole-or-split but in order, and a STATE after every record it covers.
type bridge struct {
	tap    string
	out    *bufio.Writer // nil in discover: only the catalog is kept
	stderr io.Writer

	mu         sync.Mutex
	line       []byte
	plans      map[string]*streamPlan
	bookmarks  map[string]json.RawMessage
	schemaSent map[string]bool
	records    map[string]int64
	catalog    *protocol.Catalog
	lastErr    string // the latest ERROR trace, not yet printed
	err        error  // the first stdout write error
}

func newBridge(tap string, stdout, stderr io.Writer) *bridge {
	b := &bridge{tap: tap, stderr: stderr, bookmarks: map[string]json.RawMessage{}, schemaSent: map[string]bool{}, records: map[string]int64{}}
	if stdout != nil {
		b.out = bufio.NewWriterSize(stdout, 256<<10)
	}
	return b
}

// start is called once the read is planned, before any stream is read.
func (b *bridge) start(plans map[string]*streamPlan, states map[string]json.RawMessage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.plans = plans
	for name, st := range states {
		// Input states may be pretty-printed; a STATE is one line.
		var c bytes.Buffer
		if json.Compact(&c, st) == nil {
			st = c.Bytes()
		}
		b.bookmarks[name] = st
	}
}

// Write implements io.Writer.
func (b *bridge) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.line = append(b.line, p...)
	rest := b.line
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		b.handle(rest[:i])
		rest = rest[i+1:]
	}
	b.line = append(b.line[:0], rest...)
	if b.err != nil {
		return 0, b.err
	}
	return len(p), nil
}

// close ends the run that exited with code: the last error becomes the
// CRITICAL line if the run failed, and stdout is flushed. It returns the
// exit code, non-zero if stdout failed.
func (b *bridge) close(code int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(bytes.TrimSpace(b.line)) > 0 {
		b.handle(b.line)
	}
	b.line = nil
	if b.out != nil {
		if err := b.out.Flush(); err != nil && b.err == nil {
			b.err = err
		}
	}
	switch {
	case code != 0 && b.lastErr != "":
		b.logf("CRITICAL", "%s", b.lastErr)
	case code != 0:
		b.logf("CRITICAL", "%s failed (exit code %d)", b.tap, code)
	case b.lastErr != "":
		b.logf("ERROR", "%s", b.lastErr)
	}
	b.lastErr = ""
	if b.err != nil {
		if code == 0 {
			b.logf("CRITICAL", "writing to stdout: %v", b.err)
			code = 1
		}
	}
	return code
}

func (b *bridge) handle(line []byte) {
	if r, ok := fastRecord(line); ok {
		b.record(&r)
		return
	}
	var m protocol.Message
	if err := json.Unmarshal(line, &m); err != nil || m.Type == "" {
		b.logf("INFO", "%s", line) // not a message: pass it on as a log line
		return
	}
	switch {
	case m.Record != nil:
		b.record(m.Record)
	case m.State != nil:
		b.state(m.State)
	case m.Log != nil:
		b.log(m.Log)
	case m.Trace != nil:
		b.trace(m.Trace)
	case m.Catalog != nil:
		b.catalog = m.Catalog
	default:
		b.logf("INFO", "%s", line)
	}
}

func (b *bridge) record(r *protocol.Record) {
	if b.out == nil || b.err != nil {
		return
	}
	p := b.plans[r.Stream]
	b.schema(r.Stream)
	data, err := p.filter(r.Data)
	if err != nil {
		b.err = fmt.Errorf("a %s record is not a JSON object: %w", r.Stream, err)
		return
	}
	b.records[r.Stream]++
	w := b.out
	if p != nil {
		w.Write(p.recordPrefix)
	} else {
		w.Write(recordPrefix(r.Stream))
	}
	w.Write(data)
	w.WriteString(`,"time_extracted":"`)
	w.WriteString(time.UnixMilli(r.EmittedAt).UTC().Format(timeExtracted))
	if _, err := w.WriteString("\"}\n"); err != nil {
		b.err = err
	}
}

// fastRecord reads a RECORD line laid out the way protocol.Writer writes
// them, {"type":"RECORD","record":{"stream":"NAME","data":{...},"emitted_at":MS}},
// without decoding the data: most lines of a sync are records, and the data
// was checked when it was written. Any other layout reports false and goes
// through encoding/json.
func fastRecord(line []byte) (protocol.Record, bool) {
	const head = `{"type":"RECORD","record":{"stream":"`
	rest, ok := bytes.CutPrefix(line, []byte(head))
	if !ok {
		return protocol.Record{}, false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return protocol.Record{}, false
	}
	stream := string(rest[:end])
	data, ok := bytes.CutPrefix(rest[end:], []byte(`","data":{`))
	if !ok {
		return protocol.Record{}, false
	}
	i := bytes.LastIndex(data, []byte(`},"emitted_at":`))
	if i < 0 {
		return protocol.Record{}, false
	}
	ms := data[i+len(`},"emitted_at":`):]
	ms, ok = bytes.CutSuffix(ms, []byte("}}"))
	if !ok || len(ms) == 0 || len(ms) > 19 {
		return protocol.Record{}, false
	}
	var emitted int64
	for _, c := range ms {
		if c < '0' || c > '9' {
			return protocol.Record{}, false
		}
		emitted = emitted*10 + int64(c-'0')
	}
	return protocol.Record{Stream: stream, Data: line[len(line)-len(data)-1 : len(line)-len(data)+i+1], EmittedAt: emitted}, true
}

// recordPrefix is a RECORD message up to its record's first byte.
func recordPrefix(stream string) []byte {
	name, _ := marshal(stream)
	return append(append([]byte(`{"type":"RECORD","stream":`), name...), `,"record":`...)
}

func (p *streamPlan) filter(data []byte) ([]byte, error) {
	if p == nil {
		return data, nil
	}
	return p.mask.record(data)
}

// schema sends a stream's SCHEMA once, before anything else of it.
func (b *bridge) schema(stream string) {
	p := b.plans[stream]
	if b.out == nil || b.schemaSent[stream] || p == nil {
		return
	}
	b.schemaSent[stream] = true
	b.out.Write(p.schema)
	if err := b.out.WriteByte('\n'); err != nil {
		b.err = err
	}
}

func (b *bridge) state(s *protocol.State) {
	if b.out == nil || b.err != nil || s.Stream == nil {
		return
	}
	name := s.Stream.StreamDescriptor.Name
	st := bytes.TrimSpace(s.Stream.StreamState)
	if len(st) == 0 || bytes.Equal(st, []byte("null")) {
		delete(b.bookmarks, name)
	} else {
		b.bookmarks[name] = st
	}
	// Written by hand, in stream-name order: a state can be megabytes
	// (ids by account) and is re-sent whole at every checkpoint, and each
	// bookmark is already one compact line's JSON.
	names := make([]string, 0, len(b.bookmarks))
	for n := range b.bookmarks {
		names = append(names, n)
	}
	sort.Strings(names)
	w := b.out
	w.WriteString(`{"type":"STATE","value":{"bookmarks":{`)
	for i, n := range names {
		if i > 0 {
			w.WriteByte(',')
		}
		key, _ := marshal(n)
		w.Write(key)
		w.WriteByte(':')
		w.Write(b.bookmarks[n])
	}
	w.WriteString("}}}\n")
	// A STATE is a resume point: it leaves at once, after the records it covers.
	if err := b.out.Flush(); err != nil {
		b.err = err
	}
}

func (b *bridge) log(l *protocol.Log) {
	level := string(l.Level)
	switch l.Level {
	case protocol.LevelWarn:
		level = "WARNING"
	case protocol.LevelFatal:
		level = "CRITICAL"
	}
	b.logf(level, "%s", l.Message)
	if l.StackTrace != "" {
		b.logf(level, "%s", l.StackTrace)
	}
}

func (b *bridge) trace(t *protocol.Trace) {
	switch {
	case t.Error != nil:
		if b.lastErr != "" {
			b.logf("ERROR", "%s", b.lastErr)
		}
		e := t.Error
		msg := e.Message
		if e.StreamDescriptor != nil && e.StreamDescriptor.Name != "" {
			msg = "stream " + e.StreamDescriptor.Name + ": " + msg
		}
		if e.FailureType != "" {
			msg += " [" + string(e.FailureType) + "]"
		}
		if e.InternalMessage != "" && !strings.Contains(e.Message, e.InternalMessage) {
			msg += "\n  cause: " + e.InternalMessage
		}
		b.lastErr = msg
	case t.StreamStatus != nil:
		name := t.StreamStatus.StreamDescriptor.Name
		switch t.StreamStatus.Status {
		case protocol.Started:
			if p := b.plans[name]; p != nil {
				b.logf("INFO", "Beginning %s sync of stream '%s'", methodOf(p.mode), name)
			}
			b.schema(name)
		case protocol.Running:
			for _, r := range t.StreamStatus.Reasons {
				if r.RateLimited != nil && r.RateLimited.QuotaReset > 0 {
					b.logf("INFO", "stream '%s' is rate limited; waiting until %s", name, time.UnixMilli(r.RateLimited.QuotaReset).UTC().Format(time.RFC3339))
				}
			}
		case protocol.Complete, protocol.Incomplete:
			if b.out != nil {
				status := "succeeded"
				if t.StreamStatus.Status == protocol.Incomplete {
					status = "failed"
				}
				metric, _ := marshal(map[string]any{"type": "counter", "metric": "record_count", "value": b.records[name],
					"tags": map[string]string{"stream": name, "status": status}})
				b.logf("INFO", "METRIC: %s", metric)
			}
		}
	}
}

func methodOf(m protocol.SyncMode) string {
	if m == protocol.Incremental {
		return Incremental
	}
	return FullTable
}

// logf writes one stderr line; a multi-line text keeps its level on every
// line so no line of it can be mistaken for another message.
func (b *bridge) logf(level, format string, a ...any) {
	text := fmt.Sprintf(format, a...)
	var sb strings.Builder
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		sb.WriteString(level)
		sb.WriteByte(' ')
		sb.WriteString(l)
		sb.WriteByte('\n')
	}
	_, _ = io.WriteString(b.stderr, sb.String())
}
