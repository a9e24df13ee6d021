package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/internal/flock"
	"github.com/source-pluggy/source-pluggy/connector/internal/staletemp"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// StateStore is a Sink that keeps the streams' states itself: a database
// that commits each checkpoint's rows and state in one transaction. A read
// without --state resumes from the states it holds, which match its rows
// exactly.
type StateStore interface {
	// States returns each stream's last committed state.
	States() map[string]json.RawMessage
	// StateSource names where they are kept, for the run's log.
	StateSource() string
}

// StateDropper is a StateStore that can say how to delete one stream's
// stored state (a SQL statement, say), for the error about a stored state
// the connector refuses: the user passed no state file to fix.
type StateDropper interface {
	DropStateHint(stream string) string
}

// stateFile is --state-file PATH: the state a cron job keeps between runs
// without a database. It is read at the start (an absent file is a first
// sync) and replaced at every checkpoint the run emits, atomically: a
// temporary file beside it (mode 0600: states name accounts), fsynced,
// renamed over it, and the directory fsynced, so a run killed at any moment
// leaves either the previous checkpoint's file or the new one, never a
// torn one. One read at a time keeps it: load takes a lock on FILE.lock
// first, which a second read finds held (lockStateFile).
type stateFile struct {
	path string

	mu     sync.Mutex
	states map[string]json.RawMessage // every stream's latest state, from load on
}

// load takes the file's lock (see lockStateFile), then reads the file, or
// starts empty when it does not exist, and returns the states it holds.
func (f *stateFile) load(streams []Stream) (map[string]json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states = map[string]json.RawMessage{}
	path, err := resolveLink(f.path)
	if err != nil {
		return nil, ConfigErrorf("--state-file %s: %v; give the path of the state file itself", f.path, err)
	}
	f.path = path
	dir := filepath.Dir(f.path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, ConfigErrorf("--state-file %s: directory %s does not exist; create it or choose another path", f.path, dir)
	}
	if err := probeWritable(f.path, dir); err != nil {
		return nil, err
	}
	// Locked before the file is looked at: a run that finished between a
	// look and the lock would otherwise leave a file taken for absent.
	if err := lockStateFile(f.path); err != nil {
		return nil, err
	}
	// The lock held, no other read is writing beside the file: what
	// temporary files of it are there, a killed read left.
	staletemp.Remove(dir, stateTempPattern(f.path), stateProbePattern(f.path))
	if _, err := os.Stat(f.path); errors.Is(err, fs.ErrNotExist) {
		return map[string]json.RawMessage{}, nil
	}
	// The checks of every input file: a regular file (a FIFO would hang
	// the run), bounded, UTF-8.
	raw, err := readInput("state-file", f.path)
	if err != nil {
		return nil, err
	}
	states, err := ParseState(f.path, raw, streams)
	if err != nil {
		return nil, err
	}
	for name, st := range states {
		f.states[name] = st
	}
	return states, nil
}

// resolveLink follows path's symbolic links to the file they name, which
// need not exist yet (a first sync). Each checkpoint renames a new file
// over the path it is given, which replaced a link (state.json pointing
// into a mounted volume, say) with a file beside it: the file the link
// named kept the state of the run before, and a run that read it again
// (the next container) re-read what the checkpoints had covered.
func resolveLink(path string) (string, error) {
	for range 40 {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		target, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return "", errors.New("too many levels of symbolic links")
}

// stateLockSuffix names the lock file beside a --state-file: FILE.lock.
const stateLockSuffix = ".lock"

// heldStateLocks are the lock files this process holds, by absolute path:
// each is held until the process exits (the kernel drops a flock then,
// even on SIGKILL), which for the binary is the end of the read. A second
// read in the same process (tests) finds its lock already held by itself.
var heldStateLocks = struct {
	sync.Mutex
	files map[string]*os.File
}{files: map[string]*os.File{}}

// lockStateFile takes the exclusive lock on path's lock file, FILE.lock
// (mode 0600), for the rest of the run, or fails at once naming the read
// that holds it. Two reads of one --state-file each rewrote it with their
// own states: the second started from the first's half-written state, and
// whichever ended last left a state that need not describe what the other's
// output holds, so the next incremental run skipped rows for good. The lock
// file stays after the run, harmless: the lock, not the file, excludes.
func lockStateFile(path string) error {
	lock := path + stateLockSuffix
	key, err := filepath.Abs(lock)
	if err != nil {
		key = lock
	}
	heldStateLocks.Lock()
	defer heldStateLocks.Unlock()
	if heldStateLocks.files[key] != nil {
		return nil
	}
	f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return ConfigErrorf("--state-file %s: cannot open its lock file %s (%v); make it writable for this user, or choose another path", path, lock, errors.Unwrap(err))
	}
	if who, err := flock.Acquire(f, time.Now()); err != nil {
		f.Close()
		if errors.Is(err, flock.ErrLocked) {
			// transient_error, not the config_error of a bad path: nothing
			// in this run's command is wrong, the other read ends and the
			// same command then succeeds, so retrying later (what a
			// platform does with a transient error, and the next cron
			// tick) is the fix, not editing the config.
			return TransientErrorf("--state-file %s is in use by another read (%s; lock file %s): run one read per state file at a time: wait for that read to end, or give this one another --state-file. No stream was read and the state file was not touched",
				path, who, lock)
		}
		return fmt.Errorf("locking --state-file %s (%s): %w", path, lock, err)
	}
	heldStateLocks.files[key] = f
	return nil
}

