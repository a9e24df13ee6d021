//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestStateFileLockNamesItsHolder: two commands take a state file's lock,
// FILE.lock, read --state-file and connect --reconnect --write --state,
// and a run refused by it names the one holding it, which the lock file
// records with its pid and start: a read started while connect moved the
// accounts' state said the file was "in use by another read", and told
// the user to give it another --state-file, where connect was at work;
// connect said "in use by a read" whoever held it. A lock file an older
// version wrote, which records no command, is still read: its holder is
// "another run".
func TestStateFileLockNamesItsHolder(t *testing.T) {
	e, hold, entered, release := newEnvHoldingTransactions(t)
	old := e.fake.RequisitionIDs()[0]
	state := filepath.Join(t.TempDir(), "state.json")
	lock := state + ".lock"
	cat := e.catalog(true, "transactions")
	cfg := e.configFile()
	e.read(cat, "--state-file", state)
	e.fake.ExpireRequisition(old)

	// holder is the run the lock file records.
	holder := func() (pid int, command string) {
		t.Helper()
		raw, err := os.ReadFile(lock)
		st.Must(t, err, "lock file")
		var h struct {
			PID     int    `json:"pid"`
			Command string `json:"command"`
		}
		if err := json.Unmarshal(raw, &h); err != nil || h.PID <= 0 {
			t.Fatalf("the lock file %s names no holder (%v): %q", lock, err, raw)
		}
		return h.PID, h.Command
	}
	// refused runs a read and a connect against the held state file: each
	// must exit 1 before any API call, saying what it was told.
	refused := func(holderDesc, read, readFix, connect string) {
		t.Helper()
		e.fake.ResetStats()
		r := st.Run(t, e.bin, "read", "--config", cfg, "--catalog", cat, "--state-file", state)
		traces := r.ErrorTraces()
		if r.Code != 1 || len(traces) != 1 || len(r.OfType(protocol.TypeRecord)) != 0 {
			t.Fatalf("a read while %s held the state: exit %d, %d ERROR traces, want 1 and 1\n%s", holderDesc, r.Code, len(traces), r.Stdout)
		}
		for _, want := range []string{"--state-file " + state + " is in use by " + read, "lock file " + lock, readFix} {
			if !strings.Contains(traces[0].Message, want) {
				t.Errorf("a read while %s held the state does not say %q:\n%s", holderDesc, want, traces[0].Message)
			}
		}
		if traces[0].FailureType != protocol.TransientError {
			t.Errorf("a read while %s held the state: failure_type %s, want transient_error", holderDesc, traces[0].FailureType)
		}
		_, stderr, code := st.Exec(t, e.bin, "connect", "--no-open", "--timeout", "5s", "--config", cfg, "--reconnect", old, "--state", state, "--write")
		for _, want := range []string{"--state " + state + " is in use by " + connect, "lock file " + lock, "Nothing was created at GoCardless"} {
			if code != 1 || !strings.Contains(string(stderr), want) {
				t.Errorf("connect while %s held the state: exit %d, want 1 saying %q; stderr:\n%s", holderDesc, code, want, stderr)
			}
		}
		if n := e.fake.Stats().Count(fake.RouteCreateAgreement); n != 0 {
			t.Errorf("connect created %d end-user agreement(s) while %s held the state", n, holderDesc)
		}
	}

	t.Run("older version", func(t *testing.T) {
		// What a lock file held its holder as before the command was
		// recorded, held by this test.
		st.Must(t, os.WriteFile(lock, []byte(`{"pid":4242,"started_at":"2026-12-01T10:00:00Z"}`+"\n"), 0o600), "lock file")
		f, err := os.Open(lock)
		st.Must(t, err, "lock file")
		defer f.Close()
		st.Must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB), "flock")
		refused("an older version's run", "another run (pid 4242, started 2026-12-01T10:00:00Z;",
			"wait for it to end, then run this read again", "another run (pid 4242, started 2026-12-01T10:00:00Z;")
	})

	t.Run("read", func(t *testing.T) {
		hold.Store(true)
		reading := st.Start(t, e.bin, "read", "--config", cfg, "--catalog", cat, "--state-file", state)
		select {
		case <-entered:
		case <-time.After(30 * time.Second):
			t.Fatalf("the read never called transactions: %s", reading.Stderr())
		}
		pid, command := holder()
		if command != "read" {
			t.Errorf("the lock file records the command %q, want read", command)
		}
		by := fmt.Sprintf("(pid %d, started ", pid)
		refused("a read", "another read "+by, "wait for that read to end, or give this one another --state-file",
			"a read "+by+"")
		close(release)
		hold.Store(false)
		reading.Wait() // its outcome is beside the point: the expired requisition fails it
	})

	t.Run("connect", func(t *testing.T) {
		// connect takes the lock before its first API call and holds it
		// while it waits for the consent.
		p := st.Start(t, e.bin, "connect", "--no-open", "--timeout", "60s", "--config", cfg, "--reconnect", old, "--state", state, "--write")
		link := p.WaitLine(st.OpenURL)[1]
		pid, command := holder()
		if command != "connect --reconnect" {
			t.Errorf("the lock file records the command %q, want connect --reconnect", command)
		}
		by := fmt.Sprintf("(pid %d, started ", pid)
		refused("connect", "a connect --reconnect "+by, "wait for it to end, then run this read again",
			"another connect --reconnect "+by)
		resp, err := http.PostForm(link, url.Values{"action": {"approve"}, "account": {"0", "1"}})
		st.Must(t, err, "consent at the bank")
		resp.Body.Close()
		if _, code := p.Wait(); code != 0 {
			t.Fatalf("the connect holding the state exited %d: %s", code, p.Stderr())
		}
		// Once it ended, the read runs, with the config it wrote.
		if r := st.Run(t, e.bin, "read", "--config", cfg, "--catalog", cat, "--state-file", state); r.Code != 0 {
			t.Errorf("a read after connect ended exited %d: %v", r.Code, r.ErrorTraces())
		}
	})
}

// newEnvHoldingTransactions is an env (5 transactions an account) whose
// fake holds every transactions call, once hold is set, until release is
// closed, sending on entered when it holds one: a read kept running
// while the test does what it must do under the read's lock.
func newEnvHoldingTransactions(t *testing.T) (e *env, hold *atomic.Bool, entered, release chan struct{}) {
	t.Helper()
	entered, release, hold = make(chan struct{}, 1), make(chan struct{}), new(atomic.Bool)
	e = newEnvWith(t, fake.Options{TransactionsPerAccount: 5}, func(_ *fake.Server, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hold.Load() && strings.Contains(r.URL.Path, "/transactions/") {
				select {
				case entered <- struct{}{}:
				default:
				}
				<-release
			}
			h.ServeHTTP(w, r)
		})
	})
	return e, hold, entered, release
}
