package main

import (
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPostgresEmptySchemaRefused: --postgres-schema "" (a cron job's
// --postgres-schema "$CUSTOMER" with the variable unset) is a config_error
// naming the flag, not a load into the default schema, where one
// customer's rows would land among another's; nothing is written.
func TestPostgresEmptySchemaRefused(t *testing.T) {
	e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 5})
	url := pgtest.DB(t)
	r := st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "transactions"),
		"--postgres", url, "--postgres-schema", "")
	if r.Code != 1 || len(r.ErrorTraces()) != 1 {
		t.Fatalf("exit %d, traces %v", r.Code, r.ErrorTraces())
	}
	if tr := r.ErrorTraces()[0]; tr.FailureType != protocol.ConfigError || !strings.Contains(tr.Message, "--postgres-schema is empty") {
		t.Errorf("error %s %q, want a config_error saying --postgres-schema is empty", tr.FailureType, tr.Message)
	}
	if len(r.Records()) != 0 {
		t.Error("the run read records")
	}
	if got := pgRows(t, pgtest.Connect(t, url), `SELECT count(*) FROM pg_namespace WHERE nspname = 'pluggy'`); got[0] != "0" {
		t.Error(`the run made schema "pluggy"`)
	}
}
