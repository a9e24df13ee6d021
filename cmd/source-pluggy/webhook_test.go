package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/eventlog"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/webhook"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

const hookSecret = "s3cr3t-hook-token-7f1e"

// receiver is a `source-pluggy webhook serve` process.
type receiver struct {
	cmd  *exec.Cmd
	url  string
	dir  string
	done chan struct{}
	code int

	mu     sync.Mutex
	stderr bytes.Buffer
}

func startReceiver(t *testing.T, dir string, extra ...string) *receiver {
	t.Helper()
	return startReceiverArgs(t, dir, append([]string{"--header", "X-Hook-Token=" + hookSecret}, extra...)...)
}

// startReceiverArgs starts a receiver on dir with only args besides
// --listen and --log.
func startReceiverArgs(t *testing.T, dir string, extra ...string) *receiver {
	t.Helper()
	bin := st.Build(t, "source-pluggy")
	args := append([]string{"webhook", "serve", "--log", dir}, extra...)
	if !slices.Contains(extra, "--listen") { // a restart gives the port it had
		args = append(args, "--listen", "127.0.0.1:0")
	}
	return startReceiverCmd(t, exec.Command(bin, args...), dir)
}

// startReceiverCmd starts cmd, a receiver on dir (or a command that runs
// one, its stderr passed on), and waits until it listens.
func startReceiverCmd(t testing.TB, cmd *exec.Cmd, dir string) *receiver {
	t.Helper()
	r := &receiver{cmd: cmd, dir: dir, done: make(chan struct{})}
	pipe, err := r.cmd.StderrPipe()
	st.Must(t, err, "stderr pipe")
	st.Must(t, r.cmd.Start(), "start receiver")
	addr := make(chan string, 1)
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			r.mu.Lock()
			r.stderr.Write(sc.Bytes())
			r.stderr.WriteByte('\n')
			r.mu.Unlock()
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				addr <- l.Addr
			}
		}
		_, _ = io.Copy(io.Discard, pipe)
		err := r.cmd.Wait()
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			r.code = ee.ExitCode()
		}
	}()
	t.Cleanup(func() { _ = r.cmd.Process.Kill(); <-r.done })
	select {
	case a := <-addr:
		r.url = "http://" + a
	case <-r.done:
		t.Fatalf("the receiver exited before listening:\n%s", r.log())
	case <-time.After(time.Minute):
		t.Fatalf("the receiver did not start:\n%s", r.log())
	}
	return r
}

func (r *receiver) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

// stop sends sig and waits for the process to end.
func (r *receiver) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	st.Must(t, r.cmd.Process.Signal(sig), "signal")
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		t.Fatal("the receiver did not stop")
	}
	return r.code
}

// post sends one webhook request and returns its status.
func (r *receiver) post(t *testing.T, body string, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url+"/pluggy", strings.NewReader(body))
	st.Must(t, err, "request")
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	st.Must(t, err, "POST")
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

var authHeader = map[string]string{"X-Hook-Token": hookSecret}

func deletedEvent(eventID string, ids ...string) string {
	b, _ := json.Marshal(map[string]any{
		"event": "transactions/deleted", "eventId": eventID, "itemId": "a5c763cb-0952-457b-9936-630f79c5b016",
		"accountId": "8a6e2c17-0000-4000-8000-000000000001", "clientId": "c1", "transactionIds": ids,
	})
	return string(b)
}

