//go:build unix

package main

import (
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestStateFileReadRemovesItsStaleTemporaries: a read killed with SIGKILL
// between creating a checkpoint's temporary file (.state.json.NNN.tmp, the
// whole state) or its writability probe (.state.json.NNN.probe) and
// renaming or removing it leaves it beside the state file for good, one
// more a crash. The next read given that --state-file removes them once it
// holds the file's lock (a read that finds the lock held touches nothing);
// and only such files: named by those patterns, regular files of this
// user's, last modified before the run began and over a minute ago. A
// link, names off the patterns, another file's temporary and files
// modified under a minute ago or since the run began stay.
func TestStateFileReadRemovesItsStaleTemporaries(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 20})
	cat := e.catalog(true, "accounts", "transactions")
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	e.read(cat, "--state-file", path)
	state, err := os.ReadFile(path)
	st.Must(t, err, "state file")

	old := time.Now().Add(-time.Hour)
	leave := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		st.Must(t, os.WriteFile(p, state, 0o600), name)
		st.Must(t, os.Chtimes(p, mtime, mtime), name)
		return p
	}
	stale := []string{
		leave(".state.json.2718281828.tmp", old),
		leave(".state.json.1.tmp", old),
		leave(".state.json.31415.probe", old),
	}
	kept := []string{
		leave(".state.json.backup.tmp", old),
		leave(".state.json.12.tmp.bak", old),
		leave(".state.json..tmp", old),
		leave("state.json.12.tmp", old),
		leave(".other.json.314159.tmp", old),
		leave(".state.json.777.tmp", time.Now().Add(time.Hour)),       // modified after the run began
		leave(".state.json.888.tmp", time.Now().Add(-30*time.Second)), // under a minute ago
	}
	target := leave("target.json", old)
	link := filepath.Join(dir, ".state.json.5.tmp")
	st.Must(t, os.Symlink(target, link), "symlink")
	kept = append(kept, target, link)

	// A read that finds the state file's lock held by another removes
	// nothing: that read may be writing a checkpoint's temporary file.
	lock, err := os.OpenFile(path+".lock", os.O_RDWR, 0)
	st.Must(t, err, "lock file")
	st.Must(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB), "flock")
	if r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", cat, "--state-file", path); r.Code != 1 {
		t.Fatalf("a read while the lock is held exited %d, want 1\n%s", r.Code, r.Stderr)
	}
	for _, p := range append(stale, kept...) {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed by a read that did not hold the lock: %v", filepath.Base(p), err)
		}
	}
	lock.Close()

	e.read(cat, "--state-file", path)
	for _, gone := range stale {
		if _, err := os.Lstat(gone); !os.IsNotExist(err) {
			t.Errorf("%s, a killed read's temporary file, is still there (%v)", filepath.Base(gone), err)
		}
	}
	for _, k := range kept {
		if _, err := os.Lstat(k); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(k), err)
		}
	}
	entries, err := os.ReadDir(dir)
	st.Must(t, err, "dir")
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	if len(names) != 2+len(kept) {
		sort.Strings(names)
		t.Errorf("the folder holds %v, want state.json, state.json.lock and the %d kept files", names, len(kept))
	}
}
