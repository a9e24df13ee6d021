package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
)

// TestWebhookUpdatedBeforeCreatedLosesNoRow: Pluggy's deliveries come in
// any order, and a failed one is retried an hour or two later, so a
// transactions/updated event can reach the log before the
// transactions/created event of the same sync, or of an earlier one.
// Here a row dated 90 days back (Pluggy ingesting a late row) and a row of
// today are created two hours apart, their transactions/created events
// not delivered yet, and an update of the new row arrives first: the read
// with webhook_log fetches that row by id. When
// the created events come (Pluggy's retry), the next read, and a
// reconciliation after it, must still bring the backdated row: it is
// outside the lookback window, so only a createdAtFrom read from the
// account's cursor finds it. A row fetched by id must not move that
// cursor past rows created before it that no read has seen.
func TestWebhookUpdatedBeforeCreatedLosesNoRow(t *testing.T) {
	base := time.Now().Add(-10 * time.Hour) // the fake's clock stays behind the connector's
	var offset atomic.Int64
	clock := func() time.Time { return base.Add(time.Duration(offset.Load())) }
	e, rcv := hookEnv(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 20, Now: clock})
	item := e.fake.ItemIDs()[0]
	account := e.fake.AccountIDs(item)[0]
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r := e.read(cat)
	dest.apply(t, r)

	// Two syncs whose transactions/created deliveries failed (the receiver
	// was being redeployed, say): Pluggy retries them later.
	e.fake.SetDeliveryFaults(fake.DeliveryFaults{DropPercent: 100})
	offset.Store(int64(2 * time.Hour))
	late := e.fake.AddBackdated(1, 90*24*time.Hour)
	lateAt := clock()
	offset.Store(int64(4 * time.Hour))
	fresh := e.fake.AddNew(1)
	freshAt := clock()
	e.deliver()
	e.fake.SetDeliveryFaults(fake.DeliveryFaults{})
	if len(late) != 1 || len(fresh) != 1 {
		t.Fatalf("the fake added %d backdated and %d new rows, want 1 and 1", len(late), len(fresh))
	}

	// A third sync updates the new row, and that event is delivered at
	// once.
	post := func(what string, payload map[string]any) {
		t.Helper()
		payload["eventId"], payload["itemId"], payload["accountId"] = uuidOf(what), item, account
		body, _ := json.Marshal(payload)
		if code := rcv.post(t, string(body), authHeader); code != http.StatusOK {
			t.Fatalf("the receiver answered %d to %s", code, body)
		}
	}
	post("updated", map[string]any{"event": "transactions/updated", "transactionIds": fresh})
	r = e.read(cat, "--state", r.StateFile(t))
	dest.apply(t, r)
	if _, ok := dest[fresh[0]]; !ok {
		t.Fatalf("the updated row %s was not emitted by the read after its event", fresh[0])
	}
	if _, ok := dest[late[0]]; ok {
		t.Fatalf("the backdated row %s was read before its transactions/created event came: the test no longer shows the order it is about", late[0])
	}

	// Pluggy's retries deliver the two transactions/created events.
	for i, at := range []time.Time{lateAt, freshAt} {
		post(fmt.Sprint("created ", i), map[string]any{"event": "transactions/created", "transactionsCount": 1,
			"transactionsCreatedAtFrom": at.UTC().Format("2006-01-02T15:04:05.000Z")})
	}
	r = e.read(cat, "--state", r.StateFile(t))
	dest.apply(t, r)
	if _, ok := dest[late[0]]; !ok {
		t.Errorf("the backdated row %s, created before the updated row %s and announced by its transactions/created event, was not read by the run after that event arrived", late[0], fresh[0])
	}
	r = e.readOver(map[string]any{"reconcile_hours": 0}, cat, "--state", r.StateFile(t))
	dest.apply(t, r)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("after a reconciliation: %s", d)
	}
}
