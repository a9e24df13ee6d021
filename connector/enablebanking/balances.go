package enablebanking

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/internal/rowkey"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// balancesStream emits each balance of GET /accounts/{uid}/balances as one
// record with account_key, account_uid, session_id, retrieved_at (when
// the run read it) and balance_key: balance_type, "/", reference_date (""
// when the bank sent none), and "#2", "#3" for a repeat within the answer,
// so the key account_key + balance_key has no null part. The call is made at
// most once per account per run.
//
// It is a snapshot: every run emits the balances as they are, which one is
// "current" differing per bank. Incremental mode exists for its state,
// which keeps the books of the balances endpoint per account so that a
// later run does not spend a call known to fail; the cursor is
// retrieved_at. An account whose state entry is from the future (synced_at
// after now) is neither called nor emitted, and keeps its entry, with a
// WARN naming it.
type balancesStream struct{ c *conn }

func (s *balancesStream) Name() string            { return "balances" }
func (s *balancesStream) Schema() json.RawMessage { return loadSchema("balances") }
func (s *balancesStream) PrimaryKey() [][]string {
	return [][]string{{"account_key"}, {"balance_key"}}
}
func (s *balancesStream) CursorField() []string { return []string{"retrieved_at"} }

// balancesPos is one account's entry in the balances state.
type balancesPos struct {
	// SyncedAt is when a run last read the account's balances.
	SyncedAt string `json:"synced_at"`
}

// CheckState implements source.StateChecker.
func (s *balancesStream) CheckState(raw json.RawMessage) error {
	_, err := quota.DecodeState[balancesPos, usage]("balances", raw, nil)
	return err
}

func (s *balancesStream) Read(ctx context.Context, req source.ReadRequest, out source.Output) error {
	st, err := quota.DecodeState[balancesPos, usage]("balances", req.State, nil)
	if err != nil {
		return source.AsConfigError(err, "invalid balances state")
	}
	refs, listErr := s.c.readable(ctx)
	clock := s.c.clock.Now()
	if req.Mode == protocol.Incremental {
		quota.DropGone(st, refs, listErr, clock, func(p *balancesPos) string { return p.SyncedAt }, out.Logger())
	}
	now := httpclient.FormatTime(clock)
	readErr := quota.Read(ctx, s.c.quotas.Ledger, quota.Balances, st, req.Mode, refs, accountWorkers, out, func(ctx context.Context, a accountRef, prev *balancesPos) (*balancesPos, error) {
		if req.Mode == protocol.Incremental && prev != nil && quota.SkipFromTheFuture(out.Logger(), a.Key, prev.SyncedAt, clock) {
			return prev, nil // a state from the future: nothing to read yet
		}
		rows, err := s.c.accountBalances(ctx, a)
		if err != nil {
			return nil, err
		}
		keys := make([]string, len(rows))
		for i, raw := range rows {
			var k struct {
				Type string `json:"balance_type"`
				Date string `json:"reference_date"`
			}
			_ = json.Unmarshal(raw, &k)
			keys[i] = k.Type + "/" + k.Date
		}
		rowkey.Disambiguate(keys)
		for i, raw := range rows {
			rec := jsonrow.With(raw, jsonrow.String("account_key", a.Key), jsonrow.String("account_uid", a.UID),
				jsonrow.String("session_id", a.SessionID), jsonrow.String("balance_key", keys[i]), jsonrow.String("retrieved_at", now))
			if err := out.Record(rec); err != nil {
				return nil, err
			}
		}
		return &balancesPos{SyncedAt: now}, nil
	})
	return errors.Join(listErr, readErr)
}

// accountBalances fetches an account's balances once per run: one call of
// the balances limit.
func (c *conn) accountBalances(ctx context.Context, a accountRef) ([]json.RawMessage, error) {
	return c.balances.Get(a.Key, func() ([]json.RawMessage, error) {
		var env struct {
			Balances []json.RawMessage `json:"balances"`
		}
		err := c.bankCall(ctx, a, quota.Balances, "GET /accounts/{uid}/balances", accountPath(a.UID, "balances"), nil, true, func(b []byte) error {
			env.Balances = nil
			if err := json.Unmarshal(b, &env); err != nil {
				return err
			}
			if env.Balances == nil {
				return errors.New(`no "balances" array in the answer`)
			}
			for _, r := range env.Balances {
				if len(r) == 0 || r[0] != '{' {
					return errors.New("a balance is not an object")
				}
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
