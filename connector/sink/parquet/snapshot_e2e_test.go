package parquet

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestFailedSnapshotLeavesTheLastOneNewest reads transactions as a
// full-refresh stream, whose newest run's files are its snapshot (see
// docs/parquet.md), through the binary: a run whose read fails half-way
// must publish none of its files for that stream, so the last complete
// snapshot stays the newest; a run read to its end publishes every file of
// its snapshot, several when it has more than RowsPerFile rows. Without
// the staging, the failed run committed a file every 300 rows and one at
// its end, and the newest snapshot lacked most rows, as if the bank had
// deleted them.
func TestFailedSnapshotLeavesTheLastOneNewest(t *testing.T) {
	var mu sync.Mutex
	failAccount := "" // set for the second run
	served := map[string]int{}
	r := newWrappedRun(t, fake.Options{Items: 2, AccountsPerItem: 2, TransactionsPerAccount: 400, PageSize: 100}, func(f *fake.Server) http.Handler {
		h := f.Handler()
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/v2/transactions" {
				acct := req.URL.Query().Get("accountId")
				mu.Lock()
				served[acct]++
				fail := acct == failAccount && served[acct] == 3 // its third page
				mu.Unlock()
				if fail {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					w.Write([]byte(`{"code":400,"message":"Invalid request (injected by the test)"}`))
					return
				}
			}
			h.ServeHTTP(w, req)
		})
	})
	// Every stream full refresh.
	var cat protocol.ConfiguredCatalog
	for _, name := range r.names() {
		cat.Streams = append(cat.Streams, protocol.ConfiguredStream{Stream: r.streams[name], SyncMode: protocol.FullRefresh, DestinationSyncMode: "overwrite", PrimaryKey: r.streams[name].SourceDefinedPrimaryKey})
	}
	catalog := sourcetest.WriteFile(t, "full-refresh-catalog.json", cat)
	dir := t.TempDir()
	env := []string{RowsPerFileEnv + "=300"}
	txDir := filepath.Join(dir, "transactions")
	entries := func() (files, hidden []string) {
		des, err := os.ReadDir(txDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range des {
			if strings.HasPrefix(de.Name(), ".") {
				hidden = append(hidden, de.Name())
			} else {
				files = append(files, de.Name())
			}
		}
		return files, hidden
	}

	first := runEnv(t, env, r.bin, "read", "--config", r.config, "--catalog", catalog, "--parquet-dir", dir, "--no-records")
	if first.Code != 0 {
		t.Fatalf("first read exited %d\n%s", first.Code, first.Stderr)
	}
	before, hidden := entries()
	rows := int64(0)
	for _, name := range before {
		pf, err := file.OpenParquetFile(filepath.Join(txDir, name), false)
		sourcetest.Must(t, err, name)
		rows += pf.NumRows()
		pf.Close()
	}
	if len(before) < 2 || rows != 4*400 || len(hidden) != 0 {
		t.Fatalf("the complete snapshot: files %v holding %d rows, hidden %v; want several files, 1600 rows, none hidden", before, rows, hidden)
	}

	mu.Lock()
	failAccount = r.server.AccountIDs(r.server.ItemIDs()[1])[0]
	clear(served)
	mu.Unlock()
	accountsBefore, _ := filepath.Glob(filepath.Join(dir, "accounts", "*.parquet"))
	second := runEnv(t, env, r.bin, "read", "--config", r.config, "--catalog", catalog, "--parquet-dir", dir, "--no-records")
	sourcetest.ValidateProtocol(t, second)
	incomplete := false
	for _, m := range second.Messages {
		if s := m.Trace; s != nil && s.StreamStatus != nil && s.StreamStatus.StreamDescriptor.Name == "transactions" && s.StreamStatus.Status == protocol.Incomplete {
			incomplete = true
		}
	}
	if !incomplete {
		t.Fatalf("the injected failure did not fail the transactions stream (exit %d)\n%s", second.Code, second.Stderr)
	}
	after, hidden := entries()
	if !slices.Equal(after, before) || len(hidden) != 0 {
		t.Errorf("after a failed snapshot: files %v, hidden %v; want the last complete snapshot's %v alone", after, hidden, before)
	}
	// The streams read to their end published their new snapshot.
	if accountsAfter, _ := filepath.Glob(filepath.Join(dir, "accounts", "*.parquet")); len(accountsAfter) != len(accountsBefore)+1 {
		t.Errorf("accounts files %v after the second run, want one more than %v", accountsAfter, accountsBefore)
	}
}
