//go:build linux

package main

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestReconnectWritesTheStateAsAReadDoes: connect --reconnect --write
// rewrote the --state file through its config writer, its temporary copy
// named .state.json.tmp-NNN, which only a later connect's cleanup of a
// config of that name would remove: one killed mid-write (SIGKILL, an OOM
// kill, a power cut) left the whole state beside the file for good, since
// reads remove their own temporaries only (.state.json.NNN.tmp). connect
// now writes through the read's own writer: every file it creates beside
// the state is named as a read's are, it removes a killed writer's
// temporary as it takes the file's lock, as a read does, and a read
// removes what an earlier connect left under the old name. The files
// connect creates are watched with inotify, as they are renamed or removed
// within milliseconds.
func TestReconnectWritesTheStateAsAReadDoes(t *testing.T) {
	e := newEnv(t, fake.Options{TransactionsPerAccount: 5})
	old := e.fake.RequisitionIDs()[0]
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	cat := e.catalog(true, "accounts", "transactions")
	e.read(cat, "--state-file", state)
	e.fake.ExpireRequisition(old)

	stale := time.Now().Add(-time.Hour)
	leave := func(name string) string {
		p := filepath.Join(dir, name)
		st.Must(t, os.WriteFile(p, []byte(`[]`), 0o600), name)
		st.Must(t, os.Chtimes(p, stale, stale), name)
		return p
	}
	killedWrite := leave(".state.json.271828.tmp") // a killed read's (or connect's)

	created := watchCreated(t, dir)
	r := parseResult(t, e.consent(url.Values{"account": {"0", "1"}}, "--config", e.config(nil), "--reconnect", old, "--state", state, "--write"))
	readsOwn := regexp.MustCompile(`^\.state\.json\.[0-9]+\.(tmp|probe)$`)
	wrote := false
	for _, name := range created() {
		if name == "state.json" || name == "state.json.lock" {
			continue // renamed into place; the lock the read made
		}
		if !readsOwn.MatchString(name) {
			t.Errorf("connect created %s beside the state file: not a name a read gives its temporaries (.state.json.NNN.tmp, .probe), which a read's cleanup removes", name)
		}
		wrote = wrote || filepath.Ext(name) == ".tmp"
	}
	if !wrote {
		t.Errorf("connect wrote the state through no .state.json.NNN.tmp")
	}
	if _, err := os.Lstat(killedWrite); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("connect left %s, a killed writer's temporary, beside the state it locked (%v)", filepath.Base(killedWrite), err)
	}
	if r.Reconnect == nil || len(r.Reconnect.Mapping) != 2 {
		t.Fatalf("reconnect %+v, want both accounts mapped", r.Reconnect)
	}
	raw, err := os.ReadFile(state)
	st.Must(t, err, "state after connect")
	if !bytes.Contains(raw, []byte(r.Reconnect.Mapping[0].New)) {
		t.Errorf("the state does not hold the moved account %s:\n%.1500s", r.Reconnect.Mapping[0].New, raw)
	}

	killedConnect := leave(".state.json.tmp-161803") // a connect's before this one
	e.cfg["requisition_ids"] = []string{r.RequisitionID}
	e.read(cat, "--state-file", state)
	if _, err := os.Lstat(killedConnect); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the read left %s, an earlier connect's temporary copy of the state (%v)", filepath.Base(killedConnect), err)
	}
}

// watchCreated watches dir with inotify from now on; the function it
// returns lists the names created or moved into dir since, in order.
func watchCreated(t *testing.T, dir string) func() []string {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	st.Must(t, err, "inotify")
	t.Cleanup(func() { syscall.Close(fd) })
	_, err = syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE|syscall.IN_MOVED_TO)
	st.Must(t, err, "inotify watch")
	return func() []string {
		var names []string
		buf := make([]byte, 64<<10)
		for {
			n, err := syscall.Read(fd, buf)
			if errors.Is(err, syscall.EAGAIN) {
				return names
			}
			st.Must(t, err, "reading inotify events")
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
				if ev.Mask&syscall.IN_Q_OVERFLOW != 0 {
					t.Fatal("inotify's queue overflowed")
				}
				names = append(names, string(bytes.TrimRight(name, "\x00")))
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}
