package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source/browsertest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// These tests run `source-pluggy connect` as a user would, against the fake
// Pluggy API, and drive its page in a real headless Chromium: the fake
// serves a stand-in for the Connect widget script that honours Pluggy's
// contract, so the page, the connect token, the widget callbacks, the
// item's first sync and --write are all exercised.

type connectEnv struct {
	*env
	widget string
}

func newConnectEnv(t *testing.T) *connectEnv {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	e.cfg["item_update_poll_seconds"] = 0.05
	e.cfg["start_date"] = "2024-01-31"
	return &connectEnv{env: e, widget: e.srv.URL + "/connect/pluggy-connect.js"}
}

// configFile writes the config with mode 0600, as a user keeps secrets.
func (e *connectEnv) configFile() string {
	p := e.config(nil)
	st.Must(e.t, os.Chmod(p, 0o600), "chmod")
	return p
}

func (e *connectEnv) start(cfg string, extra ...string) *st.Process {
	args := append([]string{"connect", "--config", cfg, "--no-open", "--sandbox"}, extra...)
	if !slices.Contains(extra, "--widget-url") { // a test's own widget
		args = append(args, "--widget-url", e.widget)
	}
	return st.Start(e.t, e.bin, args...)
}

// noSecretsIn fails when text holds the client secret or any apiKey.
func (e *connectEnv) noSecretsIn(where, text string) {
	e.t.Helper()
	for _, s := range append(e.fake.APIKeys(), e.fake.ClientSecret()) {
		if strings.Contains(text, s) {
			e.t.Errorf("%s contains a secret (%.12s…)", where, s)
		}
	}
}

