package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/source/browsertest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectReloadNoSecondItem: once the widget has
// reported its item, the run is about that item. A reload of the page (or
// the URL opened again) used to load the widget again, with the same
// connect token, so a second bank login created a second item at Pluggy
// that the run never wrote nor printed (Meu Pluggy allows 5), while that
// page said "Connected item …". A reload now shows this run's item and its
// outcome, as connect.md says, and no widget.
func TestConnectReloadNoSecondItem(t *testing.T) {
	e := newConnectEnv(t)
	e.cfg["item_update_poll_seconds"] = 3 // the first sync reads UPDATING for two polls: the run lasts 6 s more
	cfg := e.configFile()
	before := len(e.fake.ItemIDs())
	b := browsertest.New(t)

	p := e.start(cfg, "--write")
	url := p.WaitLine(st.OpenURL)[1]
	b.Navigate(url)
	b.WaitVisible("#pluggy-submit")
	b.Click("#pluggy-submit")
	item := p.WaitLine(regexp.MustCompile(`Pluggy connected item (\S+);`))[1]

	b.Navigate(url) // the reload, while the first sync runs
	b.WaitFor(`document.getElementById("status").textContent.includes("` + item + `")`)
	if browsertest.Eval[bool](b, `typeof PluggyConnect !== "undefined" || document.querySelector("#pluggy-submit") !== null`) {
		t.Fatalf("the reloaded page loaded the widget again: %q", b.Text("#status"))
	}
	b.WaitFor(`document.getElementById("status").textContent.includes("first sync finished")`)

	out, code := p.Wait()
	if code != 0 || !strings.Contains(out, item) {
		t.Fatalf("connect: exit %d\nstdout: %s\nstderr: %s", code, out, p.Stderr())
	}
	if n := len(e.fake.ItemIDs()) - before; n != 1 {
		t.Fatalf("%d items created, want 1", n)
	}
}

// TestConnectTwoTabsSecondItem: the page open in two tabs before either
// reported loads the widget twice; an item the second one connects is not
// this run's, and its id is said on stderr (Pluggy cannot list items
// later) rather than lost, while its tab is told it was not added.
func TestConnectTwoTabsSecondItem(t *testing.T) {
	e := newConnectEnv(t)
	e.cfg["item_update_poll_seconds"] = 3
	cfg := e.configFile()
	b1, b2 := browsertest.New(t), browsertest.New(t)
	p := e.start(cfg, "--write")
	url := p.WaitLine(st.OpenURL)[1]
	b1.Navigate(url)
	b2.Navigate(url)
	b1.WaitVisible("#pluggy-submit")
	b2.WaitVisible("#pluggy-submit")
	b1.Click("#pluggy-submit")
	first := p.WaitLine(regexp.MustCompile(`Pluggy connected item (\S+);`))[1]
	b2.Click("#pluggy-submit")
	second := p.WaitLine(regexp.MustCompile(`Pluggy connected another item, (\S+), from a second page`))[1]
	b2.WaitFor(`document.getElementById("status").textContent.includes("not added to the config")`)
	out, code := p.Wait()
	if code != 0 || !strings.Contains(out, first) || strings.Contains(out, second) || first == second {
		t.Fatalf("connect: exit %d, first %s, second %s\nstdout: %s\nstderr: %s", code, first, second, out, p.Stderr())
	}
}
