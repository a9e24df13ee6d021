package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestStateFileKeepsEveryStream: an absent file is a first sync; each
// checkpoint rewrites the whole file (mode 0600, no temporary left behind)
// with every stream's latest state, and the next run reads it back.
func TestStateFileKeepsEveryStream(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	streams := []Stream{stubStream{name: "a"}, stubStream{name: "b"}}
	f := &stateFile{path: path}
	states, err := f.load(streams)
	if err != nil || len(states) != 0 {
		t.Fatalf("absent file: %v, %v", states, err)
	}
	for _, st := range []struct{ stream, state string }{{"a", `{"n":1}`}, {"b", `{"m":1}`}, {"a", `{"n":2}`}} {
		if err := f.record(st.stream, json.RawMessage(st.state)); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, mode %v", err, fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 { // the state file and its lock file, state.json.lock
		t.Errorf("%d files in the directory, want only the state file and its lock file", len(entries))
	}
	again := &stateFile{path: path}
	states, err = again.load(streams)
	if err != nil || string(states["a"]) != `{"n":2}` || string(states["b"]) != `{"m":1}` {
		t.Fatalf("read back %v, %v", states, err)
	}
	// A run of stream b only keeps a's state.
	if err := again.record("b", json.RawMessage(`{"m":2}`)); err != nil {
		t.Fatal(err)
	}
	states, _ = (&stateFile{path: path}).load(streams)
	if string(states["a"]) != `{"n":2}` || string(states["b"]) != `{"m":2}` {
		t.Fatalf("after a run of b: %v", states)
	}
}

// TestStateFileFollowsItsLink: a --state-file that is a symbolic link
// (into a mounted volume, say) keeps the state in the file it names, also
// before that file exists; each checkpoint replaced the link with a file of
// its own, and the file the link named kept the run before's state.
func TestStateFileFollowsItsLink(t *testing.T) {
	dir := t.TempDir()
	volume := filepath.Join(dir, "volume")
	if err := os.Mkdir(volume, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "state.json")
	if err := os.Symlink(filepath.Join("volume", "state.json"), link); err != nil {
		t.Fatal(err)
	}
	streams := []Stream{stubStream{name: "a"}}
	for i, want := range []string{"", `{"n":1}`} {
		f := &stateFile{path: link}
		states, err := f.load(streams)
		if err != nil || string(states["a"]) != want {
			t.Fatalf("run %d read %s (%v), want %q", i+1, states["a"], err, want)
		}
		if err := f.record("a", json.RawMessage(fmt.Sprintf(`{"n":%d}`, i+1))); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("run %d: the link became %v (%v)", i+1, fi.Mode(), err)
		}
		raw, err := os.ReadFile(filepath.Join(volume, "state.json"))
		if err != nil || !strings.Contains(string(raw), fmt.Sprintf(`{"n":%d}`, i+1)) {
			t.Fatalf("run %d: the linked file holds %s (%v)", i+1, raw, err)
		}
	}
}

func TestStateFileBadPaths(t *testing.T) {
	streams := []Stream{stubStream{name: "a"}}
	_, err := (&stateFile{path: filepath.Join(t.TempDir(), "missing", "state.json")}).load(streams)
	if err == nil || FailureTypeOf(err) != "config_error" || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing directory: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(bad, []byte(`[{"type":"STREAM","stream":{"stream_descriptor":{"name":"zzz"},"stream_state":{}}}]`), 0o600)
	if _, err := (&stateFile{path: bad}).load(streams); err == nil || !strings.Contains(err.Error(), "zzz") {
		t.Errorf("a state for an unknown stream: %v", err)
	}
	// A directory that takes no new file fails before anything is read:
	// the first checkpoint found out before, after a whole stream was
	// read. /proc/self takes no file even for root, whom a chmod 0500
	// directory does not stop.
	if runtime.GOOS == "linux" {
		_, err := (&stateFile{path: "/proc/self/state.json"}).load(streams)
		if err == nil || FailureTypeOf(err) != "config_error" || !strings.Contains(err.Error(), "cannot write in directory /proc/self") {
			t.Errorf("an unwritable directory: %v", err)
		}
	}
}

// brokenStdout is an encoder whose STATE fails, as a write to a stdout
// whose reader is gone does.
type brokenStdout struct{ Encoder }

func (brokenStdout) State(string, json.RawMessage, int64) error {
	return errors.New("write /dev/stdout: broken pipe")
}

// TestStateFileNeverAheadOfStdout: a STATE that stdout could not take (its
// records, flushed with it, never reached the consumer) does not reach the
// file: the next run starts from the state before, and reads those
// records again rather than skip them.
func TestStateFileNeverAheadOfStdout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f := &stateFile{path: path}
	if _, err := f.load([]Stream{stubStream{name: "a"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.record("a", json.RawMessage(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	e := &stateFileEncoder{Encoder: brokenStdout{}, file: f}
	if err := e.State("a", json.RawMessage(`{"n":2}`), 5); err == nil {
		t.Fatal("the broken stdout's error was lost")
	}
	states, err := (&stateFile{path: path}).load([]Stream{stubStream{name: "a"}})
	if err != nil || string(states["a"]) != `{"n":1}` {
		t.Fatalf("the file holds %s (%v) after stdout refused {\"n\":2}; want the state before", states["a"], err)
	}
}
