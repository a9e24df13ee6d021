package pluggy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/pluggy/webhook"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Transactions with webhook_log: Pluggy's webhooks as an exact change feed.
//
// `source-pluggy webhook serve` appends every event Pluggy delivers to a
// log (connector/pluggy/webhook). An incremental run reads the log from the
// state's log_position to its end before it reads any account, and then,
// per account:
//
//   - transactions/deleted and transactions/updated list exact ids. The
//     run asks Pluggy for them (GET /v2/transactions?ids=, batched, as the
//     lookback diff does: reportVanished): a row still served is emitted
//     (an updated row, or a deletion Pluggy took back: logged), an id no
//     longer served gets a tombstone, whatever its date. Deletions far
//     older than the lookback window are caught this way, and only this way.
//   - transactions/created: the account's rows created since its cursor
//     are read, as every incremental run does.
//   - An account no event names costs no request at all.
//   - Webhooks are a fast path, never the only truth: Pluggy drops an
//     event after a few failed deliveries, and has had to undo improper
//     deletions. So an account whose last reconciliation (the run that did
//     today's createdAtFrom read, lookback re-read and id diff) is
//     reconcile_hours old or more, or that has none, is reconciled this run,
//     and its events are applied on top. A lost webhook is caught within
//     reconcile_hours.
//   - The state's log_position only moves at the end of a run in which
//     every account was read; a run killed or failed at any point replays
//     the same events next time. Records are at least once (a replayed
//     deletion is looked up again and tombstoned again): no event is lost
//     and no tombstone is missed.
//   - full_refresh and an account read for the first time are full reads:
//     they cover every event before the log's end, so those are skipped.
//   - If log_position is not in the log (the directory was replaced, or
//     the receiver's --retain pruned it), the whole log is applied and
//     every account is reconciled.

// webhookLogError names config.webhook_log in a failure to read the log: a
// config_error, what the config points at being wrong, unless the log's
// database is only unreachable for now (restarting, failing over), which a
// retry cures.
func webhookLogError(err error) error {
	typ := protocol.ConfigError
	if source.FailureTypeOf(err) == protocol.TransientError {
		typ = protocol.TransientError
	}
	return &source.Error{Type: typ, Msg: "config.webhook_log", Err: err}
}

// logFeed is one run's view of webhook_log.
type logFeed struct {
	changes *webhook.Changes
}

// openFeed reads webhook_log from the state's position; nil without
// webhook_log.
func (s *transactionsStream) openFeed(ctx context.Context, st *txState, out source.Output) (*logFeed, error) {
	if s.c.cfg.WebhookLog == "" {
		return nil, nil
	}
	ch, err := webhook.ReadChanges(ctx, s.c.cfg.WebhookLog, st.LogPosition)
	if err != nil {
		return nil, webhookLogError(err)
	}
	if ch.Reset {
		out.Logger().Warn("webhook_log does not hold the state's log_position (the log was pruned past it by the receiver's --retain, replaced, or moved between a directory and PostgreSQL); applying the whole log and reconciling every account; events removed before this read saw them are caught only as far as a reconciliation reaches (a deletion of a row older than lookback_days is not)", "log_position", st.LogPosition, "reason", ch.ResetReason)
	}
	if ch.Unwritten {
		// Not an error: the read may be set up before the receiver first
		// starts. But a webhook_log no receiver writes to leaves every run
		// without events, and changes are found by reconciliations alone,
		// once every reconcile_hours, with nothing else to tell.
		fix := "point webhook_log at the directory the receiver's --log names (source-pluggy webhook serve --log DIR), or start the receiver with --log " + s.c.cfg.WebhookLog
		if ch.LogHint != "" {
			fix = "its subdirectory " + ch.LogHint + " holds a log: set webhook_log to it if that is the receiver's --log"
		}
		out.Logger().Warn("webhook_log holds no event log (no segment file): no receiver has written to it, so this run sees no webhook events and changes are found only when an account is reconciled, every reconcile_hours; "+fix, "webhook_log", s.c.cfg.WebhookLog)
	}
	ids := 0
	for _, a := range ch.Accounts {
		ids += len(a.Deleted) + len(a.Updated)
	}
	out.Logger().Info("webhook_log read", "events", ch.Events, "since", st.LogPosition, "accounts", len(ch.Accounts), "transaction_ids", ids, "end", ch.End)
	if ch.Ignored > 0 {
		out.Logger().Warn("webhook_log has lines that are not events this version knows; skipped", "lines", ch.Ignored)
	}
	// An older receiver appended events whatever their ids: Pluggy's are
	// UUIDs, and GET /v2/transactions?ids= refuses anything else (HTTP
	// 400), so such ids are left out rather than sent, and said once per
	// event.
	for _, b := range ch.NonUUID {
		what := "ids that are not UUIDs; left them out (Pluggy's ids are UUIDs: asking for these would fail the account's read)"
		if b.Field != "transactionIds" {
			what = "an " + b.Field + " that is not a UUID; skipped the event (it names nothing Pluggy has)"
		}
		out.Logger().Warn("webhook_log: an event holds "+what, "event", b.Event, "eventId", b.EventID, "field", b.Field, "ids", webhook.ShortList(b.IDs))
	}
	return &logFeed{changes: ch}, nil
}

