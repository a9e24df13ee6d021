package gocardless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/internal/rowkey"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// balancesStream emits the balances of GET /accounts/{id}/balances/, each
// as one record with account_id and reference_date_key (referenceDate, or
// "" when the bank sent none, so the key account_id + balanceType +
// reference_date_key has no null part). The call is made at most once per
// account per run, and not at all with config balances=false.
//
// full_refresh emits every balance as it is now. incremental emits a
// balance only when it is new or changed since the state: the state keeps,
// per account, a digest of each balance emitted under its key, so a run
// right after another emits nothing for the balances that did not move and
// a destination deduplicating on the key holds them all. The state also
// keeps the balances endpoint's quota per account, so a later run does not
// spend a call known to fail. A state from the future (synced_at after now)
// reads nothing and stays as it is, with a WARN per account.
type balancesStream struct{ c *conn }

func (s *balancesStream) Name() string            { return "balances" }
func (s *balancesStream) Schema() json.RawMessage { return loadSchema("balances") }
func (s *balancesStream) PrimaryKey() [][]string {
	return [][]string{{"account_id"}, {"balanceType"}, {"reference_date_key"}}
}
func (s *balancesStream) CursorField() []string { return []string{"reference_date_key"} }

// balancesPos is one account's entry in the balances state.
type balancesPos struct {
	// SyncedAt is when a run last read the account's balances.
	SyncedAt string `json:"synced_at"`
	// Emitted maps each balance's key (balanceType, a space, referenceDate)
	// to the digest of the balance last emitted under it.
	Emitted map[string]string `json:"emitted,omitempty"`
}

// CheckState implements source.StateChecker.
func (s *balancesStream) CheckState(raw json.RawMessage) error {
	_, err := parseBalancesState(raw)
	return err
}

func parseBalancesState(raw json.RawMessage) (*quota.State[balancesPos, allowance], error) {
	return quota.DecodeState[balancesPos, allowance]("balances", raw, func(a *balancesPos) error {
		if _, err := time.Parse(time.RFC3339, a.SyncedAt); err != nil && a.SyncedAt != "" {
			return fmt.Errorf("synced_at %q is not an RFC 3339 timestamp", a.SyncedAt)
		}
		return nil
	})
}

func (s *balancesStream) Read(ctx context.Context, req source.ReadRequest, out source.Output) error {
	st, err := parseBalancesState(req.State)
	if err != nil {
		return source.AsConfigError(err, "invalid balances state")
	}
	if !s.c.cfg.balances {
		if err := out.Checkpoint(st); err != nil {
			return err
		}
		return source.NotRead("config balances is false")
	}
	refs, listErr := s.c.readable(ctx)
	now := s.c.clock.Now()
	if req.Mode == protocol.Incremental {
		quota.DropGone(st, refs, listErr, now, func(p *balancesPos) string { return p.SyncedAt }, out.Logger())
	}
	readErr := quota.Read(ctx, s.c.quotas, quota.Balances, st, req.Mode, refs, accountWorkers, out, func(ctx context.Context, a accountRef, prev *balancesPos) (*balancesPos, error) {
		if req.Mode != protocol.Incremental {
			prev = nil
		}
		if prev != nil && quota.SkipFromTheFuture(out.Logger(), a.ID, prev.SyncedAt, now) {
			return prev, nil // a state from the future: nothing to read yet
		}
		rows, err := s.c.accountBalances(ctx, a)
		if err != nil {
			return nil, err
		}
		next := &balancesPos{SyncedAt: httpclient.FormatTime(now), Emitted: map[string]string{}}
		for _, raw := range rows {
			var k balanceKeys
			_ = json.Unmarshal(raw, &k)
			key, digest := k.BalanceType+" "+k.ReferenceDate, strings.TrimPrefix(rowkey.Content(raw), "sha256:")[:16]
			next.Emitted[key] = digest
			if prev != nil && prev.Emitted[key] == digest {
				continue // unchanged since the last run
			}
			if err := out.Record(jsonrow.With(raw, jsonrow.String("account_id", a.ID), jsonrow.String("reference_date_key", k.ReferenceDate))); err != nil {
				return nil, err
			}
		}
		return next, nil
	})
	return errors.Join(listErr, readErr)
}

// accountBalances fetches an account's balances once per run: one call of
// the balances quota.
func (c *conn) accountBalances(ctx context.Context, a accountRef) ([]json.RawMessage, error) {
	return c.balances.Get(a.ID, func() ([]json.RawMessage, error) {
		var env balancesEnvelope
		err := c.dataCall(ctx, a, quota.Balances, nil, func(b []byte) error {
			env = balancesEnvelope{}
			if err := json.Unmarshal(b, &env); err != nil {
				return err
			}
			if env.Balances == nil {
				return errors.New(`no "balances" array in the answer`)
			}
			return nil
		})
		var skip *quotaSkip
		if errors.As(err, &skip) {
			c.warnSkip(ctx, skip)
		}
		return env.Balances, err
	})
}
