package enablebanking

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// TestTimedOutAccountIsNamed: an account whose transactions call runs out
// of the attempt's timeout (the bank behind Enable Banking never answers)
// fails naming the account and the timeout, as every other failure of an
// account call does. The client's "context deadline exceeded" was passed
// on bare, as the run's own end would be, so the ERROR trace named no
// account, and every account's read the same and was said once.
func TestTimedOutAccountIsNamed(t *testing.T) {
	_, c := openFakeWith(t, fake.Options{TransactionsPerAccount: 5}, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/transactions") {
				<-r.Context().Done()
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	c.client.http.Timeout = 200 * time.Millisecond // the production 60 s, shortened
	c.client.http.MaxRetries = 0
	ctx := context.Background()
	refs, err := c.readable(ctx)
	if err != nil || len(refs) == 0 {
		t.Fatalf("%d accounts: %v", len(refs), err)
	}
	for _, a := range refs {
		_, err := c.accountTransactions(ctx, a, c.oldestDay())
		if err == nil {
			t.Fatalf("account %s: read through a call that never answered", a.Key)
		}
		for _, want := range []string{"account " + a.Key, "no answer within 200ms"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("account %s: error %q does not say %q", a.Key, err, want)
			}
		}
		if ft := source.FailureTypeOf(err); ft != protocol.TransientError {
			t.Errorf("account %s: failure type %s, want transient_error", a.Key, ft)
		}
	}
}
