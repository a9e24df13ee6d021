//go:build unix

package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectWriteRemovesItsStaleTemporaries: a connect --write killed
// with SIGKILL between writing its temporary copy of the config and
// renaming it leaves .config.json.tmp-NNN beside the config, secrets and
// all, for good. The next connect --write removes it; and only such a
// file: named by that pattern, a regular file of this user's, last
// modified before the run began, and not locked by a writer still at
// work. A link, a name off the pattern, another file's temporary, a file
// modified since the run began and a locked one stay.
func TestConnectWriteRemovesItsStaleTemporaries(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	plain, err := os.ReadFile(e.configFile())
	st.Must(t, err, "config")
	st.Must(t, os.WriteFile(cfg, plain, 0o600), "config")
	old := time.Now().Add(-time.Hour)
	leave := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		st.Must(t, os.WriteFile(p, plain[:len(plain)/2], 0o600), name)
		st.Must(t, os.Chtimes(p, mtime, mtime), name)
		return p
	}
	stale := leave(".config.json.tmp-2718281828", old)
	staleProbe := leave(".config.json.tmp-1", old) // a killed CheckWritable's
	kept := []string{
		leave(".config.json.tmp-backup", old),
		leave(".config.json.tmp-12.bak", old),
		leave(".other.json.tmp-314159", old),
		leave(".config.json.tmp-777", time.Now().Add(time.Hour)), // modified after the run began
	}
	locked := leave(".config.json.tmp-4242", old) // a writer's, still at work
	f, err := os.Open(locked)
	st.Must(t, err, "open")
	defer f.Close()
	st.Must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB), "flock")
	target := leave("target.json", old)
	link := filepath.Join(dir, ".config.json.tmp-5")
	st.Must(t, os.Symlink(target, link), "symlink")
	kept = append(kept, locked, target, link)

	p := st.Start(t, e.bin, "connect", "--no-open", "--timeout", "30s", "--config", cfg, "--institution", "LHV_LHVBEE22", "--write")
	resp, err := http.PostForm(p.WaitLine(st.OpenURL)[1], url.Values{"action": {"approve"}, "account": {"0"}})
	st.Must(t, err, "consent at the bank")
	resp.Body.Close()
	if _, code := p.Wait(); code != 0 {
		t.Fatalf("connect --write exited %d: %s", code, p.Stderr())
	}
	r := parseResult(t, p)
	for _, gone := range []string{stale, staleProbe} {
		if _, err := os.Lstat(gone); !os.IsNotExist(err) {
			t.Errorf("%s, a killed run's temporary file, is still there (%v)", filepath.Base(gone), err)
		}
	}
	for _, k := range kept {
		if _, err := os.Lstat(k); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(k), err)
		}
	}
	entries, err := os.ReadDir(dir)
	st.Must(t, err, "dir")
	if len(entries) != 1+len(kept) {
		var names []string
		for _, en := range entries {
			names = append(names, en.Name())
		}
		t.Errorf("the folder holds %v, want config.json and the %d kept files", names, len(kept))
	}
	raw, err := os.ReadFile(cfg)
	st.Must(t, err, "config after --write")
	var after map[string]any
	st.Must(t, json.Unmarshal(raw, &after), "config after --write")
	if ids, _ := after["requisition_ids"].([]any); len(ids) == 0 || ids[len(ids)-1] != r.RequisitionID {
		t.Errorf("config after --write:\n%s", raw)
	}
}
