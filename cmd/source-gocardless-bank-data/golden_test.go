package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestGoldenRuns reads every stream of
// catalogs/gocardless_bank_data_incremental.json from a small seeded fake,
// changes the fake as a bank does between two syncs (new booked rows; a
// pending row that books, one that changes its amount and a new one),
// reads again from the first run's state, and compares a readable summary
// of both runs (statuses, records, keys, logs, errors, exit code, final
// states; timestamps and dates masked) with
// testdata/golden/gocardless.txt.
// Regenerate with: go test ./cmd/source-gocardless-bank-data -run TestGoldenRuns -update
func TestGoldenRuns(t *testing.T) {
	st.AwayFromMidnight(t)
	e := newEnv(t, fake.Options{Seed: 7, Requisitions: 1, TransactionsPerAccount: 12})
	cat := filepath.Join(st.RepoRoot(), "catalogs", "gocardless_bank_data_incremental.json")
	g := st.NewGolden(`source-gocardless-bank-data against fake-gocardless-bank-data (seed 7, 1 requisition,
2 accounts, 12 booked rows each), catalogs/gocardless_bank_data_incremental.json,
start_date 2000-01-01, lookback_days 7`)
	g.Mask(e.srv.URL, "<fake>")
	// Hashes of dated content (pending rows, balances) change with the day.
	g.MaskPattern(`sha256:[0-9a-f]{64}`, "sha256:<hash>")
	g.MaskPattern(`": "[0-9a-f]{16}"`, `": "<hash>"`)

	r1 := e.read(cat)
	g.Run(t, "run 1: first sync, no state", r1, cat)

	accts := e.accounts()
	added := e.fake.AddBooked(accts[0], 2)
	e.fake.ChangePending(accts[1])
	g.Note("between the runs, at the fake: AddBooked(%s, 2) booked %s; ChangePending(%s) booked one pending row, changed another's amount and added one",
		accts[0], strings.Join(added, ", "), accts[1])

	r2 := e.read(cat, "--state", r1.StateFile(t))
	g.Run(t, "run 2: from run 1's final state", r2, cat)

	st.CheckGolden(t, filepath.Join("testdata", "golden", "gocardless.txt"), g.String(), *update,
		"go test ./cmd/source-gocardless-bank-data -run TestGoldenRuns -update")
}
