package main

import (
	"encoding/json"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/eventlog"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestWebhookUpdatedInBlocks: Pluggy sends transactions/updated in blocks
// of at most 400 ids (changelog 2026.08, pluggy-api.md §12), so 900 rows of
// one account updated at once arrive as several events for that account.
// `webhook serve` keeps every block in webhook_log, and the next read with
// webhook_log emits each of the 900 rows exactly once, with its new
// values, and no other row; the destination then equals the fake. Most of
// the rows are older than the lookback window, so only the events' ids
// (looked up with ids=) can bring them.
func TestWebhookUpdatedInBlocks(t *testing.T) {
	e, rcv := hookEnv(t, fake.Options{Items: 1, AccountsPerItem: 1, TransactionsPerAccount: 1000})
	account := e.fake.AccountIDs(e.fake.ItemIDs()[0])[0]
	cat := e.catalog(true, "transactions")
	dest := destination{}
	r1 := e.read(cat)
	dest.apply(t, r1)
	if d := dest.diff(e.truth()); d != "" {
		t.Fatalf("first read: %s", d)
	}

	before := destination{}
	for id, desc := range dest {
		before[id] = desc
	}
	updated := e.fake.UpdateAccount(account, 900)
	if len(updated) != 900 {
		t.Fatalf("the fake updated %d rows, want 900", len(updated))
	}
	e.deliver()
	if s := e.fake.DeliveryStats(); s.Failed != 0 || s.Acknowledged != s.Queued {
		t.Fatalf("delivery stats %+v: the receiver refused events", s)
	}
	logged := map[string]int{}
	var blocks []int
	_, err := eventlog.Read(rcv.dir, eventlog.Position{}, func(_ eventlog.Position, line []byte) error {
		var l struct {
			Payload struct {
				Event          string
				AccountID      string
				TransactionIDs []string
			}
		}
		st.Must(t, json.Unmarshal(line, &l), "log line")
		if l.Payload.Event == "transactions/updated" && l.Payload.AccountID == account {
			blocks = append(blocks, len(l.Payload.TransactionIDs))
			for _, id := range l.Payload.TransactionIDs {
				logged[id]++
			}
		}
		return nil
	})
	st.Must(t, err, "reading the log")
	if len(blocks) < 3 || len(logged) != len(updated) {
		t.Fatalf("the log holds %d transactions/updated events for the account (ids per event %v), %d distinct ids; want 900 ids in blocks of at most 400", len(blocks), blocks, len(logged))
	}
	for _, n := range blocks {
		if n > 400 {
			t.Fatalf("an event of %d ids: the fake does not split as Pluggy does (%v)", n, blocks)
		}
	}

	truth := e.truth()
	e.fake.ResetStats()
	r2 := e.read(cat, "--state", r1.StateFile(t))
	emitted := map[string]int{}
	for _, x := range txRecords(t, r2) {
		if x.DeletedAt != nil {
			t.Errorf("row %s tombstoned; nothing was deleted", x.ID)
			continue
		}
		emitted[x.ID]++
		if x.Description != truth[x.ID] {
			t.Errorf("row %s emitted with description %q, the fake serves %q", x.ID, x.Description, truth[x.ID])
		}
	}
	var missing, twice []string
	for _, id := range updated {
		switch emitted[id] {
		case 0:
			missing = append(missing, id)
		case 1:
		default:
			twice = append(twice, id)
		}
		if truth[id] == before[id] {
			t.Fatalf("row %s was not changed by the fake: %q", id, truth[id])
		}
	}
	if len(missing) > 0 || len(twice) > 0 || len(emitted) != len(updated) {
		t.Fatalf("of 900 updated rows, %d not emitted, %d emitted more than once; %d distinct rows emitted (calls %v)", len(missing), len(twice), len(emitted), e.fake.Stats().ByRoute)
	}
	dest.apply(t, r2)
	if d := dest.diff(truth); d != "" {
		t.Fatalf("after the events: %s", d)
	}
}
