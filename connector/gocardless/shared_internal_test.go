package gocardless

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/source"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// openFake serves a fake of 40 rows an account and opens a conn to it.
func openFake(t *testing.T, requisitions int) (*fake.Server, *conn) {
	f := fake.New(fake.Options{Requisitions: requisitions, TransactionsPerAccount: 40})
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return f, sourcetest.Open(t, Source{}, map[string]any{
		"secret_id": f.SecretID(), "secret_key": f.SecretKey(), "requisition_ids": f.RequisitionIDs(),
		"base_url": srv.URL + "/api/v2", "start_date": "2000-01-01",
	}).(*conn)
}

// TestSharedAnswerIsFreedAsRead: an account's one transactions answer
// serves two streams, and the run keeps each part only until its stream
// has read it (or not at all, for a stream the run does not read), so a
// read's memory is that of the accounts being read, not of every account
// read so far.
func TestSharedAnswerIsFreedAsRead(t *testing.T) {
	for _, pc := range sourcetest.PlanCases(transactionsName, pendingName) {
		t.Run(pc.Name, func(t *testing.T) {
			f, c := openFake(t, 2)
			records := sourcetest.ReadPlanned(t, c, pc)
			booked, pending := 0, 0
			for _, r := range f.RequisitionIDs() {
				for _, a := range f.AccountIDs(r) {
					booked += len(f.Booked(a))
					pending += len(f.Pending(a))
					resp, err := c.transactions.Get(a, func() (*txResponse, error) { return nil, errors.New("never fetched") })
					if err != nil {
						t.Fatalf("account %s: %v", a, err)
					}
					if _, err := resp.booked.Take(); !errors.Is(err, source.ErrPartGone) {
						t.Errorf("account %s: the booked rows are still held after the run (%v)", a, err)
					}
					if _, err := resp.pending.Take(); !errors.Is(err, source.ErrPartGone) {
						t.Errorf("account %s: the pending rows are still held after the run (%v)", a, err)
					}
				}
			}
			if n, ok := records[transactionsName]; ok && n != booked {
				t.Errorf("%d booked records, the fake has %d", n, booked)
			}
			if n, ok := records[pendingName]; ok && n != pending {
				t.Errorf("%d pending records, the fake has %d", n, pending)
			}
			if pending == 0 {
				t.Error("the fake has no pending rows; the test proves less than it says")
			}
		})
	}
}

// TestPendingRowsDoNotKeepTheBody: the booked rows are slices of the
// answer's body, and the pending rows, which the other stream may read
// after the booked rows are let go, are copied out of it: otherwise they
// would keep every account's whole body to the end of that stream.
func TestPendingRowsDoNotKeepTheBody(t *testing.T) {
	_, c := openFake(t, 1)
	ctx := context.Background()
	refs, err := c.readable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sawPending := false
	for _, a := range refs {
		resp, err := c.accountTransactions(ctx, a, txWindow{from: c.oldestDay(ctx, a), pending: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := resp.booked.Take(); err != nil {
			t.Fatal(err)
		}
		pending, err := resp.pending.Take()
		if err != nil {
			t.Fatal(err)
		}
		// In the body, a comma separates two rows; copied out, they lie
		// back to back.
		for i := 1; i < len(pending); i++ {
			sawPending = true
			if !sourcetest.BackToBack(pending[i-1].raw, pending[i].raw) {
				t.Fatalf("account %s: the pending rows are slices of the body", a.ID)
			}
		}
	}
	if !sawPending {
		t.Fatal("the fake has no account with two pending rows; the test proves nothing")
	}
}
