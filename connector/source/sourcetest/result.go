package sourcetest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// RunChecked runs a read (or any command) with Run and checks what holds
// for every read, failed or not: every line valid against the protocol
// schema and every record against its stream's schema in catalog.
func RunChecked(t testing.TB, bin string, catalog *protocol.Catalog, args ...string) *Result {
	t.Helper()
	r := Run(t, bin, args...)
	ValidateProtocol(t, r)
	ValidateRecords(t, r, catalog)
	return r
}

// Succeeded fails the test unless r exited 0, and checks the lifecycle of
// every stream that reported a status.
func Succeeded(t testing.TB, r *Result) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("read exited %d: %v\n%s\n%s", r.Code, r.ErrorTraces(), r.Stderr, Tail(r.Stdout))
	}
	var names []string
	for name := range r.Statuses() {
		names = append(names, name)
	}
	CheckLifecycle(t, r, names)
}

// Warned reports a WARN log mentioning every part.
func (r *Result) Warned(parts ...string) bool {
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level == protocol.LevelWarn && containsAll(m.Log.Message, parts) {
			return true
		}
	}
	return false
}

// Logged reports a log line of level mentioning every part.
func (r *Result) Logged(level protocol.Level, parts ...string) bool {
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level == level && containsAll(m.Log.Message, parts) {
			return true
		}
	}
	return false
}

// ErrorsMentioning returns the ERROR traces mentioning every part.
func (r *Result) ErrorsMentioning(parts ...string) []*protocol.ErrorTrace {
	var out []*protocol.ErrorTrace
	for _, e := range r.ErrorTraces() {
		if containsAll(e.Message, parts) {
			out = append(out, e)
		}
	}
	return out
}

// FailedWith checks that r exited code with an ERROR trace first of the
// failure type ft whose message holds every part (the cause, the fix, a
// masked URL), and returns that trace: what a test of a bad input asserts.
func FailedWith(t testing.TB, r *Result, ft protocol.FailureType, code int, parts ...string) *protocol.ErrorTrace {
	t.Helper()
	if len(r.ErrorTraces()) == 0 {
		t.Fatalf("exit %d, no error trace\n%s", r.Code, r.Stderr)
	}
	tr := r.ErrorTraces()[0]
	for _, want := range parts {
		if !strings.Contains(tr.Message, want) {
			t.Errorf("error %q lacks %q", tr.Message, want)
		}
	}
	if tr.FailureType != ft || r.Code != code {
		t.Errorf("failure type %s, exit %d; want %s, exit %d", tr.FailureType, r.Code, ft, code)
	}
	return tr
}

// FinalStates returns each stream's last state body.
func (r *Result) FinalStates() map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for _, m := range r.Messages {
		if m.State != nil && m.State.Stream != nil {
			out[m.State.Stream.StreamDescriptor.Name] = m.State.Stream.StreamState
		}
	}
	return out
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// CheckPrimaryKeys fails for every stream of cat whose source-defined
// primary key, as JSON ([["account_id"],["transaction_key"]]), is not want's.
func CheckPrimaryKeys(t testing.TB, cat *protocol.Catalog, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, s := range cat.Streams {
		b, _ := json.Marshal(s.SourceDefinedPrimaryKey)
		got[s.Name] = string(b)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s primary key %s, want %s", name, got[name], w)
		}
	}
}

// CheckRun is Check that also returns the run, for tests that look at what
// else it printed (no secrets, say).
func CheckRun(t testing.TB, bin, config string) (*protocol.ConnectionStatus, *Result) {
	t.Helper()
	r := Run(t, bin, "check", "--config", config)
	ValidateProtocol(t, r)
	cs := r.OfType(protocol.TypeConnectionStatus)
	if r.Code != 0 || len(cs) != 1 {
		t.Fatalf("check: exit %d, stdout:\n%s", r.Code, r.Stdout)
	}
	return cs[0].ConnectionStatus, r
}
