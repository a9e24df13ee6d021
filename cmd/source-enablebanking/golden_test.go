package main

import (
	"path/filepath"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestGoldenRuns reads every stream of catalogs/enablebanking_incremental.json
// from a small seeded fake, changes the fake as banks do between two syncs
// (new booked rows, new references for the last days' rows, a pending row
// that books under a new reference), reads again from the first run's
// state, and compares a readable summary of both runs (statuses, records,
// keys, logs, errors, exit code, final states; timestamps, dates and
// fingerprints of dated rows masked) with testdata/golden/enablebanking.txt.
// Regenerate with: go test ./cmd/source-enablebanking -run TestGoldenRuns -update
func TestGoldenRuns(t *testing.T) {
	st.AwayFromMidnight(t)
	e := newEnv(t, fake.Options{Seed: 7, Sessions: 1, TransactionsPerAccount: 12, PageSize: 5})
	cat := filepath.Join(st.RepoRoot(), "catalogs", "enablebanking_incremental.json")
	g := st.NewGolden(`source-enablebanking against fake-enablebanking (seed 7, 1 session, 2 accounts, 12 booked rows each,
pages of 5), catalogs/enablebanking_incremental.json, start_date 2000-01-01, lookback_days 7, include_pending`)
	g.Mask(e.srv.URL, "<fake>")
	// Fingerprints and hashes of dated rows change with the day.
	g.MaskPattern(`\bfp:[0-9a-f]{32}`, "fp:<fingerprint>")
	g.MaskPattern(`"fp": "[0-9a-f]{32}"`, `"fp": "<fingerprint>"`)
	g.MaskPattern(`sha256:[0-9a-f]{64}`, "sha256:<hash>")

	r1 := e.read(cat)
	g.Run(t, "run 1: first sync, no state", r1, cat)

	uids := e.accounts()
	e.fake.AddBooked(uids[0], 2)
	e.fake.ChangeReferences(uids[0], 3)
	e.fake.BookPending(uids[1])
	g.Note("between the runs, at the fake: AddBooked(%s, 2); ChangeReferences(%s, 3 days); BookPending(%s)", uids[0], uids[0], uids[1])

	r2 := e.read(cat, "--state", r1.StateFile(t))
	g.Run(t, "run 2: from run 1's final state", r2, cat)

	st.CheckGolden(t, filepath.Join("testdata", "golden", "enablebanking.txt"), g.String(), *update,
		"go test ./cmd/source-enablebanking -run TestGoldenRuns -update")
}
