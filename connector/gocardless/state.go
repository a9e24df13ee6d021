package gocardless

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// streamState is the state every incremental GoCardless stream writes:
// per account, the stream's own place (T), and per account the quota of
// the one bank endpoint the stream calls. Each endpoint's quota lives in
// the state of the stream that calls it (details in accounts, balances in
// balances, transactions in transactions); within a run the ledger shares
// what every stream learns. Version lets the shape evolve.
type streamState[T any] struct {
	Version  int              `json:"version"`
	Accounts map[string]*T    `json:"accounts"`
	Quota    map[string]quota `json:"quota"`
}

const stateVersion = 1

// parseState decodes a stream's state; check, if not nil, validates one
// account's entry and names the bad field.
func parseState[T any](stream string, raw json.RawMessage, check func(a *T) error) (*streamState[T], error) {
	st := &streamState[T]{Version: stateVersion}
	// Strict: every field of an account's place is optional, so a
	// source-pluggy state read loosely would look like accounts with no
	// place, and everything would be re-read from start_date.
	if _, err := source.DecodeStateStrict(stream, raw, stateVersion, st); err != nil {
		return nil, err
	}
	if st.Accounts == nil {
		st.Accounts = map[string]*T{}
	}
	for id, a := range st.Accounts {
		if a == nil {
			return nil, fmt.Errorf("%s state: accounts[%q] is null", stream, id)
		}
		if check != nil {
			if err := check(a); err != nil {
				return nil, fmt.Errorf("%s state: accounts[%q].%w", stream, id, err)
			}
		}
	}
	for id, q := range st.Quota {
		if q.Remaining < -1 {
			return nil, fmt.Errorf("%s state: quota[%q].remaining %d is negative", stream, id, q.Remaining)
		}
		if _, err := time.Parse(time.RFC3339, q.ResetAt); err != nil && q.ResetAt != "" {
			return nil, fmt.Errorf("%s state: quota[%q].reset_at %q is not an RFC 3339 timestamp", stream, id, q.ResetAt)
		}
	}
	return st, nil
}

// readEach reads the accounts refs, accountWorkers at a time, into st. fn
// reads one account from its entry (nil when there is none) and returns the
// next entry, which is recorded and checkpointed with what the ledger knows
// of endpoint's quota, even when fn also returns an error (an account
// emitted with kept details, say). In incremental mode a quota skip is no
// error: the account keeps its entry and the stream completes; in
// full_refresh it fails the stream (see source.SkippedPart). The state is checkpointed once
// more at the end, so it is right for a partial run too. The error joins
// the failed accounts'.
func readEach[T any](ctx context.Context, c *conn, st *streamState[T], endpoint string, mode protocol.SyncMode, refs []accountRef, out source.Output,
	fn func(ctx context.Context, a accountRef, prev *T) (*T, error)) error {
	for _, acct := range c.quotas.seed(endpoint, st.Quota, c.clock.Now()) {
		c.env.Log.Warnf("account %s: the state says its %s quota resets at %s, more than a day away, which no quota window allows; the account is called and its answer says where it stands",
			acct, endpoint, st.Quota[acct].ResetAt)
	}
	keys := make([]string, len(refs))
	for i, a := range refs {
		keys[i] = a.ID
	}
	parts := source.Partitions[T]{Keys: keys, Cursors: st.Accounts, Limit: accountWorkers, State: func() any {
		st.Quota = c.quotas.snapshot(endpoint)
		return st
	}}
	return parts.Read(ctx, out, func(ctx context.Context, i int, prev *T) (*T, error) {
		next, err := fn(ctx, refs[i], prev)
		if skipped(err) {
			// Warned where the call was skipped.
			if err = source.SkippedPart(err, mode); err == nil {
				return nil, nil
			}
		}
		return next, err
	})
}
