package enablebanking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// accountsState is the state every incremental Enable Banking stream
// writes: per account key (identification_hash, which survives
// re-authorisation), the stream's own place (T); and per account key the
// books of the one bank endpoint the stream calls (see quota.go). Within a
// run the ledger shares what every stream learns. Version lets the shape
// evolve.
type accountsState[T any] struct {
	Version  int               `json:"version"`
	Accounts map[string]*T     `json:"accounts"`
	Quota    map[string]*usage `json:"quota"`
}

const stateVersion = 1

// decodeAccountsState decodes a stream's state; check, if not nil,
// validates one account's entry and names the bad field.
func decodeAccountsState[T any](stream string, raw json.RawMessage, check func(a *T) error) (*accountsState[T], error) {
	st := &accountsState[T]{Version: stateVersion}
	// Strict: every field of an account's place is optional, so another
	// connector's state read loosely would look like accounts with no
	// place, and everything would be re-read.
	if _, err := source.DecodeStateStrict(stream, raw, stateVersion, st); err != nil {
		return nil, err
	}
	if st.Accounts == nil {
		st.Accounts = map[string]*T{}
	}
	if err := source.CheckEntries(stream, "accounts", st.Accounts, check); err != nil {
		return nil, err
	}
	for key, u := range st.Quota {
		if u == nil {
			delete(st.Quota, key) // nothing known
		}
	}
	if err := source.CheckEntries(stream, "quota", st.Quota, (*usage).validate); err != nil {
		return nil, err
	}
	return st, nil
}

// eachAccount reads refs into st through the runtime's partitions, one
// per account key: read gets an account and its entry (nil when there is
// none) and returns the next entry, checkpointed together with what the
// ledger knows of endpoint. In incremental mode a skipped call (spent
// limit) is no error: the account keeps its entry and the stream
// completes; in full_refresh it fails the stream (see source.SkippedPart).
func eachAccount[T any](ctx context.Context, c *conn, st *accountsState[T], endpoint string, mode protocol.SyncMode, refs []accountRef, out source.Output,
	read func(ctx context.Context, a accountRef, prev *T) (*T, error)) error {
	for _, acct := range c.quotas.seed(endpoint, st.Quota) {
		source.LogFrom(ctx, protocol.LevelWarn, fmt.Sprintf("account %s: the state's %s limit books hold a time more than a day ahead (a refusal until %s, or a call in the future), which no daily window allows; that part is dropped and the account is called",
			acct, endpoint, st.Quota[acct].BlockedUntil))
	}
	keys := make([]string, len(refs))
	for i, a := range refs {
		keys[i] = a.Key
	}
	parts := source.Partitions[T]{Keys: keys, Cursors: st.Accounts, Limit: accountWorkers, State: func() any {
		st.Quota = c.quotas.snapshot(endpoint)
		return st
	}}
	return parts.Read(ctx, out, func(ctx context.Context, i int, prev *T) (*T, error) {
		next, err := read(ctx, refs[i], prev)
		if errors.As(err, new(*quotaSkip)) {
			// Warned where the call was skipped.
			if err = source.SkippedPart(err, mode); err == nil {
				return nil, nil
			}
		}
		return next, err
	})
}
