package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectWriteInterruptedAfterTheSession: Ctrl-C once the session is
// made, while connect --write looks up the configured sessions to decide
// what the new one replaces, stops the run with exit 1, writes nothing and
// names the new session, as the docs say of a stopped run. The lookups cut
// short used to read as "nothing to replace": connect added the session
// beside the expired one it renews (every later check and read failed on
// that one) and exited 0.
func TestConnectWriteInterruptedAfterTheSession(t *testing.T) {
	// Every answer takes long enough for the signal to land among the
	// lookups.
	e := newEnv(t, fake.Options{Sessions: 1, Latency: 800 * time.Millisecond})
	old := e.fake.SessionIDs()[0]
	e.fake.ExpireSession(old)
	cfg := e.connectConfig(nil)
	orig := e.mustRead(cfg)

	cmd := exec.Command(e.bin, "connect", "--config", cfg, "--country", "FI", "--aspsp", "nordea", "--no-open", "--write")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	errPipe, err := cmd.StderrPipe()
	st.Must(t, err, "stderr pipe")
	st.Must(t, cmd.Start(), "start")
	authorised := regexp.MustCompile(`^Enable Banking authorised session (\S+) `)
	sc := bufio.NewScanner(errPipe)
	var stderr strings.Builder
	var session string
	for sc.Scan() {
		line := sc.Text()
		stderr.WriteString(line + "\n")
		if m := st.OpenURL.FindStringSubmatch(line); m != nil {
			go func() { // its redirect's page waits for the run's outcome
				resp, err := http.PostForm(m[1], url.Values{"decision": {"authorise"}})
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		if m := authorised.FindStringSubmatch(line); m != nil {
			session = m[1]
			st.Must(t, cmd.Process.Signal(syscall.SIGINT), "signal")
		}
	}
	err = cmd.Wait()
	if session == "" {
		t.Fatalf("no session was authorised; stderr:\n%s", stderr.String())
	}
	msg := stderr.String()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || stdout.Len() != 0 || !strings.Contains(msg, "stopped by a signal (Ctrl-C or SIGTERM)") ||
		!strings.Contains(msg, "session "+session+" is authorised, but nothing was written") {
		t.Errorf("Ctrl-C after the session: %v, stdout %q, stderr:\n%s\nwant exit 1 naming the session and saying nothing was written", err, stdout.String(), msg)
	}
	if now := e.mustRead(cfg); string(now) != string(orig) {
		t.Errorf("the config changed:\n%s", now)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), ".*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
