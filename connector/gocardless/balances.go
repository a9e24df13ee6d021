package gocardless

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// balancesStream emits each balance of GET /accounts/{id}/balances/ as one
// record with account_id and reference_date_key (referenceDate, or "" when
// the bank sent none, so the key account_id + balanceType +
// reference_date_key has no null part). The call is made at most once per
// account per run, and not at all with config balances=false.
//
// It is a snapshot: every run emits the balances as they are. Incremental
// mode exists for its state, which keeps the balances endpoint's quota per
// account so that a later run does not spend a call known to fail; the
// cursor, reference_date_key, is the date each balance refers to.
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
}

// CheckState implements source.StateChecker.
func (s *balancesStream) CheckState(raw json.RawMessage) error {
	_, err := parseState[balancesPos]("balances", raw, nil)
	return err
}

func (s *balancesStream) Read(ctx context.Context, req source.ReadRequest, out source.Output) error {
	st, err := parseState[balancesPos]("balances", req.State, nil)
	if err != nil {
		return source.AsConfigError(err, "invalid balances state")
	}
	if !s.c.cfg.balances {
		out.Log(protocol.LevelInfo, "config balances is false: no balances are read")
		return out.Checkpoint(st)
	}
	refs, listErr := s.c.readable(ctx)
	now := formatTime(s.c.clock.now())
	readErr := readEach(ctx, s.c, st, endpointBalances, refs, out, func(ctx context.Context, a accountRef, _ *balancesPos) (*balancesPos, error) {
		rows, err := s.c.accountBalances(ctx, a)
		if err != nil {
			return nil, err
		}
		for _, raw := range rows {
			var k balanceKeys
			_ = json.Unmarshal(raw, &k)
			if err := out.Record(jsonrow.Add(raw, jsonrow.String("account_id", a.ID), jsonrow.String("reference_date_key", k.ReferenceDate))); err != nil {
				return nil, err
			}
		}
		return &balancesPos{SyncedAt: now}, nil
	})
	return errors.Join(listErr, readErr)
}

// accountBalances fetches an account's balances once per run: one call of
// the balances quota.
func (c *conn) accountBalances(ctx context.Context, a accountRef) ([]json.RawMessage, error) {
	return c.balances.Get(a.ID, func() ([]json.RawMessage, error) {
		var env balancesEnvelope
		err := c.dataCall(ctx, a, endpointBalances, nil, func(b []byte) error {
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
