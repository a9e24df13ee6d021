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
// first, which a second read finds held (LockStateFile).
type stateFile struct {
	path string
	lock *StateFileLock // from load on

	mu     sync.Mutex
	states map[string]json.RawMessage // every stream's latest state, from load on
}

// load takes the file's lock (LockStateFile), then reads the file, or
// starts empty when it does not exist, and returns the states it holds.
func (f *stateFile) load(streams []Stream) (map[string]json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states = map[string]json.RawMessage{}
	lock, err := LockStateFile(CommandRead, "--state-file", f.path)
	if err != nil {
		var inUse *StateFileInUseError
		if errors.As(err, &inUse) {
			// transient_error, not the config_error of a bad path: nothing
			// in this run's command is wrong, the other run ends and the
			// same command then succeeds, so retrying later (what a
			// platform does with a transient error, and the next cron
			// tick) is the fix, not editing the config.
			fix := "wait for it to end, then run this read again"
			if inUse.Command == CommandRead {
				// Another state file is a fix only beside a read: connect
				// is moving accounts' state in this one.
				fix = "run one read per state file at a time: wait for that read to end, or give this one another --state-file"
			}
			return nil, TransientErrorf("--state-file %s is in use by %s (%s; lock file %s): %s. No stream was read and the state file was not touched",
				inUse.Path, inUse.HeldBy(CommandRead), inUse.Holder, inUse.Lock, fix)
		}
		return nil, err
	}
	f.path = lock.Path()
	f.lock = lock // held until the process exits
	// Looked at once locked: a run that finished between a look and the
	// lock would otherwise leave a file taken for absent.
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

// heldStateLocks are the state files' locks this process holds, by the
// lock file's absolute path: a read holds its lock until the process exits
// (the kernel drops a flock then, even on SIGKILL), which for the binary is
// the end of the read. A second read in the same process (tests) finds its
// lock already held by itself.
var heldStateLocks = struct {
	sync.Mutex
	files map[string]*os.File
}{files: map[string]*os.File{}}

// StateFileLock is a state file's lock, held: FILE.lock beside it, which
// every writer of the file takes, without waiting, before it reads it and
// holds until it is done writing: a read of --state-file for its whole run,
// connect --reconnect --write for as long as it moves accounts' state in
// it. Two writers of one file each rewrote it with the states they held:
// a read's checkpoint put back what connect had just moved, or two reads'
// states that need not describe what the other's output holds, and the
// next incremental run re-read or skipped rows for good. The lock file
// stays after the run, harmless: the lock, not the file, excludes.
type StateFileLock struct {
	flag string   // the option that named the file, for errors
	path string   // the state file itself, its links followed
	key  string   // the lock file's absolute path, heldStateLocks' key
	file *os.File // nil where this process held the lock already
}

// The commands that take a state file's lock, as LockStateFile records
// them in the lock file for the run it refuses to name.
const (
	CommandRead      = "read"                // read --state-file
	CommandReconnect = "connect --reconnect" // source-gocardless-bank-data connect --reconnect --write --state
)

// StateFileInUseError is LockStateFile's error when another process holds
// the lock: each writer says in its own words what to do.
type StateFileInUseError struct {
	Path   string // the state file, its links followed
	Lock   string // its lock file
	Holder string // the run holding it, as the lock file names it ("pid 4242, started …")
	// Command is what the run holding it does (CommandRead,
	// CommandReconnect), as the lock file records it; empty where it
	// records none (written by an older version).
	Command string
}

// HeldBy names the run holding the lock for a run of command self that
// it refuses: "another read" (self's own command), "a connect
// --reconnect" (another), or "another run" where the lock file records no
// command.
func (e *StateFileInUseError) HeldBy(self string) string {
	switch e.Command {
	case "":
		return "another run"
	case self:
		return "another " + self
	default:
		return "a " + e.Command
	}
}

func (e *StateFileInUseError) Error() string {
	return fmt.Sprintf("%s is in use by %s (%s; lock file %s)", e.Path, e.HeldBy(""), e.Holder, e.Lock)
}

// LockStateFile takes the lock of the state file at path (see
// StateFileLock) for a run of command (CommandRead, CommandReconnect),
// which it records in the lock file for a run it refuses to name, flag
// being the option that named it (--state-file, --state), for the errors. path's symbolic links are followed first
// (resolveLink): the lock is the file's, whatever link names it, and the
// file is written where the link points. Before it locks, the file's
// directory must exist and take a new file (probeWritable), so that no
// writer finds out at its first write, after a whole stream was read or a
// bank linked. Once it holds the lock, no other writer is at work beside
// the file: it removes the temporary files killed ones left
// (staleStatePatterns). When another process holds the lock, the error is
// a *StateFileInUseError, without waiting.
func LockStateFile(command, flag, path string) (*StateFileLock, error) {
	file, err := resolveLink(path)
	if err != nil {
		return nil, ConfigErrorf("%s %s: %v; give the path of the state file itself", flag, path, err)
	}
	dir := filepath.Dir(file)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, ConfigErrorf("%s %s: directory %s does not exist; create it or choose another path", flag, file, dir)
	}
	if err := probeWritable(flag, file, dir); err != nil {
		return nil, err
	}
	l := &StateFileLock{flag: flag, path: file}
	lock := file + stateLockSuffix
	if l.key, err = filepath.Abs(lock); err != nil {
		l.key = lock
	}
	heldStateLocks.Lock()
	defer heldStateLocks.Unlock()
	if heldStateLocks.files[l.key] == nil {
		f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, ConfigErrorf("%s %s: cannot open its lock file %s (%v); make it writable for this user, or choose another path", flag, file, lock, errors.Unwrap(err))
		}
		if who, err := flock.Acquire(f, time.Now(), command); err != nil {
			f.Close()
			if errors.Is(err, flock.ErrLocked) {
				return nil, &StateFileInUseError{Path: file, Lock: lock, Holder: who.String(), Command: who.Command}
			}
			return nil, fmt.Errorf("locking %s %s (%s): %w", flag, file, lock, err)
		}
		heldStateLocks.files[l.key] = f
		l.file = f
	}
	staletemp.Remove(dir, staleStatePatterns(file)...)
	return l, nil
}

