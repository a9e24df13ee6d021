package sourcetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// Process is a binary running in the background, for commands a test must
// talk to while they run (connect waits for a browser). Its stderr is read
// line by line as it comes, so a test can wait for a line such as the URL a
// command prints.
type Process struct {
	t      testing.TB
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stdout bytes.Buffer
	done   chan struct{}
	code   int

	mu     sync.Mutex
	stderr bytes.Buffer
	lines  chan string
}

// Start runs bin with args in the background under a 5-minute limit; the
// test's end kills it if it still runs.
func Start(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	p := &Process{t: t, cancel: cancel, done: make(chan struct{}), lines: make(chan string, 1024)}
	p.cmd = exec.CommandContext(ctx, bin, args...)
	p.cmd.Stdout = &p.stdout
	errPipe, err := p.cmd.StderrPipe()
	Must(t, err, "stderr pipe")
	Must(t, p.cmd.Start(), "starting ", bin)
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- line:
			default:
			}
		}
		_, _ = io.Copy(io.Discard, errPipe)
		err := p.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			p.code = ee.ExitCode()
		default:
			p.code = -1
		}
		close(p.lines)
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// WaitLine waits for a stderr line matching re and returns its submatches
// (the whole line first). It fails the test if the process ends first or
// nothing matches within 2 minutes.
func (p *Process) WaitLine(re *regexp.Regexp) []string {
	p.t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("the process ended (exit %d) without printing a line matching %s; stderr:\n%s", p.code, re, p.Stderr())
			}
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-timeout:
			p.t.Fatalf("no stderr line matching %s within 2 minutes; stderr:\n%s", re, p.Stderr())
		}
	}
}

// Wait waits for the process to end and returns its stdout and exit code.
func (p *Process) Wait() (stdout string, code int) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(5 * time.Minute):
		p.t.Fatalf("the process did not end; stderr:\n%s", p.Stderr())
	}
	return p.stdout.String(), p.code
}

// Stderr is what the process printed on stderr so far.
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// OpenURL is the URL a connect command tells the user to open ("Open URL
// ..." on stderr).
var OpenURL = regexp.MustCompile(`^Open (http://\S+)`)

// StderrHas reports whether the process's stderr contains s.
func (p *Process) StderrHas(s string) bool { return strings.Contains(p.Stderr(), s) }

// Check runs `check --config config` and returns its one CONNECTION_STATUS,
// after validating the output against the protocol schema.
func Check(t testing.TB, bin, config string) *protocol.ConnectionStatus {
	t.Helper()
	cs, _ := CheckRun(t, bin, config)
	return cs
}

// ExitCase is one run of a command that must end with Code and print a
// line containing Stderr.
type ExitCase struct {
	Name   string
	Args   []string
	Code   int
	Stderr string
}

// ExpectExits runs bin with prefix and each case's args, as a subtest per
// case; also, if not nil, checks each stderr further (no secrets, say).
func ExpectExits(t *testing.T, bin string, prefix []string, cases []ExitCase, also func(t *testing.T, stderr string)) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			_, stderr, code := Exec(t, bin, append(append([]string(nil), prefix...), c.Args...)...)
			t.Logf("stderr: %s", stderr)
			if code != c.Code || !strings.Contains(string(stderr), c.Stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr, c.Code, c.Stderr)
			}
			if also != nil {
				also(t, string(stderr))
			}
		})
	}
}
