package main

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestDetailedExitCodes: with --detailed-exit-codes a failed read exits 75
// for a transient_error, 78 for a config_error and still 1 for a
// system_error, in the Airbyte and the Singer mode, so that a scheduler can
// retry the one and stop on the other without parsing the ERROR trace;
// without the flag every failure exits 1, as the protocol says, and a read
// that succeeds exits 0 either way.
func TestDetailedExitCodes(t *testing.T) {
	tap := tapBin(t)
	for _, c := range []struct {
		name   string
		faults fake.Faults
		over   map[string]any
		ft     protocol.FailureType
		want   int
	}{
		{"transient: 429 over the wait cap", fake.Faults{Status: map[string]int{"GET /v2/transactions": 429}, RetryAfterSeconds: 120},
			map[string]any{"max_rate_limit_wait_seconds": 1}, protocol.TransientError, 75},
		{"config: keys rejected", fake.Faults{Status: map[string]int{"POST /auth": 401}}, nil, protocol.ConfigError, 78},
		{"system: 501", fake.Faults{Status: map[string]int{"GET /v2/transactions": 501}}, nil, protocol.SystemError, 1},
		{"success", fake.Faults{}, nil, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 10})
			e.fake.SetFaults(c.faults)
			cat := e.catalog(true, core...)

			plain := e.readWith(c.over, cat)
			detailed := e.readWith(c.over, cat, "--detailed-exit-codes")
			if want := min(c.want, 1); plain.Code != want {
				t.Errorf("read without the flag exited %d, want %d", plain.Code, want)
			}
			if detailed.Code != c.want {
				t.Errorf("read --detailed-exit-codes exited %d, want %d", detailed.Code, c.want)
			}
			if c.want != 0 {
				traces := detailed.ErrorTraces()
				if len(traces) == 0 || traces[len(traces)-1].FailureType != c.ft {
					t.Errorf("the last ERROR trace is %+v, want a %s", traces, c.ft)
				}
			}

			cfg := e.config(c.over)
			for _, extra := range [][]string{nil, {"--detailed-exit-codes"}} {
				want := min(c.want, 1)
				if extra != nil {
					want = c.want
				}
				r := runSinger(t, false, tap, append([]string{"--config", cfg}, extra...)...)
				if r.code != want {
					t.Errorf("tap-pluggy %v exited %d, want %d\n%s", extra, r.code, want, st.Tail(r.stderr))
				}
				if c.want != 0 && !bytes.Contains(r.stderr, []byte("["+string(c.ft)+"]")) {
					t.Errorf("tap-pluggy %v: stderr does not name the %s\n%s", extra, c.ft, st.Tail(r.stderr))
				}
			}
		})
	}
}

// TestOverlappingReadExitCodes: a read that overlaps a slow one (a cron
// tick, say) exits 75 under --detailed-exit-codes when they share a
// --state-file, whose lock is taken first and whose holder ends, and 78
// when they share only a --parquet-dir: two reads configured to write one
// directory, as docs/commands.md says.
func TestOverlappingReadExitCodes(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 2, TransactionsPerAccount: 1000, PageSize: 50, Latency: 100 * time.Millisecond})
	cat := e.catalog(true, "accounts", "transactions")
	path := filepath.Join(t.TempDir(), "state.json")
	dir := t.TempDir()
	first := e.startRead(cat, "--state-file", path, "--parquet-dir", dir)
	first.WaitFor(t, killPoint{States: 1})

	both := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--state-file", path, "--parquet-dir", dir, "--detailed-exit-codes")
	dirOnly := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--parquet-dir", dir, "--detailed-exit-codes")
	select {
	case <-first.Done():
		t.Fatal("the first read ended before the others ran: make the fake slower")
	default:
	}
	for _, c := range []struct {
		name string
		r    *st.Result
		want int
	}{{"the same --state-file and --parquet-dir", both, 75}, {"the same --parquet-dir", dirOnly, 78}} {
		if c.r.Code != c.want {
			t.Errorf("%s: exited %d, want %d; %v", c.name, c.r.Code, c.want, c.r.ErrorTraces())
		}
	}
	if first.Wait(t); first.Code() != 0 {
		t.Fatalf("the first read exited %d", first.Code())
	}
}

// TestDiscoverDetailedExitCodes: discover takes the flag too. It calls no
// API, so its failure is an invalid config: 78 with the flag, 1 without.
func TestDiscoverDetailedExitCodes(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1})
	bad := e.config(map[string]any{"max_concurrency": 0})
	for _, c := range []struct {
		extra []string
		want  int
	}{{nil, 1}, {[]string{"--detailed-exit-codes"}, 78}} {
		r := st.Run(t, e.bin, append([]string{"discover", "--config", bad}, c.extra...)...)
		if r.Code != c.want {
			t.Errorf("discover %v with max_concurrency 0 exited %d, want %d; %v", c.extra, r.Code, c.want, r.ErrorTraces())
		}
	}
	if r := st.Run(t, e.bin, "discover", "--config", e.config(nil), "--detailed-exit-codes"); r.Code != 0 {
		t.Errorf("discover --detailed-exit-codes of a valid config exited %d", r.Code)
	}
}