// reportItemErrors tells of the item/error events since the last run,
// once the items were fetched. Such an item's data as Pluggy last synced
// it is still read (and the items stream shows the item's status now). If
// the item is UPDATED now, a sync succeeded after the error (the status
// leaves UPDATED on the error and comes back only with a sync that
// succeeds; the log was read before the item), so nothing is stale and an
// INFO says so; otherwise a WARN says why its data may be stale.
func (s *transactionsStream) reportItemErrors(ctx context.Context, f *logFeed, out source.Output) {
	if f == nil {
		return
	}
	for _, id := range s.c.cfg.ItemIDs {
		e, ok := f.changes.ItemErrors[strings.ToLower(id)]
		if !ok {
			continue
		}
		attrs := []any{"item", id, "code", e.Code, "message", e.Message}
		if e.Parameter != "" {
			attrs = append(attrs, "parameter", e.Parameter)
		}
		var it item
		if raw, err := s.c.item(ctx, id); err == nil && json.Unmarshal(raw, &it) == nil && it.Status == "UPDATED" {
			out.Logger().Info("webhook_log: Pluggy reported a failed sync of the item (item/error), and a later sync succeeded: the item is UPDATED, its data current", attrs...)
			continue
		}
		attrs = append(attrs, s.c.env.AirbyteAttr(updateNote))
		out.Logger().Warn("webhook_log: Pluggy reported a failed sync of the item (item/error); its last synced data is read, and may be stale until a sync succeeds (if the user must log in again: "+s.c.updateCommand(id)+")", attrs...)
	}
}

// reconcileDue reports whether an account must be fully reconciled: its
// last reconciliation is reconcile_hours old, less a twentieth, so a run
// scheduled every reconcile_hours (a daily cron with the default 24) that
// starts a little early still reconciles instead of waiting a whole period
// more.
func (s *transactionsStream) reconcileDue(f *logFeed, prev *accountCursor) bool {
	every := s.c.cfg.reconcileEvery
	return f.changes.Reset || prev.ReconciledAt == "" || !s.c.start.Before(prev.reconciledAt.Add(every-every/20))
}

