package enablebanking

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/source-pluggy/source-pluggy/connector/quota"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// States a sink passes on ahead of its files.
//
// An account's keys are announced before its rows (readAccount). A sink
// that makes rows durable only now and then (the Parquet sink with
// --no-records commits a file by size) holds the announcement like any
// state, until the rows before it are in a committed file; before
// committing one it must pass on a state that remembers the keys of every
// row the file holds. MergeState gives it one: the last state it passed on
// (released), whose progress is durable, with every key the held state
// remembers and released does not added to its account's keys. A run
// resuming from it reads each account from released's booked_through, as
// it would from released, and gives the rows the keys the file holds them
// under. Without it the sink committed its file at every announcement, a
// file per account with new rows.

// MergeState implements source.StateMerger. It is called once a file,
// before its commit; the states are read from their JSON.
func (s *transactionsStream) MergeState(released, state source.State) (source.State, error) {
	rel, err := txStateFrom(released)
	if err != nil {
		return source.State{}, fmt.Errorf("the released state: %w", err)
	}
	later, err := txStateFrom(state)
	if err != nil {
		return source.State{}, fmt.Errorf("the later state: %w", err)
	}
	var out *quota.State[txPos, usage]
	for _, key := range slices.Sorted(maps.Keys(later.Accounts)) {
		p := later.Accounts[key]
		if p == nil {
			continue
		}
		r := rel.Accounts[key]
		var known []rememberedKey
		if r != nil {
			known = r.Keys
		}
		add := unremembered(p.Keys, known)
		if len(add) == 0 {
			continue
		}
		if out == nil {
			out = &quota.State[txPos, usage]{Version: quota.StateVersion, Accounts: maps.Clone(rel.Accounts), Quota: rel.Quota}
		}
		// released's progress, synced_at empty as in an announcement.
		m := &txPos{}
		if r != nil {
			m.BookedThrough, m.Keys = r.BookedThrough, r.Keys
		}
		m.Keys = append(slices.Clip(m.Keys), add...)
		out.Accounts[key] = m
	}
	if out == nil {
		return released, nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return source.State{}, fmt.Errorf("encoding the merged state: %w", err)
	}
	return source.StateOf(b), nil
}

// txStateFrom decodes a transactions state (an empty one for none).
func txStateFrom(st source.State) (*quota.State[txPos, usage], error) {
	if st.IsZero() {
		return decodeTxState(nil)
	}
	b, err := st.JSON()
	if err != nil {
		return nil, err
	}
	return decodeTxState(b)
}
