package main

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPostgresSecondSessionRefusedFarAway: a read's second session that
// PgBouncer refuses as one client too many (max_client_conn = 1) is a
// config_error saying it was refused, "no more connections allowed",
// though the server is far away (a link holding each connection's first
// write 1 s: a long round trip, TLS). The run tries such a refusal again
// for up to 1.5 s after PgBouncer refused the session's startup
// parameters (idle_session_timeout, which this PgBouncer does not ignore),
// and the second session's 5 s ran out during a try: the error said it
// "did not come within 5s", a pooler holding it for a server session,
// where PgBouncer had refused it at once, and said so, at every try.
func TestPostgresSecondSessionRefusedFarAway(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 5})
	url := pgtest.DB(t)
	// The first session's startup parameters ignored, so that the second
	// is the first that PgBouncer refuses one of.
	pool := pgtest.PgBouncer(t, url, pgtest.SessionPool, "statement_timeout", "idle_in_transaction_session_timeout")
	pgtest.PgBouncerSet(t, pool, "max_client_conn", "1")
	far := pgtest.SlowWrites(t, pool, time.Second, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"), "--postgres", far, "--detailed-exit-codes")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	r := st.Parse(t, stdout.Bytes())
	r.Code, r.Stderr = cmd.ProcessState.ExitCode(), stderr.Bytes()
	tr := st.FailedWith(t, r, protocol.ConfigError, 78, "the run's second connection was refused (no more connections allowed (max_client_conn))", "nothing was written", "max_client_conn with room for both")
	if bytes.Contains([]byte(tr.Message), []byte("did not come within")) {
		t.Errorf("a refusal taken for a session that did not come: %s", tr.Message)
	}
}
