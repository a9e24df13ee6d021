package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestGoldenRuns reads every stream of catalogs/pluggy_incremental.json
// from a small seeded fake, changes the fake as a Pluggy re-sync does (new
// rows, a row updated in place, a row deleted), reads again from the first
// run's state, and compares a readable summary of both runs (statuses,
// records, tombstones, keys, logs, errors, exit code, final states;
// timestamps and dates masked) with testdata/golden/pluggy.txt.
// Regenerate with: go test ./cmd/source-pluggy -run TestGoldenRuns -update
func TestGoldenRuns(t *testing.T) {
	st.AwayFromMidnight(t)
	o := fake.Options{Seed: 7, Items: 1, TransactionsPerAccount: 20, PageSize: 8}
	e := newEnv(t, o)
	cat := filepath.Join(st.RepoRoot(), "catalogs", "pluggy_incremental.json")
	g := st.NewGolden(`source-pluggy against fake-pluggy (seed 7, 1 item, 3 accounts, 20 transactions each, pages of 8),
catalogs/pluggy_incremental.json, lookback_days 7`)
	g.Mask(e.srv.URL, "<fake>")

	r1 := e.read(cat)
	g.Run(t, "run 1: first sync, no state", r1, cat)

	added := e.fake.AddNew(2)
	updated := e.fake.UpdateInPlace(1)
	deleted := e.fake.Delete(1)
	g.Note("between the runs, at the fake: AddNew(2) added %s; UpdateInPlace(1) changed %s; Delete(1) removed %s",
		strings.Join(added, ", "), strings.Join(updated, ", "), strings.Join(deleted, ", "))

	r2 := e.read(cat, "--state", r1.StateFile(t))
	g.Run(t, "run 2: from run 1's final state", r2, cat)

	st.CheckGolden(t, filepath.Join("testdata", "golden", "pluggy.txt"), g.String(), *update,
		"go test ./cmd/source-pluggy -run TestGoldenRuns -update")
}
