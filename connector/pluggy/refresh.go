package pluggy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Opt-in item refresh (trigger_item_update). Before the first stream reads
// any item, every configured item is asked to sync with its bank (PATCH
// /items/{id}) and polled (GET /items/{id}) until its status leaves
// UPDATING/MERGING or item_update_timeout_seconds pass; then the run reads
// the fresh data. It is off by default: Pluggy syncs items by itself and
// forbids batch refreshes ("PATCH is meant for user-initiated updates").
//
// PATCH is not idempotent (each one starts a sync at the bank), so it is sent
// once: no retry after a timeout, a reset or a 5xx. Only a 429 is waited out
// and retried, as the API asks. PATCH has its own limit, 20 a minute per IP,
// so the connector paces it separately from the other endpoints.
//
// A refresh that cannot happen never fails the run: the item's data as it is
// (Pluggy's last sync) is still valid. A 409 "updated too recently"
// (CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY: at most one update a day),
// a 400 for an item Pluggy stopped updating (TOO_MANY_CONSECUTIVE_ERRORS,
// TOO_MANY_CONSECUTIVE_LOGIN_FAILURES: only its user can unblock it, so the
// WARN says what they must do), another refusal, or a sync still running at
// the timeout is a WARN, and the item is read as it is.

// patchPerMinute paces PATCH /items/{id}. Pluggy allows 20 a minute; the
// pacer's token bucket allows a burst of a sixth of its rate on top, so 17
// keeps any 60-second window at 19 or fewer.
const patchPerMinute = 17

// itemRefresh is the refresh's per-run state.
type itemRefresh struct {
	once  sync.Once
	pacer *httpclient.Pacer
}

// refreshItems refreshes every configured item, at most MaxConcurrency at a
// time, the first time it is called in a run; later calls return at once.
// Each item's final GET becomes the run's cached item, so the items stream
// emits what the refresh ended with.
func (c *conn) refreshItems(ctx context.Context) {
	c.refresh.once.Do(func() {
		c.refresh.pacer = httpclient.NewPacer(patchPerMinute)
		c.env.Log.Info("trigger_item_update is on: asking Pluggy to update the items before reading them (PATCH /items/{id})", "items", len(c.cfg.ItemIDs), "per_minute", patchPerMinute, "timeout", c.cfg.itemUpdateTimeout)
		_ = source.Each(ctx, c.cfg.MaxConcurrency, len(c.cfg.ItemIDs), func(ctx context.Context, i int) error {
			id := c.cfg.ItemIDs[i]
			_, err := c.items.Get(id, func() (json.RawMessage, error) {
				raw, it, err := c.refreshItem(ctx, id)
				if err == nil {
					c.warnItem(it)
				}
				return raw, err
			})
			return err // reported by whichever stream reads the item
		})
	})
}

// refreshItem triggers one item's update, waits for it and returns the item
// as it then stands.
func (c *conn) refreshItem(ctx context.Context, id string) (json.RawMessage, item, error) {
	if err := c.patchItem(ctx, id); err != nil {
		if ctx.Err() != nil {
			return nil, item{}, ctx.Err()
		}
		c.env.Log.Warn("cannot update the item; reading its data as it is (Pluggy's last sync)", "item", id, "error", err)
		return c.fetchItem(ctx, id)
	}
	started := time.Now()
	deadline := started.Add(c.cfg.itemUpdateTimeout)
	for {
		if err := sleepCtx(ctx, min(c.cfg.itemUpdatePoll, max(time.Until(deadline), 0))); err != nil {
			return nil, item{}, err
		}
		raw, it, err := c.fetchItem(ctx, id)
		if err != nil {
			return nil, item{}, err
		}
		if it.Status != "UPDATING" && it.Status != "MERGING" {
			c.env.Log.Info("item updated", "item", id, "status", it.Status, "executionStatus", it.ExecutionStatus, "after", time.Since(started).Round(100*time.Millisecond))
			return raw, it, nil
		}
		if !time.Now().Before(deadline) {
			c.env.Log.Warn("the item is still updating after item_update_timeout_seconds; reading its data as it is (Pluggy's last completed sync)", "item", id, "status", it.Status, "executionStatus", it.ExecutionStatus, "timeout", c.cfg.itemUpdateTimeout)
			return raw, it, nil
		}
	}
}

