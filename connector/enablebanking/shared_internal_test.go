package enablebanking

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestSharedAnswerIsFreedAsRead: an account's one transactions call chain
// serves two streams, and the run keeps each part only until its stream
// has read it (or not at all, for a stream the run does not read), so a
// read's memory is that of the accounts being read, not of every account
// read so far, whichever stream asks first.
func TestSharedAnswerIsFreedAsRead(t *testing.T) {
	for _, pc := range sourcetest.PlanCases(transactionsName, pendingName) {
		t.Run(pc.Name, func(t *testing.T) {
			f, c := openFake(t, fake.Options{TransactionsPerAccount: 40})
			records := sourcetest.ReadPlanned(t, c, pc)
			refs, err := c.readable(context.Background())
			if err != nil || len(refs) == 0 {
				t.Fatalf("%d accounts: %v", len(refs), err)
			}
			booked, pending := 0, 0
			for _, a := range refs {
				booked += len(f.Booked(a.UID))
				pending += len(f.Pending(a.UID))
				ans, err := c.transactions.Get(a.Key, func() (*txAnswer, error) { return nil, errors.New("never fetched") })
				if err != nil {
					t.Fatalf("account %s: %v", a.Key, err)
				}
				if _, err := ans.booked.Take(); !errors.Is(err, source.ErrPartGone) {
					t.Errorf("account %s: the booked rows are still held after the run (%v)", a.Key, err)
				}
				if _, err := ans.pending.Take(); !errors.Is(err, source.ErrPartGone) {
					t.Errorf("account %s: the pending rows are still held after the run (%v)", a.Key, err)
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

// TestPendingRowsDoNotKeepThePages: the pending rows, which may wait for
// their stream until the booked one has read every account, are copied
// out of the pages they were decoded from, so they do not keep those pages
// (their fields never were slices of the page: TestDecodeTxPageRows).
func TestPendingRowsDoNotKeepThePages(t *testing.T) {
	_, c := openFake(t, fake.Options{TransactionsPerAccount: 40, PageSize: 7})
	ctx := context.Background()
	refs, err := c.readable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sawPending := false
	for _, a := range refs {
		ans, err := c.accountTransactions(ctx, a, c.oldestDay())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ans.booked.Take(); err != nil {
			t.Fatal(err)
		}
		pending, err := ans.pending.Take()
		if err != nil {
			t.Fatal(err)
		}
		// In a page, a comma separates two rows; copied out, they lie
		// back to back.
		for i := 1; i < len(pending); i++ {
			sawPending = true
			if !sourcetest.BackToBack(pending[i-1].raw, pending[i].raw) {
				t.Fatalf("account %s: the pending rows are slices of their pages", a.Key)
			}
		}
	}
	if !sawPending {
		t.Fatal("the fake has no account with two pending rows; the test proves nothing")
	}
}

// TestFullRefreshRemembersNoKeys: the keys of the rows the next run
// re-reads are the incremental state's, and a full_refresh read, whose
// state is never emitted, does not build them: held for every account
// until the stream ended, they were what grew most with the accounts of a
// read to Parquet (docs/performance.md#enable-banking-transactions). The
// state the stream hands its output is checked in both modes: an
// incremental read must still remember them.
func TestFullRefreshRemembersNoKeys(t *testing.T) {
	for _, mode := range []protocol.SyncMode{protocol.FullRefresh, protocol.Incremental} {
		t.Run(string(mode), func(t *testing.T) {
			_, c := openFake(t, fake.Options{TransactionsPerAccount: 40})
			var out sourcetest.Output
			if err := (&transactionsStream{c: c}).Read(context.Background(), source.ReadRequest{Mode: mode}, &out); err != nil {
				t.Fatal(err)
			}
			st, ok := out.State().(*quota.State[txPos, usage])
			if !ok {
				t.Fatalf("the last checkpoint is %T, not the transactions state", out.State())
			}
			accounts, keys := 0, 0
			for _, pos := range st.Accounts {
				accounts++
				keys += len(pos.Keys)
				if pos.BookedThrough == "" {
					t.Errorf("an account has no booked_through: %+v", pos)
				}
			}
			if out.Records() == 0 || accounts == 0 {
				t.Fatalf("%d records, %d accounts: the test proves nothing", out.Records(), accounts)
			}
			if mode == protocol.FullRefresh && keys > 0 {
				t.Errorf("a full_refresh read remembered %d keys its state will never carry", keys)
			}
			if mode == protocol.Incremental && keys == 0 {
				t.Error("an incremental read remembered no keys for the next run")
			}
		})
	}
}

// openFake serves a fake with opts and opens a connection to it that
// reads every row since 2000, pending ones included.
func openFake(t *testing.T, opts fake.Options) (*fake.Server, *conn) {
	t.Helper()
	return openFakeWith(t, opts, nil)
}

// openFakeWith is openFake with wrap (if not nil) in front of the fake's
// handler. The connection's clock is the fake's, when opts has one.
func openFakeWith(t *testing.T, opts fake.Options, wrap func(http.Handler) http.Handler) (*fake.Server, *conn) {
	t.Helper()
	f := fake.New(opts)
	h := f.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := sourcetest.Open(t, Source{Now: opts.Now}, map[string]any{
		"application_id": f.ApplicationID(), "private_key": f.PrivateKeyPEM(), "session_ids": f.SessionIDs(),
		"base_url": srv.URL, "start_date": "2000-01-01", "include_pending": true,
	}).(*conn)
	return f, c
}
