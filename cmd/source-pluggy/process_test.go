package main

import (
	"bufio"
	"bytes"
	"errors"
	"os/exec"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// proc is a read running in the background whose stdout is watched line by
// line, so a test can stop it at a chosen point; killPoint is such a point.
type (
	proc      = st.Watched
	killPoint = st.KillPoint
)

func (e *env) startRead(catalog string, extra ...string) *proc {
	e.t.Helper()
	return e.start(append([]string{"read", "--config", e.config(nil), "--catalog", catalog}, extra...)...)
}

// start runs the binary with args in the background, watching its stdout
// for transactions records and states.
func (e *env) start(args ...string) *proc {
	e.t.Helper()
	return st.StartWatched(e.t, "transactions", e.bin, args...)
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
