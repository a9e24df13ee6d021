package pluggy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// itemsStream emits each configured item as GET /items/{id} serves it: the
// connection's health (status, executionStatus, error, statusDetail with
// both spellings of investmentsTransactions, lastUpdatedAt, nextAutoSyncAt,
// consentExpiresAt) lets a warehouse alert on broken bank connections. Full
// refresh only: there is nothing to list items by, and there are few. With
// trigger_item_update, the record is the item as its update left it.
type itemsStream struct{ c *conn }

func (s *itemsStream) Name() string            { return "items" }
func (s *itemsStream) Schema() json.RawMessage { return loadSchema("items") }
func (s *itemsStream) PrimaryKey() [][]string  { return [][]string{{"id"}} }
func (s *itemsStream) CursorField() []string   { return nil }

func (s *itemsStream) Read(ctx context.Context, _ source.ReadRequest, out source.Output) error {
	var errs []error
	for _, id := range s.c.cfg.ItemIDs {
		raw, err := s.c.item(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := out.Record(jsonrow.Of(raw)); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// consentWarning is how long before an Open Finance consent expires the
// connector starts warning: after expiry Pluggy stops syncing the item until
// the user renews consent.
const consentWarning = 7 * 24 * time.Hour

// warnConsent logs a WARN for an item whose consent expires within
// consentWarning or has expired.
func (c *conn) warnConsent(it item) {
	exp, ok := consentExpiry(it)
	if !ok {
		return
	}
	left := exp.Sub(c.now())
	switch {
	case left <= 0:
		c.env.Log.Warn("the item's Open Finance consent expired; Pluggy no longer syncs it, so its data is stale until the user renews consent", "item", it.ID, "consent_expires_at", *it.ConsentExpiresAt, "fix", c.updateCommand(it.ID), c.env.AirbyteAttr(updateNote))
	case left <= consentWarning:
		c.env.Log.Warn("the item's Open Finance consent expires soon; the user must renew it before then or Pluggy stops syncing the item", "item", it.ID, "consent_expires_at", *it.ConsentExpiresAt, "days_left", fmt.Sprintf("%.1f", left.Hours()/24), "fix", c.updateCommand(it.ID), c.env.AirbyteAttr(updateNote))
	}
}

// consentExpiry is when the item's Open Finance consent expires; ok is
// false when it has none (or an unreadable one).
func consentExpiry(it item) (time.Time, bool) {
	if it.ConsentExpiresAt == nil || *it.ConsentExpiresAt == "" {
		return time.Time{}, false
	}
	exp, err := time.Parse(time.RFC3339Nano, *it.ConsentExpiresAt)
	if err != nil {
		if d := dayOf(*it.ConsentExpiresAt); d != "" {
			exp, err = time.Parse(time.DateOnly, d)
		}
		if err != nil {
			return time.Time{}, false
		}
	}
	return exp, true
}

// updateCommand is the command that lets an item's user log in again.
func (c *conn) updateCommand(itemID string) string {
	return "source-pluggy connect --config " + c.env.ConfigArg() + " --update " + itemID
}

// updateNote is what a message naming updateCommand adds where the Airbyte
// platform runs the check or read (c.env.OnAirbyte, AirbyteAttr): the
// --config it names is a file the platform wrote for that one run, in a
// container with no browser, so connect is run elsewhere on the source's
// settings. The item keeps its id: nothing changes in Airbyte.
var updateNote = source.AirbyteNote("run connect on a computer with a browser, with --config a file holding the source's settings (client_id and client_secret, copied from the source in Airbyte), not the file Airbyte wrote for this run; the item keeps its id, so item_ids and the connection stay as they are (docs/connect.md, \"Re-authenticate an item\")")
