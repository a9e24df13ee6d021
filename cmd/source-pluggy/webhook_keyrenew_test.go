package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/webhook"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookCommandsRenewARefusedKey: an apiKey Pluggy refuses before
// its expiry (a 401 to GET /webhooks) while webhook register or list runs
// is renewed once and the command goes on, as a read does. Both crashed
// instead, with a nil-pointer panic and a stack trace: the webhook
// commands open the client without a logger, and the renewal logs a line.
func TestWebhookCommandsRenewARefusedKey(t *testing.T) {
	for _, args := range [][]string{
		{"webhook", "register", "--url", "http://127.0.0.1:9/hook", "--header", "X-Hook-Token=" + hookSecret},
		{"webhook", "list"},
	} {
		t.Run(args[1], func(t *testing.T) {
			var served interface{ Load() int32 }
			e := newHostileEnv(t, fake.Options{}, fake.Hostile{}, func(h http.Handler) http.Handler {
				h, n := st.Canned(h, func(r *http.Request) bool { return r.Method == http.MethodGet && r.URL.Path == "/webhooks" },
					1, http.StatusUnauthorized, nil, []byte(`{"code":401,"message":"Unauthorized"}`))
				served = n
				return h
			})
			e.fake.AllowLocalWebhooks(true)
			stdout, stderr, code := st.Exec(t, e.bin, append(args, "--config", e.config(nil))...)
			if served.Load() != 1 {
				t.Fatalf("the 401 was not served (%d)", served.Load())
			}
			if code != 0 || strings.Contains(string(stdout)+string(stderr), "crashed") {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if args[1] == "register" && strings.Count("\n"+string(stdout), "\ncreated ") != len(webhook.Subscribed) {
				t.Errorf("register created not every webhook:\n%s", stdout)
			}
		})
	}
}
