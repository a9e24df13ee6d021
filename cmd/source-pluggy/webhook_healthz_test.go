package main

import (
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookHealthzTellsNoStrangerWhy: /healthz answers anyone (a load
// balancer's probe carries no header), so its 503 says only that the log
// is not writable; the reason, which names the database's host, port, user
// and name (or the log directory's path), goes to the receiver's own log.
// The body used to hold it.
func TestWebhookHealthzTellsNoStrangerWhy(t *testing.T) {
	url := pgtest.DB(t)
	u, err := neturl.Parse(url)
	st.Must(t, err, "parse the URL")
	db := strings.TrimPrefix(u.Path, "/")
	r := startReceiver(t, url)
	admin := pgtest.Shared(t).URL("postgres")
	pgtest.Exec(t, admin, `ALTER DATABASE `+db+` ALLOW_CONNECTIONS false`)
	t.Cleanup(func() { pgtest.Exec(t, admin, `ALTER DATABASE `+db+` ALLOW_CONNECTIONS true`) })
	pgtest.Exec(t, admin, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, db)

	// The first probe finds the session gone, the next ones fail to
	// reconnect: each says why differently.
	var bodies []string
	for deadline := time.Now().Add(30 * time.Second); len(bodies) < 3 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(r.url + "/healthz")
		st.Must(t, err, "GET /healthz")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			bodies = append(bodies, string(b))
		}
	}
	if len(bodies) < 3 {
		t.Fatalf("/healthz with the database refusing connections: %d answers 503, want 3", len(bodies))
	}
	for _, body := range bodies {
		for _, s := range []string{db, u.Host, u.User.Username(), "postgres://", "connection", pgtest.Password} {
			if strings.Contains(body, s) {
				t.Errorf("the /healthz body tells an unauthenticated caller %q: %s", s, body)
			}
		}
	}
	if !strings.Contains(r.log(), db) || !strings.Contains(r.log(), "/healthz") {
		t.Errorf("the receiver's log does not say why /healthz failed:\n%s", r.log())
	}
	if strings.Contains(r.log(), pgtest.Password) {
		t.Errorf("the receiver's log holds the password:\n%s", r.log())
	}
}
