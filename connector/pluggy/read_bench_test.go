package pluggy_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// BenchmarkRead runs a whole `read` of the transactions stream in process,
// against the fake on loopback serving pre-encoded pages, with stdout
// discarded: the decode→emit→encode path plus HTTP, for pprof.
//
//	go test -run=^$ -bench=BenchmarkRead/100x10000 -benchtime=1x -cpuprofile=cpu.prof ./connector/pluggy/
//
// The fake shares the process, so a profile shows its serving cost too;
// dev/pluggy-bench measures the binary alone.
func BenchmarkRead(b *testing.B) {
	for _, bc := range []struct {
		name           string
		items, perItem int
		rows           int
	}{
		{"100x1000", 25, 4, 1000},
		{"100x10000", 25, 4, 10000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := fake.New(fake.Options{Items: bc.items, AccountsPerItem: bc.perItem, TransactionsPerAccount: bc.rows})
			f.Prewarm()
			srv := httptest.NewServer(f.Handler())
			defer srv.Close()
			dir := b.TempDir()
			cfg := writeJSON(b, dir, "config.json", map[string]any{
				"client_id": f.ClientID(), "client_secret": f.ClientSecret(), "item_ids": f.ItemIDs(),
				"base_url": srv.URL, "requests_per_minute": 0, "start_date": "2000-01-01",
			})
			conn, err := pluggy.Source{}.Open(context.Background(), mustRead(b, cfg), source.Env{Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			var streams []source.Stream
			for _, s := range conn.Streams() {
				if s.Name() == "transactions" {
					streams = append(streams, s)
				}
			}
			cat := writeJSON(b, dir, "catalog.json", source.Configure(streams, true))
			rows := int64(bc.items * bc.perItem * bc.rows)
			b.ResetTimer()
			start := time.Now()
			var n int64
			for range b.N {
				// stdout is a pipe read by another goroutine, as in production.
				pr, pw, err := os.Pipe()
				if err != nil {
					b.Fatal(err)
				}
				done := make(chan int64)
				go func() {
					c, _ := io.Copy(io.Discard, pr)
					done <- c
				}()
				r := &source.Runner{Source: pluggy.Source{}}
				code := r.Run(context.Background(), []string{"read", "--config", cfg, "--catalog", cat}, pw, io.Discard)
				pw.Close()
				n += <-done
				pr.Close()
				if code != 0 {
					b.Fatalf("read exited %d", code)
				}
			}
			sec := time.Since(start).Seconds()
			b.ReportMetric(float64(rows)*float64(b.N)/sec, "records/s")
			b.SetBytes(n / int64(b.N))
		})
	}
}

func writeJSON(tb testing.TB, dir, name string, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
