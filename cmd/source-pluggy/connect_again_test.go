package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/source/browsertest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectSameBankAgainWarns: connect run again for a bank item_ids
// already connects (to renew a login, where --update keeps the item)
// makes a second item of the same login, whose accounts every read then
// reads twice under other account ids. Pluggy cannot tell two logins at
// one bank apart and the item exists by then, so connect writes it but
// warns, naming the configured item at that bank and the ways on; it used
// to add it without a word.
func TestConnectSameBankAgainWarns(t *testing.T) {
	e := newConnectEnv(t)
	cfg := e.configFile()
	b := browsertest.New(t)
	connectOne := func() (itemID, stderr string) {
		p := e.start(cfg, "--write")
		b.Navigate(p.WaitLine(st.OpenURL)[1])
		b.WaitVisible("#pluggy-submit")
		b.Click("#pluggy-submit")
		out, code := p.Wait()
		var res struct {
			ItemID string `json:"item_id"`
		}
		if code != 0 || json.Unmarshal([]byte(strings.TrimSpace(out)), &res) != nil {
			t.Fatalf("connect exited %d\nstdout: %s\nstderr: %s", code, out, p.Stderr())
		}
		return res.ItemID, p.Stderr()
	}
	first, stderr := connectOne()
	if strings.Contains(stderr, "warning: item "+first) {
		t.Errorf("the first item is warned about itself:\n%s", stderr)
	}
	second, stderr := connectOne()
	want := "warning: item " + first + " in item_ids is at Pluggy Bank too"
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "connect --update") || !strings.Contains(stderr, "Added item "+second) {
		t.Errorf("the second connect at the same bank: stderr\n%s\nwant %q, the --update advice, and the item added", stderr, want)
	}
	e.noSecretsIn("stderr", stderr)
}
