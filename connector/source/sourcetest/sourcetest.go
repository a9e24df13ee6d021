// Package sourcetest is the end-to-end test kit shared by both connectors'
// tests: it builds a binary once, runs it as a user would, and checks what it
// printed against the official Airbyte protocol schema and each stream's own
// schema.
package sourcetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// RepoRoot is the repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// SharedReference is where CI keeps the project's reference files, beside
// the repository (never inside it).
func SharedReference(name string) string {
	return filepath.Join(RepoRoot(), "..", "shared", "reference", name)
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// Build compiles ./cmd/<name> once per test process and returns the binary,
// in the process's own directory (binDir).
func Build(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	dir, err := binDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, out)
	}
	built[name] = bin
	return bin
}

// BuildWithClock compiles ./cmd/<name> into a directory of the test with
// its run start clock (source.StartTime) moved by offset, a duration such
// as "-1h": the binary of a machine whose clock stepped back since the
// last run. The offset is set with -ldflags -X, as no release build sets
// it.
func BuildWithClock(t testing.TB, name, offset string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name+"-clock"+offset)
	pkg := reflect.TypeFor[source.Stream]().PkgPath()
	cmd := exec.Command("go", "build", "-ldflags", "-X "+pkg+".clockOffset="+offset, "-o", bin, "./cmd/"+name)
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s with the clock %s: %v\n%s", name, offset, err, out)
	}
	return bin
}

// Result is one run of a binary.
type Result struct {
	Stdout, Stderr []byte
	Code           int
	// MaxRSS is the run's peak resident memory in bytes (-1 where the
	// system does not say; 0 for output parsed with Parse).
	MaxRSS   int64
	Messages []protocol.Message
	Lines    [][]byte
}

// Exec runs bin with args under a 2-minute limit and returns what it
// printed and its exit code; it fails the test only if bin could not run.
func Exec(t testing.TB, bin string, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	stdout, stderr, code, _ = execute(t, bin, args...)
	return stdout, stderr, code
}

// execute is Exec, also returning the process's peak resident memory in
// bytes (-1 where the system does not say).
func execute(t testing.TB, bin string, args ...string) (stdout, stderr []byte, code int, rss int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running %s %v: %v", bin, args, err)
	}
	return out.Bytes(), errb.Bytes(), code, maxRSS(cmd)
}

// Run runs bin with args (see Exec) and parses stdout as protocol messages,
// failing the test on any line that is not one, and on any stream whose
// messages break what the platform checks (CheckStreamOrder).
func Run(t testing.TB, bin string, args ...string) *Result {
	t.Helper()
	r := &Result{}
	r.Stdout, r.Stderr, r.Code, r.MaxRSS = execute(t, bin, args...)
	r.parse(t)
	return r
}

// Parse parses output captured another way (a read stopped mid-run, say)
// as Run parses stdout, failing the test on any line that is not a protocol
// message, and checks it with CheckStreamOrder.
func Parse(t testing.TB, stdout []byte) *Result {
	t.Helper()
	r := &Result{Stdout: stdout}
	r.parse(t)
	return r
}

func (r *Result) parse(t testing.TB) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(r.Stdout))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		var m protocol.Message
		if err := json.Unmarshal(line, &m); err != nil || m.Type == "" {
			t.Fatalf("stdout line is not a protocol message: %q", truncate(line))
		}
		r.Lines = append(r.Lines, line)
		r.Messages = append(r.Messages, m)
	}
	CheckStreamOrder(t, r)
}

// OfType returns the messages of one type.
func (r *Result) OfType(ty protocol.MessageType) []protocol.Message {
	var out []protocol.Message
	for _, m := range r.Messages {
		if m.Type == ty {
			out = append(out, m)
		}
	}
	return out
}

// Records returns each stream's record data, in order.
func (r *Result) Records() map[string][]json.RawMessage {
	out := map[string][]json.RawMessage{}
	for _, m := range r.Messages {
		if m.Record != nil {
			out[m.Record.Stream] = append(out[m.Record.Stream], m.Record.Data)
		}
	}
	return out
}

// ErrorTraces returns the ERROR traces.
func (r *Result) ErrorTraces() []*protocol.ErrorTrace {
	var out []*protocol.ErrorTrace
	for _, m := range r.Messages {
		if m.Trace != nil && m.Trace.Error != nil {
			out = append(out, m.Trace.Error)
		}
	}
	return out
}

// Statuses returns each stream's status sequence.
func (r *Result) Statuses() map[string][]protocol.Status {
	out := map[string][]protocol.Status{}
	for _, m := range r.Messages {
		if m.Trace != nil && m.Trace.StreamStatus != nil {
			n := m.Trace.StreamStatus.StreamDescriptor.Name
			out[n] = append(out[n], m.Trace.StreamStatus.Status)
		}
	}
	return out
}

