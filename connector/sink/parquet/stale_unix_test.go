//go:build unix

package parquet

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStaleTemporariesOnlyTheSinksOwn: Open removes a killed run's
// temporaries (its part files' and its folder probe's) however recently it died (the directory's lock keeps every
// writer off), and nothing else: not a user's file of a name near theirs,
// not a link of their name nor what it names, not a folder of their name,
// not another user's file (checked when the test runs as root, which can
// give one away).
func TestStaleTemporariesOnlyTheSinksOwn(t *testing.T) {
	dir := t.TempDir()
	sdir := filepath.Join(dir, "kitchen")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		t.Fatal(err)
	}
	// After every file made here, the symbolic link among them (whose own
	// time cannot be set) too.
	start := time.Now().Add(2 * time.Second)
	old := start.Add(-time.Hour)
	write := func(name string, mt time.Time) string {
		t.Helper()
		p := filepath.Join(sdir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
		return p
	}
	removed := []string{
		write(".part-20240101T000000Z-00001.parquet.tmp", old),
		// Killed a second before this run: no minimum age under the lock.
		write(".part-20240101T000000Z-00002.parquet.tmp", start.Add(-time.Second)),
		// Killed between creating and removing its probe (probeWritable).
		write(".probe-2718281828.tmp", old),
	}
	kept := []string{
		write(".part-notes.parquet.tmp", old),                      // the user's, not a name the sink gives
		write(".part-20240101T000000Z-x1.parquet.tmp", old),        // nor this
		write(".part-20240101T000000Z-00003.parquet.tmp.bak", old), // nor this
		write(".probe-notes.tmp", old),                             // nor this
	}
	target := filepath.Join(dir, "precious.parquet")
	if err := os.WriteFile(target, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A link of a temporary's name: neither it nor the file it names goes.
	link := filepath.Join(sdir, ".part-20240101T000000Z-00004.parquet.tmp")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(target, old, old); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(sdir, ".part-20240101T000000Z-00005.parquet.tmp")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, target, link, folder)
	if os.Getuid() == 0 {
		other := write(".part-20240101T000000Z-00006.parquet.tmp", old)
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		kept = append(kept, other)
	} else {
		t.Log("not root: no file of another user's to check")
	}

	s, err := Open([]sourceStream{kitchen(t)}, Options{Dir: dir, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range removed {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: a killed run's temporary, not removed (%v)", filepath.Base(p), err)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: not the sink's temporary, removed (%v)", filepath.Base(p), err)
		}
	}
}
