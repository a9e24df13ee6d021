package main

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/source/browsertest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectPageOpenedAfterTheTokenExpired: a connect token lives 30
// minutes, and the widget needs it until the bank is connected. With a
// --timeout longer than that (time to set up an SSH forward, say), the
// page opened after 30 minutes connects the bank: each load of the page
// gets a token of its own. It used to hold the token made as the command
// started, which Pluggy no longer took, and the widget failed.
func TestConnectPageOpenedAfterTheTokenExpired(t *testing.T) {
	var ahead atomic.Int64 // how far the fake's clock is ahead of the real one
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5, Now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	e.cfg["item_update_poll_seconds"] = 0.05
	ce := &connectEnv{env: e, widget: e.srv.URL + "/connect/pluggy-connect.js"}
	b := browsertest.New(t)

	p := ce.start(ce.configFile(), "--write", "--timeout", "1h")
	url := p.WaitLine(st.OpenURL)[1]
	ahead.Store(int64(31 * time.Minute)) // the page is opened 31 minutes later
	b.Navigate(url)
	b.WaitVisible("#pluggy-submit")
	b.Click("#pluggy-submit")
	out, code := p.Wait()
	if code != 0 || !strings.Contains(out, `"item_id"`) {
		t.Fatalf("connect exited %d\nstdout: %s\nstderr: %s\nwant the item connected with a fresh token", code, out, p.Stderr())
	}
	ce.noSecretsIn("stderr", p.Stderr())
}