// StateFile writes the last state of each stream as the next run's --state
// file and returns its path.
func (r *Result) StateFile(t testing.TB) string {
	t.Helper()
	sum, err := source.Summarize(bytes.NewReader(r.Stdout), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sum.StateFile()
	if err != nil {
		t.Fatal(err)
	}
	return WriteFile(t, "state.json", b)
}

// WriteFile writes b (or v as JSON) into a fresh temp dir and returns the path.
func WriteFile(t testing.TB, name string, v any) string {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

var (
	protoOnce   sync.Once
	protoSchema *jsonschema.Schema
	protoErr    error
)

// ProtocolSchema compiles ../shared/reference/airbyte_protocol.schema.json.
// It returns nil (and logs that the check is skipped) when the file is not
// there, as in a clone without the shared references beside it.
func ProtocolSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	protoOnce.Do(func() {
		path := SharedReference("airbyte_protocol.schema.json")
		raw, err := os.ReadFile(path)
		if err != nil {
			protoErr = err
			return
		}
		protoSchema, protoErr = source.CompileSchema("airbyte_protocol.schema.json", raw)
	})
	if protoErr != nil {
		if errors.Is(protoErr, os.ErrNotExist) {
			t.Logf("skipping protocol-schema validation: %v", protoErr)
			return nil
		}
		t.Fatalf("compiling the Airbyte protocol schema: %v", protoErr)
	}
	return protoSchema
}

// ValidateProtocol checks every stdout line against the official Airbyte
// protocol schema, plus what the schema cannot say: the line is valid UTF-8
// (JSON's encoding; Go's decoder would let it pass), the payload matching
// type is present, and a LOG names each attribute once.
func ValidateProtocol(t testing.TB, r *Result) {
	t.Helper()
	sch := ProtocolSchema(t)
	for i, line := range r.Lines {
		m := r.Messages[i]
		if !utf8.Valid(line) {
			t.Errorf("line %d is not valid UTF-8 (strict JSON readers reject it): %q", i+1, truncate(line))
		}
		if !payloadMatches(m) {
			t.Errorf("line %d: type %s without its payload: %s", i+1, m.Type, truncate(line))
		}
		if m.Log != nil {
			if k := RepeatedLogAttr(m.Log.Message); k != "" {
				t.Errorf("line %d: the LOG names attribute %s more than once: %s", i+1, k, truncate(line))
			}
		}
		if sch == nil {
			continue
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("line %d does not validate against the Airbyte protocol: %s\n%s", i+1, strings.Join(source.Problems("message", err), "; "), truncate(line))
		}
	}
}

func payloadMatches(m protocol.Message) bool {
	switch m.Type {
	case protocol.TypeRecord:
		return m.Record != nil
	case protocol.TypeState:
		return m.State != nil
	case protocol.TypeLog:
		return m.Log != nil
	case protocol.TypeSpec:
		return m.Spec != nil
	case protocol.TypeConnectionStatus:
		return m.ConnectionStatus != nil
	case protocol.TypeCatalog:
		return m.Catalog != nil
	case protocol.TypeTrace:
		return m.Trace != nil
	}
	return false
}

// ValidateRecords checks every record against its stream's json_schema from
// catalog as the acceptance tests do: draft-07, formats asserted, and
// integers strict (their validator takes 1.0 for a number, not an
// integer, where draft-07 takes it for both). Each part of the stream's
// primary key must be there, not null, and neither an object nor an array
// (a destination deduplicating on it would merge or drop rows). It returns
// the number of records checked.
func ValidateRecords(t testing.TB, r *Result, catalog *protocol.Catalog) int {
	t.Helper()
	type stream struct {
		schema *jsonschema.Schema
		doc    any
		pk     [][]string
	}
	streams := map[string]stream{}
	for _, s := range catalog.Streams {
		sch, err := source.CompileSchema(s.Name+".json", s.JSONSchema)
		if err != nil {
			t.Fatalf("stream %s schema: %v", s.Name, err)
		}
		streams[s.Name] = stream{sch, decodeNumbers(t, s.JSONSchema), s.SourceDefinedPrimaryKey}
	}
	n := 0
	for _, m := range r.Messages {
		if m.Record == nil {
			continue
		}
		s, ok := streams[m.Record.Stream]
		if !ok {
			t.Fatalf("record of undiscovered stream %q", m.Record.Stream)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.Record.Data))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.schema.Validate(inst); err != nil {
			t.Errorf("%s record does not match its schema: %s\n%s", m.Record.Stream, strings.Join(source.Problems("record", err), "; "), truncate(m.Record.Data))
		}
		data := decodeNumbers(t, m.Record.Data)
		for _, p := range notStrictIntegers(s.doc, data, "record") {
			t.Errorf("%s record: %s is typed integer but written as a number with a fraction or exponent, which the acceptance tests' validator refuses\n%s", m.Record.Stream, p, truncate(m.Record.Data))
		}
		for _, path := range s.pk {
			v, found := data, true
			for _, name := range path {
				obj, _ := v.(map[string]any)
				v, found = obj[name]
				if !found {
					break
				}
			}
			switch v.(type) {
			case nil, map[string]any, []any:
				t.Errorf("%s record: primary key part %v is %s: a deduplicating destination cannot key the row\n%s", m.Record.Stream, path, describeKeyPart(v, found), truncate(m.Record.Data))
			}
		}
		n++
	}
	return n
}

