package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/pluggy"
	pluggyfake "github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestPostgresSchemaOfAnotherProviderRefused: a --postgres-schema that
// holds source-pluggy's tables (one schema "bank" for every connector) is
// refused with a config_error naming the provider it holds and the fix,
// before anything is written or any call to the API: the run added
// GoCardless's columns to Pluggy's accounts table and merged its accounts
// among Pluggy's (both keyed by id), and Pluggy's next full refresh
// emptied the table of them. The Parquet sink refuses a folder of another
// provider's files the same way.
func TestPostgresSchemaOfAnotherProviderRefused(t *testing.T) {
	url := pgtest.DB(t)
	pf := pluggyfake.New(pluggyfake.Options{Items: 1, TransactionsPerAccount: 5})
	psrv := httptest.NewServer(pf.Handler())
	t.Cleanup(psrv.Close)
	pcfg := map[string]any{"client_id": pf.ClientID(), "client_secret": pf.ClientSecret(), "item_ids": pf.ItemIDs(), "base_url": psrv.URL, "requests_per_minute": 0}
	r := st.Run(t, st.Build(t, "source-pluggy"), "read", "--config", st.ConfigFile(t, pcfg, nil), "--catalog", st.CatalogFile(t, pluggy.Source{}, pcfg, true, "accounts"),
		"--postgres", url, "--postgres-schema", "bank", "--no-records")
	if r.Code != 0 {
		t.Fatalf("source-pluggy: exit %d, %v", r.Code, r.ErrorTraces())
	}
	conn := pgtest.Connect(t, url)
	before := pgtest.Rows(t, conn, `SELECT count(*) FROM bank.accounts`)
	columns := pgtest.Rows(t, conn, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'bank' AND table_name = 'accounts'`)

	e := newEnv(t, fake.Options{})
	r = st.Run(t, e.bin, "read", "--config", e.config(nil), "--catalog", e.catalog(true, "accounts"), "--postgres", url, "--postgres-schema", "bank", "--detailed-exit-codes")
	if len(r.ErrorTraces()) != 1 || r.Code != 78 {
		t.Fatalf("exit %d, traces %v; want one config_error, exit 78", r.Code, r.ErrorTraces())
	}
	tr := r.ErrorTraces()[0]
	for _, want := range []string{`schema "bank" holds pluggy data (the comment on "bank"."_state" says so)`, "this run is of gocardless", "nothing was written", "its own --postgres-schema", "postgres://postgres:xxxxx@"} {
		if !strings.Contains(tr.Message, want) {
			t.Errorf("error %q lacks %q", tr.Message, want)
		}
	}
	if tr.FailureType != protocol.ConfigError {
		t.Errorf("failure type %s", tr.FailureType)
	}
	if len(r.Records()) != 0 {
		t.Error("the run read records")
	}
	if after := pgtest.Rows(t, conn, `SELECT count(*) FROM bank.accounts`); after[0] != before[0] {
		t.Errorf("bank.accounts went from %s rows to %s", before[0], after[0])
	}
	if after := pgtest.Rows(t, conn, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'bank' AND table_name = 'accounts'`); after[0] != columns[0] {
		t.Errorf("bank.accounts went from %s columns to %s", columns[0], after[0])
	}
	// Its own schema loads.
	e.read(e.catalog(true, "accounts"), "--postgres", url)
}
