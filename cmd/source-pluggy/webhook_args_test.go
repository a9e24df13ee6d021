package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/webhook"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookStrayArgumentIsNotEchoed: `--header X-Token s3cret` (a space
// where the = goes) leaves the secret as a stray argument, and the usage
// error used to quote it on stderr, where logs and CI output keep it.
func TestWebhookStrayArgumentIsNotEchoed(t *testing.T) {
	bin := st.Build(t, "source-pluggy")
	dir := filepath.Join(t.TempDir(), "log")
	for _, args := range [][]string{
		{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header", "X-Hook-Token", hookSecret},
		{"webhook", "serve", "--listen", "127.0.0.1:0", "--log", dir, "--header-env", "X-Hook-Token", hookSecret},
		{"webhook", "register", "--config", "config.json", "--url", "https://hooks.example.com/p", "--header", "X-Hook-Token", hookSecret},
	} {
		stdout, stderr, code := st.Exec(t, bin, args...)
		if code != 2 || len(stdout) != 0 {
			t.Errorf("%v: exit %d, stdout %q; want exit 2 and nothing on stdout", args[:2], code, stdout)
		}
		if strings.Contains(string(stderr), hookSecret) {
			t.Errorf("%v: stderr repeats the header value:\n%s", args[:2], stderr)
		}
		if !strings.Contains(string(stderr), "not shown") || !strings.Contains(string(stderr), "write --header NAME=VALUE as one word") {
			t.Errorf("%v: stderr does not say the argument is withheld and how to write the flag:\n%s", args[:2], stderr)
		}
	}
	// Other stray arguments are still named.
	_, stderr, code := st.Exec(t, bin, "webhook", "list", "--config", "config.json", "extra")
	if code != 2 || !strings.Contains(string(stderr), `unexpected argument "extra"`) {
		t.Errorf("list with a stray argument: exit %d\n%s", code, stderr)
	}
}

// TestWebhookRegisterWantsAHeader: the receiver refuses every request
// without its headers (401), so a webhook registered without one can never
// deliver: register used to create all ten such webhooks and exit 0, and
// `--update-headers` without a header printed "kept" for each, rotating
// nothing. Both are usage errors now, found before any API call.
func TestWebhookRegisterWantsAHeader(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.AllowLocalWebhooks(true)
	cfg := e.config(nil)
	for _, extra := range [][]string{nil, {"--update-headers"}} {
		args := append([]string{"webhook", "register", "--config", cfg, "--url", "http://127.0.0.1:9/pluggy"}, extra...)
		stdout, stderr, code := st.Exec(t, e.bin, args...)
		if code != 2 || len(stdout) != 0 || !strings.Contains(string(stderr), "--header is required (or --header-env)") {
			t.Errorf("register %v without a header: exit %d\nstdout: %s\nstderr: %s", extra, code, stdout, stderr)
		}
	}
	stdout, _, code := st.Exec(t, e.bin, "webhook", "list", "--config", cfg)
	if code != 0 || len(stdout) != 0 {
		t.Fatalf("webhooks were registered without a header (exit %d):\n%s", code, stdout)
	}
}

// TestWebhookCommandsNeedNoItems: webhooks belong to the application, not
// to an item, and a first config has no item_ids yet (connect is how it
// gets one), so register, list and delete take a config without them;
// they used to refuse it as a config validation error.
func TestWebhookCommandsNeedNoItems(t *testing.T) {
	e := newEnv(t, fake.Options{})
	e.fake.AllowLocalWebhooks(true)
	for name, ids := range map[string]any{"empty": []string{}, "missing": nil} {
		cfg := e.config(map[string]any{"item_ids": ids})
		stdout, stderr, code := st.Exec(t, e.bin, "webhook", "register", "--config", cfg, "--url", "http://127.0.0.1:9/"+name, "--header", "X-Hook-Token="+hookSecret)
		if code != 0 || strings.Count("\n"+string(stdout), "\ncreated ") != len(webhook.Subscribed) {
			t.Fatalf("register with item_ids %s: exit %d\n%s%s", name, code, stdout, stderr)
		}
		stdout, stderr, code = st.Exec(t, e.bin, "webhook", "list", "--config", cfg)
		if code != 0 || !strings.Contains(string(stdout), "http://127.0.0.1:9/"+name) {
			t.Fatalf("list with item_ids %s: exit %d\n%s%s", name, code, stdout, stderr)
		}
		id := strings.Fields(string(stdout))[0]
		if stdout, stderr, code := st.Exec(t, e.bin, "webhook", "delete", "--config", cfg, id); code != 0 {
			t.Fatalf("delete with item_ids %s: exit %d\n%s%s", name, code, stdout, stderr)
		}
	}
	// The rest of the config is still checked.
	cfg := e.config(map[string]any{"item_ids": []string{}, "client_secret": ""})
	if _, stderr, code := st.Exec(t, e.bin, "webhook", "list", "--config", cfg); code == 0 || !strings.Contains(string(stderr), "client_secret") {
		t.Errorf("list with an empty client_secret: exit %d\n%s", code, stderr)
	}
}

// TestWebhookURLPasswordIsNotPrinted: a receiver URL may carry a password
// (https://user:password@host/…, basic authentication at the proxy);
// register printed it on every line, list on every webhook, and a bad
// --url in its usage error. Each shows it as xxxxx now.
func TestWebhookURLPasswordIsNotPrinted(t *testing.T) {
	const pw = "hunter2-url-password"
	e := newEnv(t, fake.Options{})
	e.fake.AllowLocalWebhooks(true)
	cfg := e.config(nil)
	for _, args := range [][]string{
		{"register", "--config", cfg, "--url", "http://bob:" + pw + "@127.0.0.1:9/pluggy", "--header", "X-Hook-Token=" + hookSecret},
		{"list", "--config", cfg},
	} {
		stdout, stderr, code := st.Exec(t, e.bin, append([]string{"webhook"}, args...)...)
		if code != 0 || !strings.Contains(string(stdout), "http://bob:xxxxx@127.0.0.1:9/pluggy") {
			t.Errorf("webhook %s: exit %d, want the URL with its password as xxxxx\n%s%s", args[0], code, stdout, stderr)
		}
		if strings.Contains(string(stdout)+string(stderr), pw) {
			t.Errorf("webhook %s printed the URL's password:\n%s%s", args[0], stdout, stderr)
		}
	}
	_, stderr, code := st.Exec(t, e.bin, "webhook", "register", "--config", cfg, "--url", "//bob:"+pw+"@hooks.example.com/pluggy", "--header", "X-Hook-Token="+hookSecret)
	if code != 2 || strings.Contains(string(stderr), pw) || !strings.Contains(string(stderr), "--url") {
		t.Errorf("register with a relative --url: exit %d\n%s", code, stderr)
	}
}

// TestWebhookCommandsNameAnUnreachableBaseURL: register, list and delete
// said only "authenticating: POST /auth: … connection refused" when the API
// could not be reached; like check, they now name base_url and the fix.
func TestWebhookCommandsNameAnUnreachableBaseURL(t *testing.T) {
	e := newEnv(t, fake.Options{})
	base := "http://127.0.0.1:" + st.ClosedPort(t)
	cfg := e.config(map[string]any{"base_url": base})
	for _, args := range [][]string{
		{"register", "--config", cfg, "--url", "https://hooks.example.com/pluggy", "--header", "X-Hook-Token=" + hookSecret},
		{"list", "--config", cfg},
		{"delete", "--config", cfg, "0b6f2c1e-0000-4000-8000-000000000000"},
	} {
		stdout, stderr, code := st.Exec(t, e.bin, append([]string{"webhook"}, args...)...)
		if code != 1 || len(stdout) != 0 || !strings.Contains(string(stderr), "cannot reach the Pluggy API at base_url "+base) {
			t.Errorf("webhook %s with the API unreachable: exit %d\nstdout: %s\nstderr: %s", args[0], code, stdout, stderr)
		}
	}
}

// TestWebhookURLQueryIsNotPrinted: a receiver URL may carry its key in
// the query (https://host/pluggy?token=…, where a proxy checks it), as
// much a secret as a password in it; register printed it on every line
// and list on every webhook. Each shows the query's values as xxxxx, its
// names kept, so the webhook can still be told apart.
func TestWebhookURLQueryIsNotPrinted(t *testing.T) {
	const token = "Qu3ryT0kenOfTheHook"
	e := newEnv(t, fake.Options{})
	e.fake.AllowLocalWebhooks(true)
	cfg := e.config(nil)
	for _, args := range [][]string{
		{"register", "--config", cfg, "--url", "http://127.0.0.1:9/pluggy?source=pluggy&token=" + token, "--header", "X-Hook-Token=" + hookSecret},
		{"list", "--config", cfg},
	} {
		stdout, stderr, code := st.Exec(t, e.bin, append([]string{"webhook"}, args...)...)
		if code != 0 || !strings.Contains(string(stdout), "http://127.0.0.1:9/pluggy?source=xxxxx&token=xxxxx") {
			t.Errorf("webhook %s: exit %d, want the URL with its query's values as xxxxx\n%s%s", args[0], code, stdout, stderr)
		}
		if strings.Contains(string(stdout)+string(stderr), token) {
			t.Errorf("webhook %s printed the URL's query token:\n%s%s", args[0], stdout, stderr)
		}
	}
	// A key in the path (https://hooks.example/KEY, checked by the
	// ingress in front of the receiver) is masked as base_url's is.
	for _, args := range [][]string{
		{"register", "--config", cfg, "--url", "http://127.0.0.1:9/hooks/" + token + "/pluggy", "--header", "X-Hook-Token=" + hookSecret},
		{"list", "--config", cfg},
	} {
		stdout, stderr, code := st.Exec(t, e.bin, append([]string{"webhook"}, args...)...)
		if code != 0 || !strings.Contains(string(stdout), "http://127.0.0.1:9/hooks/**********/pluggy") {
			t.Errorf("webhook %s: exit %d, want the URL with the key in its path as **********\n%s%s", args[0], code, stdout, stderr)
		}
		if strings.Contains(string(stdout)+string(stderr), token) {
			t.Errorf("webhook %s printed the key in the URL's path:\n%s%s", args[0], stdout, stderr)
		}
	}
	_, stderr, code := st.Exec(t, e.bin, "webhook", "register", "--config", cfg, "--url", "//hooks.example.com/pluggy?token="+token, "--header", "X-Hook-Token="+hookSecret)
	if code != 2 || strings.Contains(string(stderr), token) || !strings.Contains(string(stderr), "--url") {
		t.Errorf("register with a relative --url: exit %d\n%s", code, stderr)
	}
	// A short value is no key: it masks nothing in the messages (here
	// the base_url's host, which a ?host=127.0.0.1 would have masked).
	base := "http://127.0.0.1:" + st.ClosedPort(t)
	_, stderr, _ = st.Exec(t, e.bin, "webhook", "register", "--config", e.config(map[string]any{"base_url": base}), "--url", "https://hooks.example.com/pluggy?host=127.0.0.1&token="+token, "--header", "X-Hook-Token="+hookSecret)
	if !strings.Contains(string(stderr), "base_url "+base) {
		t.Errorf("register with the API unreachable does not name base_url %s in clear:\n%s", base, stderr)
	}
}