// Path is the state file itself, its links followed: the file to read and
// Write.
func (l *StateFileLock) Path() string { return l.path }

// Write replaces the state file with data, atomically (writeFileAtomic).
func (l *StateFileLock) Write(data []byte) error {
	return writeFileAtomic(l.flag, l.path, data)
}

// Release lets go of the lock: a writer done with the file before its
// process ends (connect). A lock this process held already stays held.
func (l *StateFileLock) Release() {
	if l.file == nil {
		return
	}
	heldStateLocks.Lock()
	defer heldStateLocks.Unlock()
	if heldStateLocks.files[l.key] == l.file {
		delete(heldStateLocks.files, l.key)
	}
	l.file.Close()
	l.file = nil
}

// probeWritable fails, before anything is read, when the file's directory
// takes no new file: every checkpoint is a temporary file renamed there,
// and a run that found out at its first one read every stream for nothing
// (and spent a bank's daily calls) with no state to show for it.
func probeWritable(flag, path, dir string) error {
	tmp, err := os.CreateTemp(dir, stateProbePattern(path))
	if err != nil {
		return ConfigErrorf("%s %s: cannot write in directory %s (%v); make it writable for this user, or choose another path", flag, path, dir, errors.Unwrap(err))
	}
	name := tmp.Name()
	_ = tmp.Close()
	return os.Remove(name)
}

// stateTempPattern and stateProbePattern are os.CreateTemp's patterns for
// the temporary files beside a state file: each write's (.state.json.NNN.tmp)
// and probeWritable's (.state.json.NNN.probe). A writer killed between
// creating one and renaming or removing it (SIGKILL, an OOM kill, a power
// cut) leaves it for good, the whole state in a write's, one more a crash;
// the next LockStateFile removes them (staletemp.Remove).
func stateTempPattern(path string) string  { return "." + filepath.Base(path) + ".*.tmp" }
func stateProbePattern(path string) string { return "." + filepath.Base(path) + ".*.probe" }

// staleStatePatterns are the patterns of the temporary files beside a
// state file that LockStateFile removes once it holds the lock: those of
// every writer of the file, which all write through writeFileAtomic, and
// .state.json.tmp-NNN, which connect --reconnect --write left before it
// did (it wrote the moved state through its config writer, whose own
// cleanup covers only a config's name, and no read removed them).
func staleStatePatterns(path string) []string {
	return []string{stateTempPattern(path), stateProbePattern(path), "." + filepath.Base(path) + ".tmp-"}
}

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
	return f.lock.Write(append(data, '\n'))
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory (stateTempPattern, mode 0600: states name accounts), fsynced,
// renamed over path, and the directory fsynced so the rename itself
// survives a crash. flag names the option that gave path, for errors.
func writeFileAtomic(flag, path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, stateTempPattern(path))
	if err != nil {
		return fmt.Errorf("writing %s %s: %w", flag, path, err)
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s %s: %w", flag, path, err)
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
		return fmt.Errorf("writing %s %s: %w", flag, path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("writing %s %s: %w", flag, path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("writing %s %s: syncing its directory: %w", flag, path, err)
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
