package fake

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkMillionRowsPrewarm measures building and pre-encoding the
// benchmark dataset: 100 accounts × 10,000 transactions.
//
//	go test -run=^$ -bench=MillionRows -benchtime=1x ./connector/pluggy/fake/
func BenchmarkMillionRowsPrewarm(b *testing.B) {
	for range b.N {
		s := New(Options{Items: 25, AccountsPerItem: 4, TransactionsPerAccount: 10000, Now: func() time.Time { return testNow }})
		start := time.Now()
		s.Prewarm()
		b.ReportMetric(time.Since(start).Seconds(), "prewarm-s")
		if n, _, _ := s.TransactionSummary(); n != 1_000_000 {
			b.Fatalf("%d rows", n)
		}
	}
}

// BenchmarkCachedPage measures serving one pre-encoded 500-row page.
func BenchmarkCachedPage(b *testing.B) {
	s := New(Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 2000, Now: func() time.Time { return testNow }})
	s.Prewarm()
	key := s.issueKey()
	req := httptest.NewRequest(http.MethodGet, "/v2/transactions?accountId="+s.AccountIDs(s.ItemIDs()[0])[0]+"&dateFrom=2000-01-01", nil)
	req.Header.Set("X-API-KEY", key)
	h := s.Handler()
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
		b.SetBytes(int64(w.Body.Len()))
	}
}