// readAccountWithFeed reads one account with webhook_log set.
func (s *transactionsStream) readAccountWithFeed(ctx context.Context, f *logFeed, a accountRef, prev *accountCursor, incremental bool, out source.Output, announce announceTo) (*accountCursor, error) {
	ch := f.changes.Accounts[strings.ToLower(a.ID)]
	stamp := s.c.start.Format(time.RFC3339Nano)
	if !incremental || prev == nil || prev.CreatedAt == "" {
		// A full read: it covers everything the log says until now.
		cur, err := s.readAccount(ctx, a, prev, incremental, out, announce)
		if err != nil {
			return nil, err
		}
		cur.ReconciledAt, cur.reconciledAt = stamp, s.c.start
		return cur, nil
	}
	// A cut-short read's announcement is checked by a full reconciliation.
	if s.reconcileDue(f, prev) || prev.Announced.len() > 0 {
		cur, err := s.readAccount(ctx, a, prev, incremental, out, announce)
		if err != nil {
			return nil, err
		}
		cur.ReconciledAt, cur.reconciledAt = stamp, s.c.start
		if ch == nil {
			return cur, nil
		}
		// The window diff only sees rows dated inside the window; the
		// events name the others.
		joins := []jsonrow.Field{jsonrow.String("itemId", a.ItemID)}
		gone, err := s.applyIDs(ctx, a, ch, map[string]struct{}{}, func(raw []byte, _ txKeys) error {
			return out.Record(jsonrow.Row{Raw: raw, Fields: joins})
		}, out)
		if err != nil {
			return nil, err
		}
		cur.Window = cur.Window.without(gone)
		return cur, nil
	}
	if ch == nil {
		return nil, nil // nothing happened: no request, the cursor stays
	}

	// The fast path: only what the events name.
	lookback := s.c.cfg.lookbackFor(a.Type)
	newest := prev.createdAt
	var win *windowTracker // the next reconciliation's window: prev's, plus rows read, less tombstones
	if lookback > 0 {
		win = newWindowTracker()
		prev.Window.each(func(day int32, uuid []byte, other string) {
			if uuid != nil {
				other = string(uuid)
			}
			win.add(other, string(appendDay(nil, day)))
		})
		win.raise(s.windowFrom(newest, lookback).Format(time.DateOnly))
	}
	seen := map[string]struct{}{}
	observe := func(createdAt string) {
		if t, ok := webhook.ParseTime(createdAt); ok { // Z-less too: Pluggy's times are UTC
			if t.After(s.c.start) { // clock skew must not push the cursor past unread rows
				t = s.c.start
			}
			if t.After(newest) {
				newest = t
				win.raise(s.windowFrom(newest, lookback).Format(time.DateOnly))
			}
		}
	}
	joins := []jsonrow.Field{jsonrow.String("itemId", a.ItemID)}
	record := func(raw []byte, k txKeys) error {
		if _, dup := seen[k.ID]; dup {
			return nil
		}
		seen[k.ID] = struct{}{}
		win.add(k.ID, k.Date)
		return out.Record(jsonrow.Row{Raw: raw, Fields: joins})
	}
	emit := func(raw []byte, k txKeys) error {
		if _, dup := seen[k.ID]; !dup {
			observe(k.CreatedAt)
		}
		return record(raw, k)
	}
	if ch.Created {
		q := url.Values{"accountId": {a.ID}, "createdAtFrom": {prev.createdAt.Add(-createdAtOverlap).Format(pluggyTimeLayout)}}
		var err error
		if win != nil && announce != nil {
			// New rows are announced before they go out (announce.go), as
			// on a full read: a run killed after emitting them leaves them
			// in the state, and the next run reconciles the account, so a
			// row deleted meanwhile gets its tombstone even if its
			// deletion event never arrives. The ids events name need no
			// announcement: the log keeps them until the run has ended.
			err = newAnnouncer(prev, announce).walk(ctx, s.c.client, q, win, observe, record)
		} else {
			err = s.c.client.eachTransaction(ctx, q, emit)
		}
		if err != nil {
			return nil, err
		}
	}
	// The rows the events name are emitted without moving the cursor: a
	// row fetched by id may have been created after rows no read has seen
	// yet (its transactions/created delivery late, retried by Pluggy an
	// hour on, or lost), and a cursor past them would have every later
	// createdAtFrom read, reconciliations too, skip them. Only the
	// createdAtFrom read above, which sees every row created since the
	// cursor, moves it.
	gone, err := s.applyIDs(ctx, a, ch, seen, record, out)
	if err != nil {
		return nil, err
	}
	cur := &accountCursor{
		CreatedAt: newest.UTC().Format(pluggyTimeLayout), SyncedAt: stamp, createdAt: newest,
		ReconciledAt: prev.ReconciledAt, reconciledAt: prev.reconciledAt,
	}
	cur.Window = win.window(s.windowFrom(newest, lookback).Format(time.DateOnly)).without(gone)
	return cur, nil
}

// applyIDs looks up the ids the account's deleted and updated events list
// (except those already in seen) and tombstones the ones Pluggy no longer
// serves; it returns those. A deleted id Pluggy still serves is emitted
// and logged: Pluggy protects against improper deletions during bank
// outages, so a deletion is believed only once confirmed.
func (s *transactionsStream) applyIDs(ctx context.Context, a accountRef, ch *webhook.AccountChanges, seen map[string]struct{}, emit func([]byte, txKeys) error, out source.Output) (map[string]struct{}, error) {
	var ids []string
	for _, id := range ch.IDs() {
		if _, ok := seen[id]; !ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	track := func(raw []byte, k txKeys) error {
		if err := emit(raw, k); err != nil {
			return err
		}
		seen[k.ID] = struct{}{}
		return nil
	}
	if err := s.reportVanished(ctx, a, ids, seen, track, out); err != nil {
		return nil, fmt.Errorf("applying webhook events: %w", err)
	}
	gone := map[string]struct{}{}
	var kept []string
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			gone[id] = struct{}{}
		}
	}
	for _, id := range ch.Deleted {
		if _, ok := seen[id]; ok {
			kept = append(kept, id)
		}
	}
	if len(kept) > 0 {
		out.Logger().Warn("Pluggy announced deletions it still serves the rows of; emitted them as records, not tombstones", "deletions", len(kept), "ids", webhook.ShortList(kept))
	}
	return gone, nil
}

// without returns w less the ids in gone.
func (w idWindow) without(gone map[string]struct{}) idWindow {
	if len(gone) == 0 {
		return w
	}
	out := idWindow{}
	var ub [36]byte
	for _, e := range w.uuids {
		formatUUID(&ub, &e.id)
		if _, ok := gone[string(ub[:])]; !ok {
			out.uuids = append(out.uuids, e)
		}
	}
	for _, e := range w.other {
		if _, ok := gone[e.id]; !ok {
			out.other = append(out.other, e)
		}
	}
	out.uuids, out.other = slices.Clip(out.uuids), slices.Clip(out.other)
	return out
}