// patchItem sends PATCH /items/{id} once, re-authenticating once if the key
// is rejected (the request was then not acted on). A nil error means Pluggy
// accepted the update.
func (c *conn) patchItem(ctx context.Context, id string) error {
	const route = "PATCH /items/{id}"
	for attempt := 0; ; attempt++ {
		key, gen, err := c.client.key(ctx)
		if err != nil {
			return err
		}
		if err := c.refresh.pacer.Wait(ctx, route); err != nil {
			return err
		}
		_, err = c.client.http.Do(ctx, &httpclient.Request{
			Method: http.MethodPatch, URL: c.client.url("/items/"+url.PathEscape(id), nil), Route: route,
			Header: http.Header{"X-Api-Key": {key}}, Body: []byte(`{}`),
			Idempotent: false, // each PATCH starts a sync at the bank
			// Answers other than 429 come back at once: a 5xx may have
			// started a sync already, and a refusal will not change.
			NoRetry: func(r *httpclient.Response) bool { return r.Status != http.StatusTooManyRequests },
		})
		var se *httpclient.StatusError
		if errors.As(err, &se) && attempt == 0 && keyRejected(se) && c.client.retryRefused(gen) {
			continue
		}
		if err == nil {
			return nil
		}
		if errors.As(err, &se) {
			ae := decodeAPIError(se.Body)
			switch {
			case se.Status == http.StatusConflict && ae.CodeDescription == "CLIENT_IS_UPDATING_BEFORE_ALLOWED_FREQUENCY":
				return fmt.Errorf("update refused by Pluggy: the item was updated too recently (%s)", ae.describe(se.Status))
			case ae.CodeDescription == "TOO_MANY_CONSECUTIVE_ERRORS":
				return source.WithNote(fmt.Errorf("update refused by Pluggy: the item's last syncs failed more than 5 times in a row, and Pluggy takes no update of it from the API until its user updates it (%s); the user must log in to the bank again: %s", ae.describe(se.Status), c.updateCommand(id)), c.env.OnAirbyte(updateNote))
			case ae.CodeDescription == "TOO_MANY_CONSECUTIVE_LOGIN_FAILURES":
				return source.WithNote(fmt.Errorf("update refused by Pluggy: the bank login failed too many times in a row and Pluggy blocks updates of the item for a while (%s%s); the user must check their bank credentials and then log in again: %s", ae.describe(se.Status), backoff(ae.Data), c.updateCommand(id)), c.env.OnAirbyte(updateNote))
			}
			return fmt.Errorf("update refused by Pluggy (%s)", ae.describe(se.Status))
		}
		return fmt.Errorf("the update request failed and is not retried, as PATCH is not idempotent: %w", err)
	}
}

// backoff quotes the back-off of a TOO_MANY_CONSECUTIVE_LOGIN_FAILURES
// answer (data {readableBackoffTime, canRetryAfterDate}), or "".
func backoff(data json.RawMessage) string {
	var d struct {
		ReadableBackoffTime string `json:"readableBackoffTime"`
		CanRetryAfterDate   string `json:"canRetryAfterDate"`
	}
	_ = json.Unmarshal(data, &d)
	switch {
	case d.CanRetryAfterDate != "" && d.ReadableBackoffTime != "":
		return fmt.Sprintf("; retry after %s, in %s", d.CanRetryAfterDate, d.ReadableBackoffTime)
	case d.CanRetryAfterDate != "":
		return "; retry after " + d.CanRetryAfterDate
	case d.ReadableBackoffTime != "":
		return "; retry in " + d.ReadableBackoffTime
	}
	return ""
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
