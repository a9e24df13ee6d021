package connect

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/secret"
)

func writeConfig(t *testing.T, body string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), perm); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAddIDsKeepsEverythingElse(t *testing.T) {
	p := writeConfig(t, `{"client_id": "a", "nested": {"x": 1.50, "y": [1,2]}, "item_ids": ["id-1"], "z": null}`, 0o640)
	changed, err := AddIDs(p, "item_ids", "id-2", "ID-1", "id-2")
	if err != nil || !changed {
		t.Fatalf("AddIDs: changed=%v err=%v", changed, err)
	}
	got, _ := os.ReadFile(p)
	want := `{
  "client_id": "a",
  "nested": {
    "x": 1.50,
    "y": [
      1,
      2
    ]
  },
  "item_ids": [
    "id-1",
    "id-2"
  ],
  "z": null
}
`
	if string(got) != want {
		t.Errorf("config after AddIDs:\n%s\nwant:\n%s", got, want)
	}
	if info, _ := os.Stat(p); info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", info.Mode().Perm())
	}
	changed, err = AddIDs(p, "item_ids", "id-2")
	if err != nil || changed {
		t.Errorf("adding an id already there: changed=%v err=%v", changed, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestAddIDsCommaStringAndMissingField(t *testing.T) {
	p := writeConfig(t, `{"item_ids": "a, b"}`, 0o600)
	if _, err := AddIDs(p, "item_ids", "c"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !strings.Contains(string(got), `"item_ids": "a,b,c"`) {
		t.Errorf("a comma-separated field must stay a string: %s", got)
	}
	p = writeConfig(t, `{"secret_id": "s"}`, 0o600)
	if _, err := AddIDs(p, "requisition_ids", "r1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !strings.Contains(string(got), `"requisition_ids": [`) || !strings.Contains(string(got), `"secret_id": "s"`) {
		t.Errorf("missing field not added: %s", got)
	}
}

func TestEditListThroughSymlinkAndBadField(t *testing.T) {
	p := writeConfig(t, `{"requisition_ids": ["old", "keep"]}`, 0o600)
	link := filepath.Join(t.TempDir(), "link.json")
	if err := os.Symlink(p, link); err != nil {
		t.Skip(err)
	}
	_, err := EditList(link, "requisition_ids", func(ids []string) []string {
		for i, id := range ids {
			if id == "old" {
				ids[i] = "new"
			}
		}
		return ids
	})
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced by a file")
	}
	if got, _ := os.ReadFile(p); !strings.Contains(string(got), `"new",`) || strings.Contains(string(got), "old") {
		t.Errorf("replace in place: %s", got)
	}
	bad := writeConfig(t, `{"item_ids": 7}`, 0o600)
	if _, err := AddIDs(bad, "item_ids", "x"); err == nil || !strings.Contains(err.Error(), "item_ids") {
		t.Errorf("a non-list field must be an error naming it, got %v", err)
	}
	before, _ := os.ReadFile(bad)
	if string(before) != `{"item_ids": 7}` {
		t.Errorf("a failed edit changed the file: %s", before)
	}
}

func TestListen(t *testing.T) {
	if _, err := Listen("0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a non-loopback --listen must be refused, got %v", err)
	}
	if _, err := Listen("nonsense"); err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Errorf("a malformed --listen must name the flag, got %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Listen(ln.Addr().String()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a port in use must say so, got %v", err)
	}
}

func TestServerBindsRoutesToTheRun(t *testing.T) {
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Handle("POST /result", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	post := func(url string, h map[string]string) int {
		req, _ := http.NewRequest("POST", url, strings.NewReader("{}"))
		for k, v := range h {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post(s.URL("/result"), nil); c != http.StatusNoContent {
		t.Errorf("the run's route answered %d", c)
	}
	if c := post(s.Origin()+"/result", nil); c != http.StatusNotFound {
		t.Errorf("a route without the run's token answered %d, want 404", c)
	}
	if c := post(s.URL("/result"), map[string]string{"Origin": "https://evil.example"}); c != http.StatusForbidden {
		t.Errorf("a cross-origin post answered %d, want 403", c)
	}
	if c := post(s.URL("/result"), map[string]string{"Host": "evil.example:80"}); c != http.StatusMisdirectedRequest {
		t.Errorf("another Host answered %d, want 421", c)
	}
}

// TestOutcome: every page waiting on the run (the first redirect and any
// reload) gets the same outcome once the run ends, with its secrets masked;
// a page still waiting at OutcomeWait is told the outcome is not known.
func TestOutcome(t *testing.T) {
	s := &Session{Secrets: &secret.Redactor{}, ended: make(chan struct{})}
	s.Secrets.Add("tok-123456789")
	var wg sync.WaitGroup
	got := make([]error, 2)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done, err := s.Outcome(context.Background())
			if !done {
				err = errors.New("not done")
			}
			got[i] = err
		}()
	}
	time.Sleep(10 * time.Millisecond)
	s.end(errors.New("POST /sessions with tok-123456789 refused: EXPIRED_AUTHORIZATION_CODE"))
	s.end(nil) // a second end is ignored
	wg.Wait()
	for _, err := range got {
		if err == nil || !strings.Contains(err.Error(), "EXPIRED_AUTHORIZATION_CODE") || strings.Contains(err.Error(), "tok-123456789") {
			t.Errorf("a waiting page got %v, want the run's error, masked", err)
		}
	}

	old := OutcomeWait
	OutcomeWait = 10 * time.Millisecond
	defer func() { OutcomeWait = old }()
	if done, err := (&Session{Secrets: &secret.Redactor{}, ended: make(chan struct{})}).Outcome(context.Background()); done || err != nil {
		t.Errorf("a run still going: done=%v err=%v", done, err)
	}
}
