// Package browsertest drives a real headless Chromium from tests, through
// chromedp, so the pages the connectors serve (the `connect` commands' bank
// and widget pages) are tested the way a user meets them: scripts run,
// buttons are clicked, redirects are followed.
//
// It uses the distribution's Chromium (Debian's /usr/bin/chromium, or
// $CHROMIUM), started headless with a fresh profile and with every
// background feature that would call out to the internet switched off. Where
// no Chromium is installed a test skips with a log line, except under CI
// (CI=true), where a missing browser is a failure: .ci/run installs it.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Timeout bounds each browser action. It is generous: tests share a loaded
// 2-core machine with other builds, and a first Chromium start can be slow.
var Timeout = 90 * time.Second

// ExecPath returns the Chromium binary to use: $CHROMIUM if set, else the
// first of chromium, chromium-browser, google-chrome on PATH. It returns ""
// when there is none.
func ExecPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one headless Chromium with a fresh profile, stopped when the
// test ends.
type Browser struct {
	t      testing.TB
	ctx    context.Context // the browser's chromedp context (first tab)
	cancel context.CancelFunc

	mu       sync.Mutex
	requests []Request
}

// Request is one HTTP request a page sent, as Chromium reports it.
type Request struct {
	Method, URL string
	Headers     map[string]any
	// Body is the request body when Chromium reports it (form posts and
	// fetch bodies it has at hand).
	Body string
}

// New starts a headless Chromium for t. It skips t when no Chromium is
// installed, unless CI=true, where it fails.
func New(t testing.TB) *Browser {
	t.Helper()
	path := ExecPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("browsertest: no Chromium found (set $CHROMIUM or install the chromium package; .ci/run installs it)")
		}
		t.Skip("browsertest: skipping, no Chromium installed (apt-get install chromium, or set $CHROMIUM)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // small /dev/shm in containers
		chromedp.UserDataDir(t.TempDir()),
		// Chromium keeps its process-singleton socket in a directory of
		// $TMPDIR (org.chromium.Chromium.*), removed only when it exits on
		// its own; chromedp kills it, so every test left one in /tmp.
		// Under the test's own temporary directory it goes with the test.
		chromedp.Env("TMPDIR=" + t.TempDir()),
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &Browser{t: t}
	ctx, cancel := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(t.Logf),
		chromedp.WithListener(b.listen))
	b.ctx = ctx
	b.cancel = func() { cancel(); allocCancel() }
	// Start the browser now, under no timeout (a timeout on the first Run
	// would stop the whole browser when it fires).
	if err := chromedp.Do(ctx); err != nil {
		b.cancel()
		t.Fatalf("browsertest: starting %s: %v", path, err)
	}
	t.Cleanup(b.cancel)
	return b
}

// listen records requests and forwards the page's console and uncaught
// exceptions to the test log, where a failing test's reader needs them.
func (b *Browser) listen(ev any) {
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		r := Request{Method: ev.Request.Method, URL: ev.Request.URL, Headers: ev.Request.Headers}
		for _, e := range ev.Request.PostDataEntries {
			r.Body += string(e.Bytes)
		}
		b.mu.Lock()
		b.requests = append(b.requests, r)
		b.mu.Unlock()
	case *runtime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			if a.Value != nil {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		b.t.Logf("browser console.%s: %s", ev.Type, strings.Join(args, " "))
	case *runtime.EventExceptionThrown:
		b.t.Logf("browser exception: %s", (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
	}
}

// Requests returns every request the browser's pages sent so far.
func (b *Browser) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Request(nil), b.requests...)
}

// CheckNoSecrets fails the test when the current page, or any request the
// browser sent so far (URL, headers, body), contains one of secrets.
func (b *Browser) CheckNoSecrets(secrets ...string) {
	b.t.Helper()
	places := map[string]string{"the page": b.HTML()}
	for i, r := range b.Requests() {
		hdr, _ := json.Marshal(r.Headers)
		places[fmt.Sprintf("request %d (%s %s)", i, r.Method, r.URL)] = r.URL + string(hdr) + r.Body
	}
	for where, text := range places {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				b.t.Errorf("%s contains a secret (%.12s…)", where, s)
			}
		}
	}
}

// Do runs actions under Timeout, failing the test with what on error.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// Navigate loads url and waits for its load event.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.Do("navigating to "+url, chromedp.Navigate(url))
}

// NavigateNoWait starts loading url without waiting for the load event, for
// pages whose load ends the server under test (a callback that shuts it
// down may never finish loading).
func (b *Browser) NavigateNoWait(url string) {
	b.t.Helper()
	b.Do("evaluating location change", chromedp.Evaluate[chromedp.Void](fmt.Sprintf("location.href = %q", url)))
}

// WaitVisible waits until the element sel (a CSS selector) is visible.
func (b *Browser) WaitVisible(sel string) {
	b.t.Helper()
	b.Do("waiting for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// Click clicks the element sel (a CSS selector) once it is visible.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	b.Do("clicking "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// SetValue sets the value of the input sel (a CSS selector).
func (b *Browser) SetValue(sel, value string) {
	b.t.Helper()
	b.Do("setting "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SetValue(chromedp.CSS(sel), value))
}

// Text returns the text content of the element sel once it is visible.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	return run(b, "reading "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// HTML returns the current document's serialized DOM (after scripts ran).
func (b *Browser) HTML() string {
	b.t.Helper()
	return run(b, "reading the document", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

// Location returns the current page's URL.
func (b *Browser) Location() string {
	b.t.Helper()
	return run(b, "reading the location", chromedp.Location())
}

// WaitFor polls the JavaScript expression js until it is true.
func (b *Browser) WaitFor(js string) {
	b.t.Helper()
	b.Do("waiting for "+js, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(Timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// Eval evaluates the JavaScript expression js and returns its value.
func Eval[T any](b *Browser, js string) T {
	b.t.Helper()
	return run(b, "evaluating "+js, chromedp.Evaluate[T](js))
}

func run[T any](b *Browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}
