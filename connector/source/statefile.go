package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

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

// stateFile is --state-file PATH: the state a cron job keeps between runs
// without a database. It is read at the start (an absent file is a first
// sync) and replaced at every checkpoint the run emits, atomically: a
// temporary file beside it (mode 0600: states name accounts), fsynced,
// renamed over it, and the directory fsynced, so a run killed at any moment
// leaves either the previous checkpoint's file or the new one, never a
// torn one.
type stateFile struct {
	path string

	mu     sync.Mutex
	states map[string]json.RawMessage // every stream's latest state, from load on
}

// load reads the file, or starts empty when it does not exist, and returns
// the states it holds.
func (f *stateFile) load(streams []Stream) (map[string]json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states = map[string]json.RawMessage{}
	dir := filepath.Dir(f.path)
	if _, err := os.Stat(f.path); errors.Is(err, fs.ErrNotExist) {
		if st, derr := os.Stat(dir); derr != nil || !st.IsDir() {
			return nil, ConfigErrorf("--state-file %s: directory %s does not exist; create it or choose another path", f.path, dir)
		}
		if err := probeWritable(f.path, dir); err != nil {
			return nil, err
		}
		return map[string]json.RawMessage{}, nil
	}
	if err := probeWritable(f.path, dir); err != nil {
		return nil, err
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

// probeWritable fails, before anything is read, when the file's directory
// takes no new file: every checkpoint is a temporary file renamed there,
// and a run that found out at its first one read every stream for nothing
// (and spent a bank's daily calls) with no state to show for it.
func probeWritable(path, dir string) error {
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.probe")
	if err != nil {
		return ConfigErrorf("--state-file %s: cannot write in directory %s (%v); make it writable for this user, or choose another path", path, dir, errors.Unwrap(err))
	}
	name := tmp.Name()
	_ = tmp.Close()
	return os.Remove(name)
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
	return writeFileAtomic(f.path, append(data, '\n'))
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, fsynced, renamed over path, and the directory fsynced so the
// rename itself survives a crash.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
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
