package pluggy

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

const testItem = "d0ab10e7-c52d-45c9-8f88-e6d4ce44daa5"

// patchServer answers POST /auth and GET /items/{id} normally and PATCH
// /items/{id} with patch(n), n counting from 1.
func patchServer(t *testing.T, patch func(w http.ResponseWriter, n int32)) (*conn, *atomic.Int32) {
	t.Helper()
	var patches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/auth":
			w.Write([]byte(`{"apiKey":"k"}`))
		case r.Method == http.MethodPatch && r.URL.Path == "/items/"+testItem:
			patch(w, patches.Add(1))
		case r.Method == http.MethodGet && r.URL.Path == "/items/"+testItem:
			w.Write([]byte(`{"id":"` + testItem + `","status":"UPDATED","executionStatus":"SUCCESS"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	cfg, _ := json.Marshal(map[string]any{
		"client_id": "id", "client_secret": "secret", "item_ids": []string{testItem}, "base_url": srv.URL,
		"requests_per_minute": 0, "trigger_item_update": true, "item_update_poll_seconds": 0.01, "max_retries": 3,
	})
	c, err := Source{}.Open(context.Background(), cfg, source.Env{Secrets: &secret.Redactor{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cn := c.(*conn)
	cn.client.http.BaseBackoff = 1
	return cn, &patches
}

// TestPatchIsNeverRetriedButFor429: PATCH starts a sync at the bank, so a
// 5xx or a dropped connection is not retried; a 429 is, as the API asks; and
// every outcome ends with the item read.
func TestPatchIsNeverRetriedButFor429(t *testing.T) {
	for name, c := range map[string]struct {
		patch func(w http.ResponseWriter, n int32)
		want  int32
	}{
		"accepted": {func(w http.ResponseWriter, n int32) {
			w.Write([]byte(`{"id":"` + testItem + `","status":"UPDATING"}`))
		}, 1},
		"5xx": {func(w http.ResponseWriter, n int32) {
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte(`{"code":502,"message":"bad gateway"}`))
		}, 1},
		"dropped": {func(w http.ResponseWriter, n int32) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, 1},
		"409": {func(w http.ResponseWriter, n int32) {
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"code":409,"codeDescription":"CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY","message":"too often"}`))
		}, 1},
		"429 then accepted": {func(w http.ResponseWriter, n int32) {
			if n == 1 {
				w.Header().Set("Retry-After", "0.01")
				w.WriteHeader(http.StatusTooManyRequests)
				w.Write([]byte(`{"code":429,"message":"Too many requests"}`))
				return
			}
			w.Write([]byte(`{"id":"` + testItem + `","status":"UPDATING"}`))
		}, 2},
	} {
		t.Run(name, func(t *testing.T) {
			cn, patches := patchServer(t, c.patch)
			raw, err := cn.item(context.Background(), testItem)
			if err != nil || !strings.Contains(string(raw), testItem) {
				t.Fatalf("item after the refresh: %s, %v", raw, err)
			}
			if got := patches.Load(); got != c.want {
				t.Fatalf("%d PATCH requests, want %d", got, c.want)
			}
		})
	}
}
