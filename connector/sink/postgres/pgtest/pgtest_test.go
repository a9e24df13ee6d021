package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestServerAnswers(t *testing.T) {
	url := DB(t)
	conn := Connect(t, url)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT 40 + 2").Scan(&n); err != nil || n != 42 {
		t.Fatalf("SELECT 40 + 2 = %d, %v", n, err)
	}
}

// TestPgBouncer: PgBouncer answers through the helper in each pool mode,
// refuses a startup parameter it does not track with the text the sink's
// fallback and docs/postgres.md quote, and takes it where told to ignore
// it.
func TestPgBouncer(t *testing.T) {
	url := DB(t)
	for _, mode := range []PoolMode{SessionPool, TransactionPool, StatementPool} {
		conn := Connect(t, PgBouncer(t, url, mode))
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT 40 + 2").Scan(&n); err != nil || n != 42 {
			t.Fatalf("%s: SELECT 40 + 2 = %d, %v", mode, n, err)
		}
	}
	ctx := context.Background()
	_, err := pgx.Connect(ctx, PgBouncer(t, url, SessionPool)+"&statement_timeout=0")
	if err == nil || !strings.Contains(err.Error(), "unsupported startup parameter: statement_timeout") {
		t.Errorf("connecting with statement_timeout: %v, want PgBouncer's unsupported startup parameter", err)
	}
	conn := Connect(t, PgBouncer(t, url, SessionPool, "statement_timeout")+"&statement_timeout=1234")
	var v string
	if err := conn.QueryRow(ctx, "SHOW statement_timeout").Scan(&v); err != nil || v != "0" {
		t.Errorf("statement_timeout through a PgBouncer ignoring it = %q, %v; want it dropped (0)", v, err)
	}
}
