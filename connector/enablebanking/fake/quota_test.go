package fake

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestQuotaModels: each counting unit and window of Options (the
// reference, §5) refuses the call it should, and no other.
func TestQuotaModels(t *testing.T) {
	start := time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC)
	type step struct {
		advance  time.Duration
		account  int // of the session's accounts
		endpoint string
		want     int
	}
	for _, c := range []struct {
		name  string
		opts  Options
		steps []step
	}{
		{"per endpoint, rolling", Options{DailyLimit: 1}, []step{
			{0, 0, EndpointBalances, 200}, {0, 0, EndpointBalances, 429}, {0, 0, EndpointDetails, 200},
			{0, 1, EndpointBalances, 200}, {23 * time.Hour, 0, EndpointBalances, 429}, {time.Hour, 0, EndpointBalances, 200},
		}},
		{"per account", Options{DailyLimit: 2, QuotaUnit: QuotaPerAccount}, []step{
			{0, 0, EndpointBalances, 200}, {0, 0, EndpointDetails, 200}, {0, 0, EndpointTransactions, 429},
			{0, 1, EndpointTransactions, 200},
		}},
		{"per session", Options{DailyLimit: 2, QuotaUnit: QuotaPerSession}, []step{
			{0, 0, EndpointBalances, 200}, {0, 1, EndpointDetails, 200}, {0, 1, EndpointTransactions, 429},
			{0, 0, EndpointTransactions, 429}, {24 * time.Hour, 1, EndpointTransactions, 200},
		}},
		// 20:00, reset at 02:00 UTC: the day ends 6 hours after the call.
		{"calendar day", Options{DailyLimit: 1, QuotaWindow: QuotaCalendarDay, QuotaResetHour: 2}, []step{
			{0, 0, EndpointBalances, 200}, {5 * time.Hour, 0, EndpointBalances, 429}, {time.Hour, 0, EndpointBalances, 200},
			{20 * time.Hour, 0, EndpointBalances, 429},
		}},
		{"first call free", Options{DailyLimit: 1, QuotaFirstCallFree: true, QuotaUnit: QuotaPerSession}, []step{
			{0, 0, EndpointBalances, 200}, {0, 1, EndpointBalances, 200}, {0, 1, EndpointBalances, 429},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.opts
			o.Sessions = 1
			o.Now = func() time.Time { return start }
			f := New(o)
			srv := httptest.NewServer(f.Handler())
			defer srv.Close()
			uids := f.AccountUIDs(f.SessionIDs()[0])
			for i, s := range c.steps {
				f.AdvanceClock(s.advance)
				tok := sign(t, f.opts.Key, f.ApplicationID(), f.Now(), time.Hour, jwt.SigningMethodRS256)
				path := "/accounts/" + uids[s.account] + "/" + s.endpoint
				if s.endpoint == EndpointTransactions {
					path += "?date_from=2026-03-01"
				}
				code, body := get(t, srv, path, tok)
				if code != s.want || code == 429 && body["error"] != "ASPSP_RATE_LIMIT_EXCEEDED" {
					t.Fatalf("step %d (%s of account %d at %s): %d %v, want %d", i, s.endpoint, s.account, f.Now(), code, body, s.want)
				}
			}
		})
	}
	f := New(Options{QuotaWindow: QuotaCalendarDay, QuotaResetHour: 2, Now: func() time.Time { return start }})
	if got, want := f.QuotaDayStart(start), time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("day start %s, want %s", got, want)
	}
	if got, want := f.QuotaDayStart(start.Add(6*time.Hour)), time.Date(2026, 3, 11, 2, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("day start at the reset %s, want %s", got, want)
	}
}
