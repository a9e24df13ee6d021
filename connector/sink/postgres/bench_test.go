package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
	"github.com/source-pluggy/source-pluggy/connector/source"
	"github.com/source-pluggy/source-pluggy/schemas"
)

// BenchmarkLoadTransactions loads 1,000,000 transactions as the fake
// serves them (20,000 distinct rows, cycled under fresh ids) into a table,
// handing a checkpoint with a state to the background merge every 50,000
// rows (as the binary's sink does), and reports rows/s and the seconds
// the reading waited for merges. The whole binary's figure,
// side by side with the JSON-lines read, comes from the bench tool.
func BenchmarkLoadTransactions(b *testing.B) {
	f := fake.New(fake.Options{Items: 1, AccountsPerItem: 4, TransactionsPerAccount: 5000})
	var recs []json.RawMessage
	for _, item := range f.ItemIDs() {
		for _, acct := range f.AccountIDs(item) {
			recs = append(recs, f.Transactions(acct)...)
		}
	}
	schema, err := fs.ReadFile(schemas.Pluggy, "pluggy/transactions.json")
	if err != nil {
		b.Fatal(err)
	}
	// POSTGRES_BENCH_URL loads into a server of your own (its settings
	// matter: pgtest's runs without fsync).
	url := os.Getenv("POSTGRES_BENCH_URL")
	if url == "" {
		url = pgtest.DB(b)
	}
	d, err := Open(context.Background(), Options{URL: url, Connector: "source-bench"}, []Stream{{Name: "transactions", Schema: schema, PrimaryKey: [][]string{{"id"}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	const n = 1_000_000
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		var waited time.Duration
		tb, _ := d.Table(context.Background(), "transactions", true)
		var buf []byte
		for i := range n {
			rec := recs[i%len(recs)]
			j := bytes.Index(rec, []byte(`"id":"`)) + 6
			buf = append(append(append(buf[:0], rec[:j]...), fmt.Sprintf("%08x", i)...), rec[j+8:]...)
			if err := tb.Write(buf); err != nil {
				b.Fatal(err)
			}
			if i%50000 == 49999 {
				c := time.Now()
				if err := tb.Flush(source.StateOf(json.RawMessage(`{}`)), tb.Seq()); err != nil {
					b.Fatal(err)
				}
				waited += time.Since(c)
			}
		}
		c := time.Now()
		if _, err := tb.Wait(); err != nil {
			b.Fatal(err)
		}
		waited += time.Since(c)
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
		b.ReportMetric(waited.Seconds(), "wait-s")
	}
}
