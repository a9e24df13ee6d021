package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
)

// TestPostgresRestoredRowComesBack: Pluggy may undo a deletion it made
// during bank instability (pluggy-api.md §12), serving the row again under
// its id, with a new updatedAt or with the one it had (the reference says
// neither). The run that finds it again must make it live in PostgreSQL,
// where its tombstone had set _deleted_at. The merge let a deleted row come
// back only with an updatedAt after its deletion: with updatedAt written
// without its zone (Pluggy's UTC times, value formats), the typed column
// is null for the row, and with updatedAt unchanged it is older than the
// deletion; either kept the row deleted for good.
func TestPostgresRestoredRowComesBack(t *testing.T) {
	for _, c := range []struct {
		name      string
		zoneless  bool
		unchanged bool
	}{
		{"with zone", false, false},
		{"without zone", true, false},
		{"updatedAt unchanged", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, fake.Options{Items: 1, TransactionsPerAccount: 60, TransactionTimesWithoutZone: c.zoneless})
			url := pgtest.DB(t)
			cat := e.catalog(true, "transactions")
			e.readFast(cat, "--postgres", url)
			conn := pgtest.Connect(t, url)
			deletedAt := func(ids []string) map[string]string {
				t.Helper()
				out := map[string]string{}
				for _, r := range pgRows(t, conn, `SELECT id, coalesce(_deleted_at::text, 'live') FROM pluggy.transactions WHERE id = ANY($1)`, ids) {
					id, v, _ := strings.Cut(r, "|")
					out[id] = v
				}
				return out
			}

			gone := e.fake.Delete(2)
			if len(gone) == 0 {
				t.Fatal("the fake deleted nothing")
			}
			e.readFast(cat, "--postgres", url)
			for id, v := range deletedAt(gone) {
				if v == "live" {
					t.Fatalf("row %s, deleted, is live after the run that found it gone", id)
				}
			}

			restore := e.fake.Restore
			if c.unchanged {
				restore = e.fake.RestoreUnchanged
			}
			back := restore(gone)
			if len(back) != len(gone) {
				t.Fatalf("the fake restored %v of %v", back, gone)
			}
			e.readFast(cat, "--postgres", url)
			got := deletedAt(back)
			for _, id := range back {
				if got[id] != "live" {
					t.Errorf("row %s, served again, is %q after the run that read it again; want live", id, got[id])
				}
			}
			if n, want := pgRows(t, conn, `SELECT count(*) FROM pluggy.transactions WHERE _deleted_at IS NULL`), fmt.Sprint(len(e.servedIDs())); len(n) != 1 || n[0] != want {
				t.Errorf("%v live rows, want the %s the fake serves", n, want)
			}
		})
	}
}
