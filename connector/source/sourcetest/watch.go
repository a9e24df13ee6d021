package sourcetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Watched is a read running in the background whose stdout is watched line
// by line, so a test can stop it at a chosen point (a KillPoint) and see
// what it printed up to there, as a destination would have received it.
type Watched struct {
	cmd    *exec.Cmd
	stream string
	code   int

	mu      sync.Mutex
	out     bytes.Buffer
	records int
	states  int
	lines   int           // complete lines printed
	changed chan struct{} // closed and replaced on every complete line
	done    chan struct{}
}

// KillPoint is when to stop a read: after its first Records records or
// States STATE messages of the watched stream, or Lines lines of any kind.
type KillPoint struct{ Records, States, Lines int }

func (k KillPoint) String() string {
	switch {
	case k.States > 0:
		return fmt.Sprintf("after %d states", k.States)
	case k.Lines > 0:
		return fmt.Sprintf("after %d lines", k.Lines)
	}
	return fmt.Sprintf("after %d records", k.Records)
}

// StartWatched runs bin with args in the background, counting the records
// and STATE messages of stream it prints; its stderr is dropped. The test's
// end kills it if it still runs.
func StartWatched(t testing.TB, stream, bin string, args ...string) *Watched {
	t.Helper()
	p := &Watched{cmd: exec.Command(bin, args...), stream: stream, changed: make(chan struct{}), done: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	Must(t, err, "stdout pipe")
	p.cmd.Stderr = io.Discard
	Must(t, p.cmd.Start(), "start")
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	go p.watch(stdout)
	return p
}

func (p *Watched) watch(r io.Reader) {
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
				case m.Record != nil && m.Record.Stream == p.stream:
					p.records++
				case m.State != nil && m.State.Stream != nil && m.State.Stream.StreamDescriptor.Name == p.stream:
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

// Changed is closed on the next complete line the read prints.
func (p *Watched) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// Pid is the read's process id.
func (p *Watched) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the read ended and all it printed was read.
func (p *Watched) Done() <-chan struct{} { return p.done }

// Code is the read's exit code once Done is closed: -1 for a read a
// signal ended.
func (p *Watched) Code() int { return p.code }

// WaitFor blocks until the read reached k, failing the test if it ended or
// took too long first.
func (p *Watched) WaitFor(t testing.TB, k KillPoint) {
	t.Helper()
	if !p.Reach(t, k) {
		t.Fatalf("the read ended before %s: make the fake slower", k)
	}
}

// Reach blocks until the read reached k, or ended first (false); it fails
// the test if that takes minutes.
func (p *Watched) Reach(t testing.TB, k KillPoint) bool {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		p.mu.Lock()
		reached := (k.Records > 0 && p.records >= k.Records) || (k.States > 0 && p.states >= k.States) || (k.Lines > 0 && p.lines >= k.Lines)
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

// Kill SIGKILLs the read. A read that ended on its own since the caller
// last looked (its watcher already waited for it) is left as it is: the
// kill points are chosen from its output, which the watcher reads behind
// the process, so "not ended yet" can be stale by the time the signal goes.
// Callers check what a kill should have left (the output, the states).
func (p *Watched) Kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("SIGKILL: %v", err)
	}
}

// Signal sends sig to the read.
func (p *Watched) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	Must(t, p.cmd.Process.Signal(sig), sig)
}

// Wait waits for the read to end and returns all it printed.
func (p *Watched) Wait(t testing.TB) []byte {
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

// Partial kills the read (unless it ended) and returns what it printed,
// its cut last line dropped: what a destination had received.
func (p *Watched) Partial(t testing.TB) *Result {
	t.Helper()
	select {
	case <-p.done:
	default:
		p.Kill(t)
	}
	return ParsePartial(t, p.Wait(t))
}

// RandomKills runs reads killed at random lines, as randomized kill tests
// do: each one is killed at a line drawn from 1 to Lines (about what a
// read prints: a first sync's, estimated by the test, at first), and a
// read that ends before its line sets Lines to what it printed, so the
// next draws fall within a read's length.
type RandomKills struct {
	Rng    *rand.Rand
	Lines  int
	Stream string // the stream whose records and states KillPoint counts
}

// Next starts bin with args, kills it at a random line (unless it ends
// first), checks what it printed against the protocol and returns it,
// whether it was killed, and the line drawn.
func (k *RandomKills) Next(t testing.TB, bin string, args ...string) (r *Result, killed bool, at int) {
	t.Helper()
	p := StartWatched(t, k.Stream, bin, args...)
	at = 1 + k.Rng.IntN(k.Lines)
	killed = p.Reach(t, KillPoint{Lines: at})
	r = p.Partial(t)
	if !killed {
		k.Lines = max(len(r.Messages), 2)
	}
	ValidateProtocol(t, r)
	return r, killed, at
}

// ParsePartial parses what a killed read printed: its last line may be cut
// short (a record still in the buffer when the process died), and is
// dropped.
func ParsePartial(t testing.TB, out []byte) *Result {
	t.Helper()
	if i := bytes.LastIndexByte(out, '\n'); i+1 < len(out) {
		out = out[:i+1]
	}
	return Parse(t, out)
}

// Seed is the seed of a randomized test: the value of the environment
// variable name when set (to repeat a run), else the clock's. It is logged
// with the way to repeat it.
func Seed(t testing.TB, name string) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(name); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		Must(t, err, name)
		seed = n
	}
	t.Logf("seed %d (%s=%d repeats it)", seed, name, seed)
	return seed
}

// States is what an orchestrator keeps between runs: each stream's last
// STATE, whichever run printed it. A run killed before it printed one for a
// stream leaves that stream's as it was, where a state file of the run's
// own states alone (Result.StateFile) would drop it.
type States struct{ last map[string]protocol.State }

// Apply keeps the stream states r printed.
func (s *States) Apply(r *Result) {
	for _, m := range r.Messages {
		if m.State != nil && m.State.Stream != nil {
			if s.last == nil {
				s.last = map[string]protocol.State{}
			}
			st := *m.State
			st.SourceStats = nil
			s.last[m.State.Stream.StreamDescriptor.Name] = st
		}
	}
}

// Args is the --state argument for the next run: none before any state.
func (s *States) Args(t testing.TB) []string {
	t.Helper()
	if len(s.last) == 0 {
		return nil
	}
	b, err := (&source.Summary{States: s.last}).StateFile()
	Must(t, err, "state file")
	return []string{"--state", WriteFile(t, "state.json", b)}
}
