package source

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInputFileWithABOM: a JSON file saved with a UTF-8 byte order mark (as
// Windows editors save it) is read as the JSON after it; it failed with
// "invalid character 'ï' looking for beginning of value".
func TestInputFileWithABOM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte("\ufeff{\"a\":1}"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := readInput("config", path)
	if err != nil || string(b) != `{"a":1}` {
		t.Fatalf("read %q, %v; want the JSON without its BOM", b, err)
	}
}

// TestDuplicateKey: a key given twice in one object is found wherever it
// is, by its path; equal keys in different objects are not duplicates.
func TestDuplicateKey(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,"b":2}`:                              "",
		`{"a":1,"a":2}`:                              "a",
		`{"a":{"b":1},"c":{"b":2}}`:                  "",
		`{"a":{"b":1,"b":1}}`:                        "a.b",
		`{"items":[{"id":"x"},{"id":"y","id":"z"}]}`: "items[1].id",
		`{"a":[[],{"k":[1,{"x":1,"x":2}]}]}`:         "a[1].k[1].x",
		`{"a\u0062":1,"ab":2}`:                       "ab",
	} {
		if got := duplicateKey([]byte(in)); got != want {
			t.Errorf("duplicateKey(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestInputFromAPipe: --config, --catalog and --state take a pipe, as
// `--config <(sops -d config.enc.json)` hands one over, so that a config
// can come from a secrets tool without touching the disk; they refused it
// as "not a regular file". A named pipe nobody writes to is refused at once
// instead of hanging the run, and --state-file, written back, still takes
// only a regular file.
func TestInputFromAPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := func(name string) string {
		path := filepath.Join(dir, name)
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Skipf("no named pipes here: %v", err)
		}
		return path
	}
	within := func(what string, fn func() ([]byte, error)) ([]byte, error) {
		t.Helper()
		type result struct {
			b   []byte
			err error
		}
		done := make(chan result, 1)
		go func() { b, err := fn(); done <- result{b, err} }()
		select {
		case r := <-done:
			return r.b, r.err
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still reading after 10 s", what)
			return nil, nil
		}
	}

	t.Run("a writer that writes late", func(t *testing.T) {
		path := fifo("config")
		// The writer opens the pipe first, as a shell's process
		// substitution does, and writes only later: the read waits for it.
		w, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(200 * time.Millisecond)
			_, _ = w.WriteString(`{"client_id":"x"}`)
			_ = w.Close()
		}()
		b, err := within("a pipe with a writer", func() ([]byte, error) { return readInput("config", path) })
		if err != nil || string(b) != `{"client_id":"x"}` {
			t.Fatalf("read %q, %v; want what the writer wrote", b, err)
		}
	})
	t.Run("nobody writes", func(t *testing.T) {
		path := fifo("catalog")
		_, err := within("a pipe nobody writes to", func() ([]byte, error) { return readInput("catalog", path) })
		if err == nil || FailureTypeOf(err) != "config_error" || !strings.Contains(err.Error(), "--catalog "+path+" is a pipe nothing wrote to") {
			t.Fatalf("got %v; want a config_error saying nothing wrote to the pipe", err)
		}
	})
	t.Run("state-file", func(t *testing.T) {
		path := fifo("state")
		_, err := within("--state-file", func() ([]byte, error) { return readInput("state-file", path) })
		if err == nil || !strings.Contains(err.Error(), "is not a regular file (it is a named pipe") {
			t.Fatalf("got %v; want --state-file to refuse a named pipe", err)
		}
	})
}