// decodeNumbers decodes JSON keeping numbers as written (json.Number).
func decodeNumbers(t testing.TB, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", truncate(raw), err)
	}
	return v
}

// notStrictIntegers returns the paths of the numbers in v that schema (a
// decoded draft-07 schema) types integer only, through properties and
// items, that are written with a fraction or an exponent (1.0, 1e2):
// draft-07 takes them for integers, Airbyte's acceptance tests do not.
func notStrictIntegers(schema, v any, path string) []string {
	node, _ := schema.(map[string]any)
	if node == nil {
		return nil
	}
	var out []string
	switch v := v.(type) {
	case json.Number:
		if typeAmong(node["type"], "integer") && strings.ContainsAny(string(v), ".eE") {
			out = append(out, path)
		}
	case map[string]any:
		props, _ := node["properties"].(map[string]any)
		for name, x := range v {
			if sub, ok := props[name]; ok {
				out = append(out, notStrictIntegers(sub, x, path+"."+name)...)
			} else {
				out = append(out, notStrictIntegers(node["additionalProperties"], x, path+"."+name)...)
			}
		}
	case []any:
		for i, x := range v {
			out = append(out, notStrictIntegers(node["items"], x, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

func describeKeyPart(v any, found bool) string {
	switch {
	case !found:
		return "missing"
	case v == nil:
		return "null"
	}
	b, _ := json.Marshal(v)
	return "not a scalar: " + truncate(b)
}

// CheckLifecycle asserts what Airbyte's acceptance tests assert about a
// successful read: every configured stream goes STARTED, RUNNING…, COMPLETE;
// every STATE is STREAM-typed with sourceStats; no STATE repeats the previous
// one of its stream after records; recordCount adds up to the records.
func CheckLifecycle(t testing.TB, r *Result, streams []string) {
	t.Helper()
	st := r.Statuses()
	for _, name := range streams {
		seq := st[name]
		if len(seq) < 3 || seq[0] != protocol.Started || seq[len(seq)-1] != protocol.Complete {
			t.Errorf("stream %s statuses = %v, want STARTED, RUNNING…, COMPLETE", name, seq)
			continue
		}
		for _, s := range seq[1 : len(seq)-1] {
			if s != protocol.Running {
				t.Errorf("stream %s statuses = %v: only RUNNING between STARTED and COMPLETE", name, seq)
			}
		}
	}
	last := map[string]string{}
	since := map[string]int{}
	counted := map[string]float64{}
	states := map[string]int{}
	for _, m := range r.Messages {
		switch {
		case m.Record != nil:
			since[m.Record.Stream]++
		case m.State != nil:
			if m.State.Type != protocol.StateStream || m.State.Stream == nil {
				t.Fatalf("state is not STREAM-typed: %+v", m.State)
			}
			name := m.State.Stream.StreamDescriptor.Name
			if m.State.SourceStats == nil {
				t.Errorf("state of %s without sourceStats", name)
				continue
			}
			if int(m.State.SourceStats.RecordCount) != since[name] {
				t.Errorf("state of %s: recordCount %v, but %d records since the previous state", name, m.State.SourceStats.RecordCount, since[name])
			}
			body := string(m.State.Stream.StreamState)
			if body == last[name] && since[name] > 0 {
				t.Errorf("state of %s repeats the previous one after %d records", name, since[name])
			}
			last[name] = body
			counted[name] += float64(m.State.SourceStats.RecordCount)
			since[name] = 0
			states[name]++
		}
	}
	for _, name := range streams {
		if states[name] == 0 {
			t.Errorf("stream %s emitted no STATE", name)
		}
	}
}

// Must fails the test on err.
func Must(t testing.TB, err error, what ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprint(what...), err)
	}
}

// TapLink returns a symbolic link named name (tap-gocardless-bank-data,
// …) to bin, in a temporary directory: the binary started under a tap's
// name speaks Singer, as Meltano starts it (docs/singer.md).
func TapLink(t testing.TB, bin, name string) string {
	t.Helper()
	tap := filepath.Join(t.TempDir(), name)
	Must(t, os.Symlink(bin, tap), "symlink")
	return tap
}
