package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// proc is a read running in the background whose stdout is watched line by
// line, so a test can stop it at a chosen point.
type proc struct {
	cmd  *exec.Cmd
	code int

	mu      sync.Mutex
	out     bytes.Buffer
	records int
	states  int
	lines   int           // complete lines printed
	changed chan struct{} // closed and replaced on every complete line
	done    chan struct{}
}

// killPoint is when to stop a read: after its first n records, n
// transactions STATE messages or n lines of any kind.
type killPoint struct{ records, states, lines int }

func (k killPoint) String() string {
	switch {
	case k.states > 0:
		return fmt.Sprintf("after %d states", k.states)
	case k.lines > 0:
		return fmt.Sprintf("after %d lines", k.lines)
	}
	return fmt.Sprintf("after %d records", k.records)
}

func (e *env) startRead(catalog string, extra ...string) *proc {
	e.t.Helper()
	return e.start(append([]string{"read", "--config", e.config(nil), "--catalog", catalog}, extra...)...)
}

// start runs the binary with args in the background, watching its stdout.
func (e *env) start(args ...string) *proc {
	e.t.Helper()
	p := &proc{cmd: exec.Command(e.bin, args...), changed: make(chan struct{}), done: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	st.Must(e.t, err, "stdout pipe")
	p.cmd.Stderr = io.Discard
	st.Must(e.t, p.cmd.Start(), "start")
	e.t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	go p.watch(stdout)
	return p
}

func (p *proc) watch(r io.Reader) {
	defer close(p.done)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		p.mu.Lock()
		p.out.Write(line)
		if len(line) > 0 && line[len(line)-1] == '\n' {
			p.lines++
			var m protocol.Message
			if json.Unmarshal(line, &m) == nil {
				switch {
				case m.Record != nil && m.Record.Stream == "transactions":
					p.records++
				case m.State != nil && m.State.Stream != nil && m.State.Stream.StreamDescriptor.Name == "transactions":
					p.states++
				}
			}
			close(p.changed)
			p.changed = make(chan struct{})
		}
		p.mu.Unlock()
		if err != nil {
			err = p.cmd.Wait()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				p.code = ee.ExitCode()
			}
			return
		}
	}
}

// waitFor blocks until the read reached k, failing the test if it ended or
// took too long first.
func (p *proc) waitFor(t *testing.T, k killPoint) {
	t.Helper()
	if !p.reach(t, k) {
		t.Fatalf("the read ended before %s: make the fake slower", k)
	}
}

// reach blocks until the read reached k, or ended first (false); it fails
// the test if that takes minutes.
func (p *proc) reach(t *testing.T, k killPoint) bool {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		p.mu.Lock()
		reached := (k.records > 0 && p.records >= k.records) || (k.states > 0 && p.states >= k.states) || (k.lines > 0 && p.lines >= k.lines)
		ch := p.changed
		p.mu.Unlock()
		if reached {
			return true
		}
		select {
		case <-ch:
		case <-p.done:
			return false
		case <-deadline:
			t.Fatalf("the read never got %s", k)
		}
	}
}

// kill SIGKILLs the read. A read that ended on its own since the caller
// last looked (its watcher already waited for it) is left as it is: the
// kill points are chosen from its output, which the watcher reads behind
// the process, so "not ended yet" can be stale by the time the signal goes.
// Callers check what a kill should have left (the output, the states).
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("SIGKILL: %v", err)
	}
}

func (p *proc) signal(t *testing.T, name string) {
	t.Helper()
	sig := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT}[name]
	st.Must(t, p.cmd.Process.Signal(sig), "SIG"+name)
}

// wait waits for the process to end and returns all it printed.
func (p *proc) wait(t *testing.T) []byte {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the read did not end within 30 s of the signal")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.out.Bytes()...)
}

// parsePartial parses what a killed read printed: its last line may be cut
// short (a record still in the buffer when the process died), and is dropped.
func parsePartial(t *testing.T, out []byte) *st.Result {
	t.Helper()
	if i := bytes.LastIndexByte(out, '\n'); i+1 < len(out) {
		out = out[:i+1]
	}
	return st.Parse(t, out)
}

// TestStdoutClosedByItsReader: a reader that goes away mid-read (a Singer
// target that failed, `| head`) stops the run with exit 1 and a line on
// stderr saying why, in both protocols; the Go runtime's default was to
// die by SIGPIPE (exit 141) without a word.
func TestStdoutClosedByItsReader(t *testing.T) {
	// Far more output than a pipe holds (64 KiB), so the read is still
	// writing when its reader goes.
	e := newEnv(t, fake.Options{Items: 2, TransactionsPerAccount: 2000})
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"airbyte", []string{"read", "--config", e.config(nil), "--catalog", e.catalog(false)}, "source-pluggy: writing to stdout: "},
		{"singer", []string{"singer", "--config", e.config(nil)}, "CRITICAL writing to stdout: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(e.bin, c.args...)
			stdout, err := cmd.StdoutPipe()
			st.Must(t, err, "stdout pipe")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			st.Must(t, cmd.Start(), "start")
			if _, err := bufio.NewReader(stdout).ReadBytes('\n'); err != nil {
				t.Fatalf("first line: %v", err)
			}
			_ = stdout.Close()
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("wait: %v; want exit 1\n%s", err, stderr.String())
			}
			if !bytes.Contains(stderr.Bytes(), []byte(c.want)) || !bytes.Contains(stderr.Bytes(), []byte("broken pipe")) {
				t.Fatalf("stderr does not say stdout went away (%q):\n%s", c.want, stderr.String())
			}
		})
	}
}
