package pluggy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Deleted and replaced transactions.
//
// Pluggy deletes a row and creates another under a new id when a pending
// row posts, a bill closes or an installment is re-dated; nothing links the
// two, and a plain deletion leaves no trace at all. An upsert-only load would
// keep the old row forever. The incremental read already re-reads every row
// dated within the lookback window (dateFrom = cursor - lookback_days), so it
// can tell which rows disappeared:
//
//   - State keeps, per account, the ids the run saw dated inside the window
//     the next run will re-read, grouped by day: {"2026-05-14": [ids], ...}.
//     At most maxWindowIDs per account; beyond that the oldest days are
//     dropped, and deletions of those rows go undetected.
//   - A later run lists the ids of that set whose day is still inside its
//     own window but which neither of its two queries returned. It asks
//     Pluggy for exactly those ids (GET /v2/transactions?ids=, 500 at a
//     time) so a row that only moved, or a page the API served short, never
//     passes for deleted; ids still missing get a tombstone: the same id,
//     accountId and itemId with _ab_cdc_deleted_at set to when the run
//     noticed, the field Airbyte destinations treat as a delete in deduped
//     modes. A row Pluggy still serves is emitted as a normal record.
//   - A tombstoned id leaves the set, so it is emitted once. Ids whose day
//     fell out of the window are dropped without a tombstone: not seeing
//     them again means nothing.
//   - So the guarantee: a row deleted while its date is within lookback_days
//     of the newest createdAt read is reported deleted on the next
//     incremental run; a row deleted later than that is not detected.
//     full_refresh emits no tombstones (an overwrite drops vanished rows);
//     a state without a window (older connector versions, lookback_days 0)
//     detects nothing on that run.

// maxWindowIDs bounds one account's window in the state.
const maxWindowIDs = 5000

// idsPerQuery is the v2 ids filter's documented maximum.
const idsPerQuery = 500

// txWindow is the ids an incremental run saw in the window, by day
// (YYYY-MM-DD, UTC). Ids are sorted, so a state is deterministic.
type txWindow map[string][]string

func (w txWindow) check() error {
	for day, ids := range w {
		if dayOf(day) != day {
			return fmt.Errorf("window key %q is not a YYYY-MM-DD date", day)
		}
		for _, id := range ids {
			if id == "" {
				return fmt.Errorf("window[%q] has an empty id", day)
			}
		}
	}
	return nil
}

// windowSize is how many ids a's window holds; a may be nil.
func (a *accountCursor) windowSize() int {
	if a == nil {
		return 0
	}
	n := 0
	for _, ids := range a.Window {
		n += len(ids)
	}
	return n
}

// vanished lists the ids of w dated on or after from that seen lacks.
func (w txWindow) vanished(from string, seen map[string]struct{}) []string {
	var out []string
	for _, day := range slices.Sorted(maps.Keys(w)) {
		if day < from {
			continue
		}
		for _, id := range w[day] {
			if _, ok := seen[id]; !ok {
				out = append(out, id)
			}
		}
	}
	return out
}

// windowTracker collects the day of every row an account read sees, from
// floor on: rows dated earlier cannot be in the next run's window.
type windowTracker struct {
	floor string
	days  map[string]string // id -> day
}

func newWindowTracker() *windowTracker { return &windowTracker{days: map[string]string{}} }

// add records a row; a nil tracker (full refresh) does nothing.
func (t *windowTracker) add(id, date string) {
	if t == nil {
		return
	}
	if d := dayOf(date); d != "" && d >= t.floor {
		t.days[id] = d
	}
}

// raise moves the floor up to day.
func (t *windowTracker) raise(day string) {
	if t != nil && day > t.floor {
		t.floor = day
	}
}

// window returns the rows dated from on, newest days first up to
// maxWindowIDs.
func (t *windowTracker) window(from string) txWindow {
	if t == nil {
		return nil
	}
	w := txWindow{}
	for id, d := range t.days {
		if d >= from {
			w[d] = append(w[d], id)
		}
	}
	days := slices.Sorted(maps.Keys(w))
	total := 0
	for i := len(days) - 1; i >= 0; i-- {
		ids := w[days[i]]
		slices.Sort(ids)
		if total+len(ids) > maxWindowIDs {
			ids = ids[:maxWindowIDs-total]
			if len(ids) == 0 {
				delete(w, days[i])
				continue
			}
			w[days[i]] = ids
		}
		total += len(ids)
	}
	if len(w) == 0 {
		return nil
	}
	return w
}

// windowFrom is the first day an incremental run with this cursor re-reads:
// the dateFrom of its second query, and the start of the window whose ids
// the state keeps.
func (s *transactionsStream) windowFrom(cursor time.Time) time.Time {
	from := cursor.AddDate(0, 0, -s.c.cfg.lookback)
	if from.Before(s.c.cfg.startDate) {
		from = s.c.cfg.startDate
	}
	return from
}

// tombstone is the record of a row that vanished from Pluggy.
type tombstone struct {
	ID        string `json:"id"`
	AccountID string `json:"accountId"`
	ItemID    string `json:"itemId"`
	DeletedAt string `json:"_ab_cdc_deleted_at"`
}

// reportVanished asks Pluggy for the ids the window lost (a row may only
// have moved out of the window, or a page may have come back short) and
// emits a tombstone for each one it no longer has. Rows it still has go
// through emit like any other.
func (s *transactionsStream) reportVanished(ctx context.Context, a accountRef, ids []string, seen map[string]struct{}, emit func([]byte, txKeys) error, out source.Output) error {
	for batch := range slices.Chunk(ids, idsPerQuery) {
		q := url.Values{"accountId": {a.ID}, "ids": {strings.Join(batch, ",")}}
		if err := s.c.client.eachTransaction(ctx, q, emit); err != nil {
			return fmt.Errorf("looking up %d transactions missing from the lookback window: %w", len(batch), err)
		}
	}
	at := s.c.now().UTC().Format(pluggyTimeLayout)
	n := 0
	for _, id := range ids {
		if _, ok := seen[id]; ok {
			continue
		}
		b, err := json.Marshal(tombstone{ID: id, AccountID: a.ID, ItemID: a.ItemID, DeletedAt: at})
		if err != nil {
			return err
		}
		if err := out.Record(b); err != nil {
			return err
		}
		n++
	}
	if n > 0 {
		out.Log(protocol.LevelInfo, fmt.Sprintf("account %s: %d transaction(s) deleted or replaced in Pluggy since the last run; emitted a tombstone (_ab_cdc_deleted_at) for each", a.ID, n))
	}
	return nil
}