// uuidOf is a UUID made from s, the same every time: the receiver takes
// only UUIDs for ids, as Pluggy sends them.
func uuidOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// logEventIDs reads the log as a reader would and returns its eventIds.
func logEventIDs(t *testing.T, dir string) []string {
	t.Helper()
	var ids []string
	_, err := eventlog.Read(dir, eventlog.Position{}, func(_ eventlog.Position, line []byte) error {
		var r struct {
			EventID string `json:"eventId"`
			Payload struct {
				EventID string `json:"eventId"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(line, &r); err != nil || r.EventID != r.Payload.EventID {
			t.Fatalf("log line %s: %v", line, err)
		}
		ids = append(ids, r.EventID)
		return nil
	})
	st.Must(t, err, "reading the log")
	return ids
}

// noSecretOnDisk fails if the auth header value is in any file of dir.
func noSecretOnDisk(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(hookSecret)) {
			t.Errorf("%s holds the webhook header value", p)
		}
		return nil
	})
}

func TestWebhookReceiverRefusesBadRequestsAndDeduplicates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	r := startReceiver(t, dir, "--max-body-bytes", "4096")

	resp, err := http.Get(r.url + "/healthz")
	st.Must(t, err, "healthz")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	good := deletedEvent("ev-1", "786c7d98-6085-4879-9c7f-2255260e2436")
	cases := []struct {
		name   string
		body   string
		header map[string]string
		want   int
	}{
		{"no auth header", deletedEvent("bad-1", "x"), nil, 401},
		{"wrong auth header", deletedEvent("bad-2", "x"), map[string]string{"X-Hook-Token": hookSecret + "x"}, 401},
		{"auth header value under another name", deletedEvent("bad-3", "x"), map[string]string{"X-Other": hookSecret}, 401},
		{"not JSON", "event=transactions/deleted", authHeader, 400},
		{"JSON array", `[{"event":"item/updated"}]`, authHeader, 400},
		{"truncated JSON", good[:len(good)/2], authHeader, 400},
		{"no eventId", `{"event":"item/updated","itemId":"i1"}`, authHeader, 422},
		{"transactionIds not a list", `{"event":"transactions/deleted","eventId":"bad-4","itemId":"i","accountId":"a","transactionIds":"t1"}`, authHeader, 422},
		{"created without its time", `{"event":"transactions/created","eventId":"bad-5","itemId":"i","accountId":"a"}`, authHeader, 422},
		{"event not subscribed", `{"event":"payment_intent/created","eventId":"unused-1","data":{"status":"x"}}`, authHeader, 200},
		{"another event not subscribed", `{"event":"connector/status_updated","eventId":"unused-2","data":{"status":"UNSTABLE"}}`, authHeader, 200},
		{"an unknown event without an id", `{"event":"connector/status_updated"}`, authHeader, 422},
		{"too large", deletedEvent("bad-7", strings.Repeat("x", 5000)), authHeader, 413},
		{"good", good, authHeader, 200},
		{"redelivery", good, authHeader, 200},
		{"item event", `{"event":"item/updated","eventId":"ev-2","id":"a5c763cb-0952-457b-9936-630f79c5b016","itemId":"a5c763cb-0952-457b-9936-630f79c5b016","triggeredBy":"SYNC","newField":{"x":1}}`, authHeader, 200},
	}
	for _, c := range cases {
		if got := r.post(t, c.body, c.header); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	if got := fmt.Sprint(logEventIDs(t, dir)); got != "[ev-1 ev-2]" {
		t.Fatalf("log holds %s, want [ev-1 ev-2] (refused, unused and redelivered events are never appended)", got)
	}
	unused := func() bool {
		return strings.Contains(r.log(), `"event":"connector/status_updated","eventId":"unused-2"`)
	}
	for deadline := time.Now().Add(10 * time.Second); !unused() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // stderr is read by another goroutine
	}
	if !unused() {
		t.Errorf("an event acknowledged unused was not logged:\n%s", r.log())
	}
	// Not a POST: 405, and logged like every other refusal.
	req, err := http.NewRequest(http.MethodPut, r.url+"/pluggy", strings.NewReader(good))
	st.Must(t, err, "request")
	req.Header.Set("X-Hook-Token", hookSecret)
	resp, err = http.DefaultClient.Do(req)
	st.Must(t, err, "PUT")
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("PUT: status %d, Allow %q; want 405 and POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	logged := func() bool {
		return strings.Contains(r.log(), `"msg":"refused a webhook request that is not a POST"`) && strings.Contains(r.log(), `"method":"PUT"`)
	}
	for deadline := time.Now().Add(10 * time.Second); !logged() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // stderr is read by another goroutine
	}
	if !logged() {
		t.Errorf("the 405 was not logged:\n%s", r.log())
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	if strings.Contains(r.log(), hookSecret) {
		t.Fatalf("the receiver's log shows the header value:\n%s", r.log())
	}
	noSecretOnDisk(t, dir)

	// A restart still knows ev-1: Pluggy's retry after a restart is not
	// appended twice.
	r = startReceiver(t, dir)
	if got := r.post(t, good, authHeader); got != 200 {
		t.Fatalf("redelivery after restart: %d", got)
	}
	if got := r.post(t, deletedEvent("ev-3", "3f1c0b2e-5d4a-4e8b-9c7d-000000000003"), authHeader); got != 200 {
		t.Fatalf("new event after restart: %d", got)
	}
	if got := fmt.Sprint(logEventIDs(t, dir)); got != "[ev-1 ev-2 ev-3]" {
		t.Fatalf("log holds %s after a restart, want [ev-1 ev-2 ev-3]", got)
	}
}

func TestWebhookReceiverFlagsAreChecked(t *testing.T) {
	bin := st.Build(t, "source-pluggy")
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir}, "--header is required"},
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-Token"}, "NAME=VALUE"},
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X Token=v"}, "not a valid HTTP header name"},
		{[]string{"webhook", "bogus"}, "unknown subcommand"},
		// Each of these used to start: on every interface at a random port,
		// failing as "mkdir : no such file", or logging a limit of 0 while
		// 1 MiB applied.
		{[]string{"webhook", "serve", "--listen", "", "--log", dir, "--header", "X-A=b"}, "--listen is empty"},
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", "", "--header", "X-A=b"}, "--log is empty"},
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-A=b", "--max-body-bytes", "0"}, "--max-body-bytes 0: give a positive number"},
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-A=b", "--max-body-bytes", "-1"}, "--max-body-bytes -1: give a positive number"},
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-A=b", "--retain", "30"}, `--retain "30": give a positive duration, in whole days (30d)`},
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-A=b", "--retain", "0s"}, `--retain "0s": give a positive duration, in whole days (30d)`},
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-A=b", "--retain", "-1h"}, `--retain "-1h": give a positive duration, in whole days (30d)`},
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-A=b", "--retain", ""}, `--retain "": give a positive duration, in whole days (30d)`},
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-A=b", "--retain", "30x"}, `--retain "30x": give a positive duration, in whole days (30d)`},
		{[]string{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-A=b", "--retain", "1.5d"}, `--retain "1.5d": give a positive duration, in whole days (30d)`},
	} {
		_, stderr, code := st.Exec(t, bin, c.args...)
		if code != 2 || !strings.Contains(string(stderr), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, stderr, c.want)
		}
	}
	// A second receiver on the same log is refused.
	r := startReceiver(t, dir)
	_ = r
	_, stderr, code := st.Exec(t, bin, "webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-A=b")
	if code != 1 || !strings.Contains(string(stderr), "in use by another receiver") {
		t.Fatalf("second receiver: exit %d, %s", code, stderr)
	}
}

// TestWebhookReceiverSIGKILLLosesNoAcknowledgedEvent kills the receiver
// while clients post, at a different point each round: every event that got
// a 2xx must be in the log, and the log must read cleanly (a torn last line
// is skipped) and keep taking events after a restart.
func TestWebhookReceiverSIGKILLLosesNoAcknowledgedEvent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	acked := map[string]bool{}
	var mu sync.Mutex
	for round := range 3 {
		r := startReceiver(t, dir)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					req, _ := http.NewRequest(http.MethodPost, r.url, strings.NewReader(deletedEvent(id, uuidOf("t-"+id))))
					req.Header.Set("X-Hook-Token", hookSecret)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						return // killed
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						mu.Lock()
						acked[id] = true
						mu.Unlock()
					}
				}
			}()
		}
		// Kill after a growing number of acknowledgements.
		deadline := time.Now().Add(time.Minute)
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= 20*(round+1) || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
		close(stop)
		wg.Wait()
	}
	inLog := map[string]bool{}
	for _, id := range logEventIDs(t, dir) {
		if inLog[id] {
			t.Errorf("event %s is in the log twice", id)
		}
		inLog[id] = true
	}
	if len(acked) < 60 {
		t.Fatalf("only %d events acknowledged", len(acked))
	}
	for id := range acked {
		if !inLog[id] {
			t.Errorf("acknowledged event %s is not in the log", id)
		}
	}
	r := startReceiver(t, dir)
	if got := r.post(t, deletedEvent("after", uuidOf("t")), authHeader); got != 200 {
		t.Fatalf("after the kills: %d", got)
	}
	if ids := logEventIDs(t, dir); ids[len(ids)-1] != "after" {
		t.Fatalf("last event %s, want after", ids[len(ids)-1])
	}
}

func TestWebhookRegisterListDeleteAndDelivery(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.AllowLocalWebhooks(true)
	dir := filepath.Join(t.TempDir(), "log")
	r := startReceiver(t, dir)
	cfg := e.config(nil)
	run := func(args ...string) (string, int) {
		t.Helper()
		stdout, stderr, code := st.Exec(t, e.bin, append([]string{"webhook"}, args...)...)
		all := string(stdout) + string(stderr)
		if strings.Contains(all, hookSecret) || strings.Contains(all, "rotated-"+hookSecret) {
			t.Fatalf("webhook %v printed a header value:\n%s", args, all)
		}
		return string(stdout), code
	}
	count := func(out, action string) int {
		n := 0
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, action+" ") {
				n++
			}
		}
		return n
	}

	out, code := run("register", "--config", cfg, "--url", r.url, "--header", "X-Hook-Token="+hookSecret)
	if code != 0 || count(out, "created") != len(webhook.Subscribed) {
		t.Fatalf("first register: exit %d\n%s", code, out)
	}
	out, code = run("register", "--config", cfg, "--url", r.url, "--header", "X-Hook-Token="+hookSecret)
	if code != 0 || count(out, "kept") != len(webhook.Subscribed) {
		t.Fatalf("second register is not a no-op: exit %d\n%s", code, out)
	}
	list, code := run("list", "--config", cfg)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if code != 0 || len(lines) != len(webhook.Subscribed) {
		t.Fatalf("list: exit %d\n%s", code, list)
	}
	first := strings.Fields(lines[0])[0]
	if out, code := run("delete", "--config", cfg, first); code != 0 || !strings.Contains(out, "deleted "+first) {
		t.Fatalf("delete: exit %d %s", code, out)
	}
	if _, code := run("delete", "--config", cfg, first); code != 1 {
		t.Fatalf("deleting it again: exit %d, want 1 (WEBHOOK_NOT_FOUND)", code)
	}
	out, _ = run("register", "--config", cfg, "--url", r.url, "--header", "X-Hook-Token="+hookSecret)
	if count(out, "created") != 1 || count(out, "kept") != len(webhook.Subscribed)-1 {
		t.Fatalf("register after a delete:\n%s", out)
	}
	out, _ = run("register", "--config", cfg, "--url", r.url, "--header", "X-Hook-Token=rotated-"+hookSecret, "--update-headers")
	if count(out, "updated") != len(webhook.Subscribed) {
		t.Fatalf("register --update-headers:\n%s", out)
	}
	id := strings.Fields(strings.Split(out, "\n")[0])[1]
	if got := e.fake.WebhookHeaders(id)["X-Hook-Token"]; got != "rotated-"+hookSecret {
		t.Fatalf("headers after --update-headers: %q", got)
	}
	if _, code := run("register", "--config", cfg, "--url", r.url, "--header", "X-Hook-Token="+hookSecret, "--update-headers"); code != 0 {
		t.Fatalf("register --update-headers back: exit %d", code)
	}
	if _, code := run("register", "--config", cfg, "--url", "not a url", "--header", "X-Hook-Token="+hookSecret); code != 2 {
		t.Fatalf("bad --url: exit %d", code)
	}

	// The fake now delivers its changes to the receiver, with the header.
	e.fake.DeleteOlder(3, 200*24*time.Hour)
	e.fake.UpdateInPlace(2)
	e.fake.AddNew(2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st.Must(t, e.fake.WaitDeliveries(ctx), "deliveries")
	stats := e.fake.DeliveryStats()
	if ids := logEventIDs(t, dir); stats.Acknowledged == 0 || len(ids) != stats.Acknowledged || stats.Failed != 0 {
		t.Fatalf("delivery stats %+v, log holds %d events\n%s", stats, len(ids), r.log())
	}
}

// TestWebhookReceiverPostgresLog: --log as a PostgreSQL URL keeps the events
// in pluggy.webhook_events with the same rules as a directory: refused
// requests are not stored, a redelivery (also after a restart) is stored
// once, one receiver per database, and the password is never printed.
func TestWebhookReceiverPostgresLog(t *testing.T) {
	url := pgtest.DB(t)
	r := startReceiver(t, url)
	good := deletedEvent("pg-1", "786c7d98-6085-4879-9c7f-2255260e2436")
	for _, c := range []struct {
		body   string
		header map[string]string
		want   int
	}{
		{good, nil, 401},
		{"not json", authHeader, 400},
		{`{"event":"transactions/deleted","eventId":"pg-x"}`, authHeader, 422},
		{good, authHeader, 200},
		{good, authHeader, 200},
		{`{"event":"item/updated","eventId":"pg-2","itemId":"a5c763cb-0952-457b-9936-630f79c5b016","triggeredBy":"SYNC"}`, authHeader, 200},
		// A byte that is not UTF-8 in a string, which PostgreSQL's text
		// refuses: it was 503 at every delivery, and the event lost.
		{"{\"event\":\"item/updated\",\"eventId\":\"pg-3\",\"itemId\":\"a5c763cb-0952-457b-9936-630f79c5b016\",\"note\":\"caf\xe9\"}", authHeader, 200},
	} {
		if got := r.post(t, c.body, c.header); got != c.want {
			t.Errorf("POST %.40s: %d, want %d", c.body, got, c.want)
		}
	}
	resp, err := http.Get(r.url + "/healthz")
	st.Must(t, err, "healthz")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	bin := st.Build(t, "source-pluggy")
	_, stderr, code := st.Exec(t, bin, "webhook", "serve", "--listen", "127.0.0.1:0", "--log", url, "--header", "X-A=b")
	if code != 1 || !strings.Contains(string(stderr), "in use by another receiver") || strings.Contains(string(stderr), pgtest.Password) {
		t.Fatalf("second receiver on the database: exit %d, %s", code, stderr)
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
	r = startReceiver(t, url)
	if got := r.post(t, good, authHeader); got != 200 {
		t.Fatalf("redelivery after a restart: %d", got)
	}
	conn := pgtest.Connect(t, url)
	rows := pgtest.Rows(t, conn, `SELECT event_id FROM pluggy.webhook_events ORDER BY seq`)
	if fmt.Sprint(rows) != "[pg-1 pg-2 pg-3]" {
		t.Fatalf("table holds %v, want [pg-1 pg-2 pg-3]", rows)
	}
	if strings.Contains(r.log(), pgtest.Password) || strings.Contains(r.log(), hookSecret) {
		t.Fatalf("the receiver printed a secret:\n%s", r.log())
	}
	if got := pgtest.Rows(t, conn, `SELECT count(*) FROM pluggy.webhook_events WHERE payload LIKE '%`+hookSecret+`%'`); fmt.Sprint(got) != "[0]" {
		t.Fatal("a header value reached the table")
	}
}

// TestWebhookListTakesA204: Pluggy's OpenAPI has GET /webhooks answer 204
// with no body when there are none and POST /webhooks answer 201 (the live
// API answers 200 to both; pluggy-api.md §6, open question 8). list takes
// the 204 as an empty list, register the 201 as a created webhook, and
// list then shows every webhook register made.
func TestWebhookListTakesA204(t *testing.T) {
	e := newEnv(t, fake.Options{WebhookStatusesAsSpecified: true})
	e.fake.AllowLocalWebhooks(true)
	cfg := e.config(nil)
	stdout, stderr, code := st.Exec(t, e.bin, "webhook", "list", "--config", cfg)
	if code != 0 || len(stdout) != 0 || !strings.Contains(string(stderr), "no webhooks") {
		t.Fatalf("list on a 204: exit %d, %s %s", code, stdout, stderr)
	}
	if got := e.fake.Stats().ByStatus[http.StatusNoContent]; got != 1 {
		t.Fatalf("the fake answered %d 204s to list, want 1", got)
	}
	stdout, stderr, code = st.Exec(t, e.bin, "webhook", "register", "--config", cfg, "--url", "http://127.0.0.1:9/x", "--header", "X-Hook-Token="+hookSecret)
	if code != 0 || strings.Count("\n"+string(stdout), "\ncreated ") != len(webhook.Subscribed) {
		t.Fatalf("register after a 204: exit %d, %s %s", code, stdout, stderr)
	}
	if got := e.fake.Stats().ByStatus[http.StatusCreated]; got != len(webhook.Subscribed) {
		t.Fatalf("the fake answered %d 201s to register, want %d", got, len(webhook.Subscribed))
	}
	stdout, stderr, code = st.Exec(t, e.bin, "webhook", "list", "--config", cfg)
	if code != 0 || strings.Count(string(stdout), "http://127.0.0.1:9/x") != len(webhook.Subscribed) {
		t.Fatalf("list after register: exit %d, %s %s", code, stdout, stderr)
	}
}

// TestWebhookHeaderFromEnvironment: --header-env keeps the secret off the
// command line; an unset variable is a usage error naming it.
func TestWebhookHeaderFromEnvironment(t *testing.T) {
	t.Setenv("PLUGGY_TEST_HOOK_TOKEN", hookSecret)
	dir := filepath.Join(t.TempDir(), "log")
	bin := st.Build(t, "source-pluggy")
	_, stderr, code := st.Exec(t, bin, "webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header-env", "X-Hook-Token=PLUGGY_TEST_UNSET_VAR")
	if code != 2 || !strings.Contains(string(stderr), "PLUGGY_TEST_UNSET_VAR") {
		t.Fatalf("unset variable: exit %d, %s", code, stderr)
	}
	r := startReceiverArgs(t, dir, "--header-env", "X-Hook-Token=PLUGGY_TEST_HOOK_TOKEN")
	if got := r.post(t, deletedEvent("env-1", uuidOf("t1")), authHeader); got != 200 {
		t.Fatalf("with the header from the environment: %d", got)
	}
	if got := r.post(t, deletedEvent("env-2", uuidOf("t2")), map[string]string{"X-Hook-Token": "PLUGGY_TEST_HOOK_TOKEN"}); got != 401 {
		t.Fatalf("the variable's name as the value: %d, want 401", got)
	}
}

// TestWebhookReceiverPostgresTableMadeForIt: the schema and table created
// for the receiver by an administrator, its role granted what it needs to
// insert and read (docs/webhooks.md) and no CREATE on the database, the
// receiver starts and takes events. It used to exit at once: CREATE SCHEMA
// IF NOT EXISTS, run before it looked for the table, needs CREATE on the
// database even when the schema is there. Without UPDATE on the sequence,
// it leaves the sequence where it is rather than move it on to the clock.
func TestWebhookReceiverPostgresTableMadeForIt(t *testing.T) {
	_, _, url := pgTableMadeForReceiver(t)
	r := startReceiver(t, url)
	if got := r.post(t, deletedEvent("made-1", "786c7d98-6085-4879-9c7f-2255260e2436"), authHeader); got != http.StatusOK {
		t.Fatalf("POST to a receiver on a table made for it: %d\n%s", got, r.log())
	}
	if code := r.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, r.log())
	}
}

// pgTableMadeForReceiver creates, in a new database, the schema and table
// of a PostgreSQL log as an administrator would for the receiver, and a
// role granted what the receiver needs (docs/webhooks.md) and no more. It
// returns the database's URL as the administrator, the role's name, and
// the database's URL as the role.
func pgTableMadeForReceiver(t *testing.T) (admin, role, url string) {
	t.Helper()
	admin = pgtest.DB(t)
	role = "hook_" + pgtest.DBName(admin)
	pgtest.Exec(t, admin, `CREATE SCHEMA pluggy`)
	pgtest.Exec(t, admin, `CREATE TABLE pluggy.webhook_events (seq bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE, received_at timestamptz NOT NULL, payload text NOT NULL)`)
	pgtest.Exec(t, admin, `CREATE ROLE `+role+` LOGIN PASSWORD 'hook-role-pw'`)
	pgtest.Exec(t, admin, `GRANT USAGE ON SCHEMA pluggy TO `+role+`; GRANT SELECT, INSERT ON pluggy.webhook_events TO `+role+`; GRANT USAGE ON SEQUENCE pluggy.webhook_events_seq_seq TO `+role)
	url = strings.Replace(admin, pgtest.User+":"+pgtest.Password+"@", role+":hook-role-pw@", 1)
	return admin, role, url
}