// probeWritable fails, before anything is read, when the file's directory
// takes no new file: every checkpoint is a temporary file renamed there,
// and a run that found out at its first one read every stream for nothing
// (and spent a bank's daily calls) with no state to show for it.
func probeWritable(path, dir string) error {
	tmp, err := os.CreateTemp(dir, stateProbePattern(path))
	if err != nil {
		return ConfigErrorf("--state-file %s: cannot write in directory %s (%v); make it writable for this user, or choose another path", path, dir, errors.Unwrap(err))
	}
	name := tmp.Name()
	_ = tmp.Close()
	return os.Remove(name)
}

// stateTempPattern and stateProbePattern are os.CreateTemp's patterns for
// the temporary files beside a --state-file: each checkpoint's
// (.state.json.NNN.tmp) and probeWritable's (.state.json.NNN.probe). A read
// killed between creating one and renaming or removing it (SIGKILL, an
// OOM kill, a power cut) leaves it for good, the whole state in a
// checkpoint's, one more a crash; the next read's load removes them
// (staletemp.Remove).
func stateTempPattern(path string) string  { return "." + filepath.Base(path) + ".*.tmp" }
func stateProbePattern(path string) string { return "." + filepath.Base(path) + ".*.probe" }

// record takes a checkpoint of stream and rewrites the file.
func (f *stateFile) record(stream string, state json.RawMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[stream] = append(json.RawMessage(nil), state...)
	return f.writeLocked()
}

// writeLocked writes every stream's state as --state reads it: an array of
// STREAM state messages, by stream name.
func (f *stateFile) writeLocked() error {
	names := make([]string, 0, len(f.states))
	for name := range f.states {
		names = append(names, name)
	}
	sort.Strings(names)
	msgs := make([]protocol.State, 0, len(names))
	for _, name := range names {
		msgs = append(msgs, protocol.State{Type: protocol.StateStream, Stream: &protocol.StreamState{
			StreamDescriptor: protocol.StreamDescriptor{Name: name},
			StreamState:      f.states[name],
		}})
	}
	data, err := json.Marshal(msgs)
	if err != nil {
		return fmt.Errorf("encoding --state-file: %w", err)
	}
	return writeFileAtomic(f.path, append(data, '\n'))
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, fsynced, renamed over path, and the directory fsynced so the
// rename itself survives a crash.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, stateTempPattern(path))
	if err != nil {
		return fmt.Errorf("writing --state-file %s: %w", path, err)
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing --state-file %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing --state-file %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("writing --state-file %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("writing --state-file %s: syncing its directory: %w", path, err)
	}
	return nil
}

// stateFileEncoder writes every STATE the run emits to the encoder, then
// to the state file: the file never runs ahead of what the sinks hold, since
// a state reaches the encoder only once every sink has it durable, nor of
// what stdout delivered: the encoder's STATE flushes the records before it,
// and a stdout that broke there (a consumer gone) leaves the file at the
// state before, so the next run reads those records again instead of
// skipping them. It takes every state as bytes (it has no StateFrom), since
// the file needs them whole anyway.
type stateFileEncoder struct {
	Encoder
	file *stateFile
}

func (e *stateFileEncoder) State(stream string, state json.RawMessage, recordCount int64) error {
	if err := e.Encoder.State(stream, state, recordCount); err != nil {
		return err
	}
	return e.file.record(stream, state)
}

// quietStates is read --no-states: an Encoder that prints no STATE, for a
// cron job whose log would otherwise hold the whole state at every
// checkpoint (megabytes a run for a few hundred accounts). The state is
// kept by --state-file or a StateStore, which the run requires. A state
// still flushes the records printed before it, so that a state file, which
// is written after, never runs ahead of what stdout delivered.
type quietStates struct{ Encoder }

func (q quietStates) State(string, json.RawMessage, int64) error { return q.Encoder.Flush() }

// StateFrom drops the state without encoding it: with a StateStore and no
// state file, nothing needs its bytes.
func (q quietStates) StateFrom(string, func(io.Writer) error, int64) error {
	return q.Encoder.Flush()
}