func TestConnectNewItemInBrowser(t *testing.T) {
	e := newConnectEnv(t)
	cfg := e.configFile()
	before := e.fake.ItemIDs()
	b := browsertest.New(t)

	p := e.start(cfg, "--write")
	url := p.WaitLine(st.OpenURL)[1]
	b.Navigate(url)
	b.WaitVisible("#pluggy-submit")
	if !strings.Contains(b.Text("#status"), "Follow the steps") {
		t.Errorf("page status %q", b.Text("#status"))
	}
	e.noSecretsIn("the page", b.HTML())
	b.Click("#pluggy-submit")
	out, code := p.Wait()
	if code != 0 {
		t.Fatalf("connect exited %d\nstdout: %s\nstderr: %s", code, out, p.Stderr())
	}

	var res struct {
		ItemID    string `json:"item_id"`
		Status    string `json:"status"`
		Connector string `json:"connector"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout must be one JSON line, got %q", out)
	}
	st.Must(t, json.Unmarshal([]byte(lines[0]), &res), "result line")
	after := e.fake.ItemIDs()
	if slices.Contains(before, res.ItemID) || !slices.Contains(after, res.ItemID) {
		t.Fatalf("item_id %s is not the item the widget created (before %v, after %v)", res.ItemID, before, after)
	}
	if res.Status != "UPDATED" || res.Connector != "Pluggy Bank" {
		t.Errorf("result %+v, want status UPDATED (after the first sync) and connector Pluggy Bank", res)
	}
	if !p.StderrHas("Pluggy connected item " + res.ItemID) {
		t.Errorf("the item id is not on stderr before the wait:\n%s", p.Stderr())
	}
	// The page said "connected" only once the first sync was over.
	b.WaitFor(`document.getElementById("status").textContent.includes("first sync finished")`)

	// --write added the item and kept the rest, and the file's mode.
	var written map[string]any
	raw, _ := os.ReadFile(cfg)
	st.Must(t, json.Unmarshal(raw, &written), "config after --write")
	ids, _ := written["item_ids"].([]any)
	if len(ids) != 2 || ids[0] != before[0] || ids[1] != res.ItemID {
		t.Errorf("item_ids after --write: %v", written["item_ids"])
	}
	if written["client_secret"] != e.fake.ClientSecret() || written["start_date"] != "2024-01-31" || written["base_url"] != e.srv.URL {
		t.Errorf("--write lost other fields: %s", raw)
	}
	if info, _ := os.Stat(cfg); info.Mode().Perm() != 0o600 {
		t.Errorf("--write changed the mode to %v", info.Mode().Perm())
	}

	// A first config has no item_ids yet: connect is how it gets one.
	first := e.config(map[string]any{"item_ids": nil})
	p = e.start(first, "--write")
	b.Navigate(p.WaitLine(st.OpenURL)[1])
	b.Click("#pluggy-submit")
	if out, code := p.Wait(); code != 0 {
		t.Fatalf("connect with a config without item_ids exited %d: %s%s", code, out, p.Stderr())
	}
	raw, _ = os.ReadFile(first)
	written = nil
	st.Must(t, json.Unmarshal(raw, &written), "first config after --write")
	if ids, _ := written["item_ids"].([]any); len(ids) != 1 {
		t.Errorf("item_ids of a first config after --write: %s", raw)
	}

	// Nothing the browser sent carried a secret, and the written config
	// works: check reaches both items.
	b.CheckNoSecrets(append(e.fake.APIKeys(), e.fake.ClientSecret())...)
	e.noSecretsIn("stderr", p.Stderr())
	if cs := st.Check(t, e.bin, cfg); cs.Status != protocol.StatusSucceeded {
		t.Errorf("check of the written config: %+v", cs)
	}
}

// TestConnectUpdateItem: an item in LOGIN_ERROR is named by check and read
// with the connect --update command, which re-authenticates it in the
// widget's update mode without a new item. The pages speak of an item
// re-authenticated and its sync, where they said "Pluggy created item …"
// and "its first sync finished" of an item that had synced for months.
func TestConnectUpdateItem(t *testing.T) {
	e := newConnectEnv(t)
	e.cfg["item_update_poll_seconds"] = 3 // the sync reads UPDATING for two polls: time to load the page again
	id := e.fake.ItemIDs()[0]
	e.fake.SetItemStatus(id, "LOGIN_ERROR", "")
	cfg := e.configFile()
	orig, _ := os.ReadFile(cfg)
	checkMessage := func() string {
		cs := st.Check(t, e.bin, cfg)
		if cs.Status != protocol.StatusSucceeded {
			t.Fatalf("check: %+v", cs)
		}
		return cs.Message
	}
	if msg := checkMessage(); !strings.Contains(msg, "connect --config "+cfg+" --update "+id) || !strings.Contains(msg, "LOGIN_ERROR") {
		t.Errorf("check does not suggest re-authenticating the LOGIN_ERROR item: %q", msg)
	}
	warned := false
	for _, m := range e.read(e.catalog(false, "items")).OfType(protocol.TypeLog) {
		warned = warned || m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, "LOGIN_ERROR") && strings.Contains(m.Log.Message, "connect --config ") && strings.Contains(m.Log.Message, " --update "+id)
	}
	if !warned {
		t.Error("read's WARN about the LOGIN_ERROR item does not suggest connect --update")
	}
	b := browsertest.New(t)

	p := e.start(cfg, "--update", id, "--write")
	url := p.WaitLine(st.OpenURL)[1]
	b.Navigate(url)
	if title := b.Text("#pluggy-title"); !strings.Contains(title, id) {
		t.Errorf("the widget was not opened in update mode for %s: %q", id, title)
	}
	b.Click("#pluggy-submit")
	p.WaitLine(regexp.MustCompile(`Pluggy re-authenticated item \S+;`))
	// The page loaded again while the sync runs shows this run's item.
	resp, err := http.Get(url)
	st.Must(t, err, "loading the page again")
	again, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(again), "Re-authenticate item "+id) || !strings.Contains(string(again), "Pluggy re-authenticated item "+id+" in this run; waiting for its sync") || strings.Contains(string(again), "first sync") || strings.Contains(string(again), "created") {
		t.Errorf("the page loaded again during --update's sync does not speak of a re-authenticated item and its sync:\n%s", again)
	}
	b.WaitFor(`document.getElementById("status").textContent.includes("Re-authenticated item ` + id + `; its sync finished")`)
	out, code := p.Wait()
	if code != 0 {
		t.Fatalf("connect --update exited %d: %s", code, p.Stderr())
	}
	if !strings.Contains(out, `"item_id":"`+id+`"`) || !strings.Contains(out, `"status":"UPDATED"`) {
		t.Errorf("connect --update printed %s", out)
	}
	if now, _ := os.ReadFile(cfg); string(now) != string(orig) {
		t.Errorf("--write of an id already in item_ids changed the file:\n%s", now)
	}
	if len(e.fake.ItemIDs()) != 1 {
		t.Errorf("--update created an item: %v", e.fake.ItemIDs())
	}
	if msg := checkMessage(); msg != "" {
		t.Errorf("check still asks to re-authenticate after --update: %q", msg)
	}
}

// TestConnectWidgetEndings: closing the widget, a refused login, a login
// that ends in LOGIN_ERROR and a widget script that does not load each end
// the command with exit 1, a clear message, and the config untouched.
func TestConnectWidgetEndings(t *testing.T) {
	e := newConnectEnv(t)
	cfg := e.configFile()
	orig, _ := os.ReadFile(cfg)
	b := browsertest.New(t)
	cases := []struct {
		name   string
		args   []string
		act    func()
		stderr string
	}{
		{"close", nil, func() { b.Click("#pluggy-close") }, "closed before a bank was connected"},
		{"bad password", nil, func() {
			b.SetValue("#pluggy-password", "wrong")
			b.Click("#pluggy-submit")
		}, "Invalid credentials"},
		{"login error", nil, func() {
			b.SetValue("#pluggy-user", "user-login-error")
			b.Click("#pluggy-submit")
		}, "LOGIN_ERROR"},
		// The fix is a command to paste, with this run's config.
		{"login error's fix", nil, func() {
			b.SetValue("#pluggy-user", "user-login-error")
			b.Click("#pluggy-submit")
		}, "try again: source-pluggy connect --config " + cfg + " --update "},
		{"widget missing", []string{"--widget-url", "http://127.0.0.1:" + st.ClosedPort(t) + "/pluggy-connect.js"}, func() {}, "could not load the Pluggy Connect widget"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := e.start(cfg, append([]string{"--write"}, c.args...)...)
			b.Navigate(p.WaitLine(st.OpenURL)[1])
			c.act()
			_, code := p.Wait()
			t.Logf("stderr: %s", p.Stderr())
			if code != 1 || !p.StderrHas(c.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, p.Stderr(), c.stderr)
			}
			if strings.HasPrefix(c.name, "login error") {
				// The widget's success is not the page's: the login failed
				// at the first sync, and the page says so.
				b.WaitFor(`document.getElementById("status").textContent.includes("Not connected:")`)
				if txt := b.Text("#status"); !strings.Contains(txt, "LOGIN_ERROR") {
					t.Errorf("page status %q does not say LOGIN_ERROR", txt)
				}
			}
			if now, _ := os.ReadFile(cfg); string(now) != string(orig) {
				t.Errorf("the config changed after a failed connect:\n%s", now)
			}
		})
	}
}

// TestConnectBadInput needs no browser: every mistake is caught before (or
// instead of) the page.
func TestConnectBadInput(t *testing.T) {
	e := newConnectEnv(t)
	cfg := e.configFile()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	st.Must(t, err, "listen")
	defer busy.Close()
	noCreds := e.config(map[string]any{"client_secret": nil})
	badKeys := e.config(map[string]any{"client_secret": "nope-nope"})
	cases := []st.ExitCase{
		{Name: "no credentials", Args: []string{"--config", noCreds}, Code: 1, Stderr: "client_secret"},
		{Name: "wrong keys", Args: []string{"--config", badKeys}, Code: 1, Stderr: "client_id/client_secret"},
		{Name: "unknown item", Args: []string{"--config", cfg, "--update", "00000000-0000-4000-8000-000000000000"}, Code: 1, Stderr: "was not found"},
		{Name: "not an item id", Args: []string{"--config", cfg, "--update", "abc"}, Code: 2, Stderr: "--update"},
		{Name: "port in use", Args: []string{"--config", cfg, "--listen", busy.Addr().String()}, Code: 2, Stderr: "in use"},
		{Name: "not loopback", Args: []string{"--config", cfg, "--listen", "0.0.0.0:0"}, Code: 2, Stderr: "loopback"},
		// A widget script fetched over plain http from the network could
		// be swapped on the way for one that reads the connect token and
		// the bank login typed into the page.
		{Name: "plain http widget", Args: []string{"--config", cfg, "--timeout", "2s", "--widget-url", "http://cdn.example.com/pluggy-connect.js"}, Code: 2, Stderr: "--widget-url"},
		{Name: "timeout", Args: []string{"--config", cfg, "--timeout", "1s"}, Code: 1, Stderr: "--timeout"},
		{Name: "missing config flag", Args: nil, Code: 2, Stderr: "--config is required"},
	}
	st.ExpectExits(t, e.bin, []string{"connect", "--no-open"}, cases, func(t *testing.T, stderr string) {
		e.noSecretsIn("stderr", stderr)
	})
	if n := e.fake.ConnectTokens(); n == 0 {
		t.Error("the timeout case never asked for a connect token")
	}
}

// TestConnectInterrupted: Ctrl-C (SIGINT) or SIGTERM while the page waits
// ends connect with exit 1 and a message saying it was stopped (not a bare
// "context canceled"), no result, the config untouched and no file left
// beside it.
func TestConnectInterrupted(t *testing.T) {
	e := newConnectEnv(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cfg := e.configFile()
			orig, _ := os.ReadFile(cfg)
			cmd := exec.Command(e.bin, "connect", "--config", cfg, "--no-open", "--write", "--widget-url", e.widget)
			var stdout strings.Builder
			cmd.Stdout = &stdout
			errPipe, err := cmd.StderrPipe()
			st.Must(t, err, "stderr pipe")
			st.Must(t, cmd.Start(), "start")
			sc := bufio.NewScanner(errPipe)
			var stderr strings.Builder
			for sc.Scan() {
				stderr.WriteString(sc.Text() + "\n")
				if st.OpenURL.MatchString(sc.Text()) {
					st.Must(t, cmd.Process.Signal(sig), "signal")
				}
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "stopped by a signal (Ctrl-C or SIGTERM)") {
				t.Errorf("after %v: %v, stdout %q, stderr:\n%s", sig, err, stdout.String(), stderr.String())
			}
			e.noSecretsIn("stderr", stderr.String())
			if now, _ := os.ReadFile(cfg); string(now) != string(orig) {
				t.Errorf("the config changed:\n%s", now)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), ".*")); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// TestConnectWithoutDesktop: without --no-open, in a session with no
// desktop (SSH, a server: neither DISPLAY nor WAYLAND_DISPLAY), connect
// says at once that it could not open a browser, instead of starting
// xdg-open and leaving the user waiting for a window that never comes.
func TestConnectWithoutDesktop(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("the desktop check is for X11 and Wayland systems")
	}
	e := newConnectEnv(t)
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	stdout, stderr, code := st.Exec(t, e.bin, "connect", "--config", e.configFile(), "--timeout", "1s", "--widget-url", e.widget)
	if code != 1 || len(stdout) != 0 || !strings.Contains(string(stderr), "could not open a browser: no desktop session") || !strings.Contains(string(stderr), "--no-open") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 1 (the timeout) and the browser's absence said", code, stdout, stderr)
	}
}

// TestConnectWriteUnwritableFailsFirst: --write into a folder that takes
// no new file (the config is rewritten atomically beside itself) fails
// before anything is asked of Pluggy, naming the folder and the way out;
// it used to be found after the bank was linked.
func TestConnectWriteUnwritableFailsFirst(t *testing.T) {
	e := newConnectEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(e.configFile())
	st.Must(t, err, "config")
	st.Must(t, os.WriteFile(cfg, raw, 0o600), "config")
	if os.Geteuid() != 0 {
		st.Must(t, os.Chmod(dir, 0o500), "chmod")
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
	} else {
		// root writes into a read-only folder, not into an immutable one
		// (CI runs as root).
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Skipf("no folder root cannot write into here (chattr +i: %v %s)", err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	}
	before := e.fake.ConnectTokens()
	out, stderr, code := st.Exec(t, e.bin, "connect", "--no-open", "--config", cfg, "--write")
	if code != 1 || len(out) != 0 || !strings.Contains(string(stderr), "--write cannot rewrite") || !strings.Contains(string(stderr), "run without --write") {
		t.Fatalf("exit %d, stdout %q, stderr %s; want exit 1 naming the folder and the way out", code, out, stderr)
	}
	if n := e.fake.ConnectTokens(); n != before {
		t.Errorf("%d connect tokens asked before the unwritable config was found", n-before)
	}
}
