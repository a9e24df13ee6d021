package gocardless

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"unsafe"

	"github.com/source-pluggy/source-pluggy/connector/gocardless/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
	"github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestSharedAnswerIsFreedAsRead: an account's one transactions answer
// serves two streams, and the run keeps each part only until its stream
// has read it (or not at all, for a stream the run does not read), so a
// read's memory is that of the accounts being read, not of every account
// read so far.
func TestSharedAnswerIsFreedAsRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plan  []string // nil: no plan, as outside the runtime
		reads []string
	}{
		{"both streams", []string{transactionsName, pendingName}, []string{transactionsName, pendingName}},
		{"pending first", []string{pendingName, transactionsName}, []string{pendingName, transactionsName}},
		{"booked only", []string{transactionsName}, []string{transactionsName}},
		{"pending only", []string{pendingName}, []string{pendingName}},
		{"no plan", nil, []string{transactionsName, pendingName}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fake.New(fake.Options{Requisitions: 2, TransactionsPerAccount: 40})
			srv := httptest.NewServer(f.Handler())
			t.Cleanup(srv.Close)
			cfg, _ := json.Marshal(map[string]any{
				"secret_id": f.SecretID(), "secret_key": f.SecretKey(), "requisition_ids": f.RequisitionIDs(),
				"base_url": srv.URL + "/api/v2", "start_date": "2000-01-01",
			})
			opened, err := Source{}.Open(context.Background(), cfg, source.Env{Secrets: &secret.Redactor{}, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			c := opened.(*conn)
			if tc.plan != nil {
				c.PlanRead(tc.plan)
			}
			streams := map[string]source.Stream{}
			for _, s := range c.Streams() {
				streams[s.Name()] = s
			}
			records := map[string]int{}
			for _, name := range tc.reads {
				var out sourcetest.Counter
				if err := streams[name].Read(context.Background(), source.ReadRequest{Mode: protocol.FullRefresh}, &out); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				records[name] = out.Records()
			}
			var accounts []string
			for _, r := range f.RequisitionIDs() {
				accounts = append(accounts, f.AccountIDs(r)...)
			}
			booked, pending := 0, 0
			for _, a := range accounts {
				booked += len(f.Booked(a))
				pending += len(f.Pending(a))
				resp, err := c.transactions.Get(a, func() (*txResponse, error) {
					t.Fatalf("account %s: its transactions were never fetched", a)
					return nil, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := resp.booked.Take(); !errors.Is(err, source.ErrPartGone) {
					t.Errorf("account %s: the booked rows are still held after the run (%v)", a, err)
				}
				if _, err := resp.pending.Take(); !errors.Is(err, source.ErrPartGone) {
					t.Errorf("account %s: the pending rows are still held after the run (%v)", a, err)
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
	f := fake.New(fake.Options{Requisitions: 1, TransactionsPerAccount: 40})
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	cfg, _ := json.Marshal(map[string]any{
		"secret_id": f.SecretID(), "secret_key": f.SecretKey(), "requisition_ids": f.RequisitionIDs(),
		"base_url": srv.URL + "/api/v2", "start_date": "2000-01-01",
	})
	opened, err := Source{}.Open(context.Background(), cfg, source.Env{Secrets: &secret.Redactor{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c := opened.(*conn)
	refs, err := c.readable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sawPending := false
	for _, a := range refs {
		resp, err := c.accountTransactions(context.Background(), a, txWindow{from: c.oldestDay(context.Background(), a), pending: true})
		if err != nil {
			t.Fatal(err)
		}
		booked, err := resp.booked.Take()
		if err != nil {
			t.Fatal(err)
		}
		pending, err := resp.pending.Take()
		if err != nil {
			t.Fatal(err)
		}
		if len(booked) == 0 {
			t.Fatalf("account %s: no booked rows", a.ID)
		}
		// In the body, a comma separates two rows; copied out, they lie
		// back to back.
		for i := 1; i < len(pending); i++ {
			sawPending = true
			if addr(pending[i].raw) != addr(pending[i-1].raw)+uintptr(len(pending[i-1].raw)) {
				t.Fatalf("account %s: the pending rows are slices of the body", a.ID)
			}
		}
	}
	if !sawPending {
		t.Fatal("the fake has no account with two pending rows; the test proves nothing")
	}
}

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
