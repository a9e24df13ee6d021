package pluggy

import (
	"fmt"
	"maps"

	"github.com/source-pluggy/source-pluggy/connector/source"
)

// States a sink passes on ahead of its files.
//
// A state lists the ids of rows emitted (in windows and announcements),
// but it also carries every account's progress. A sink that makes rows
// durable only now and then (the Parquet sink commits a file by size) holds
// the latest state back until the rows before it are in a committed file,
// and before committing one it must pass on a state that lists every row
// the file holds. MergeState gives it one: the last state it passed on
// (released), whose progress is durable, with every id the held state
// lists and released does not added to its accounts' "announced" lists. A
// run resuming from it reads each account from released's cursor, as it
// would from released, and checks those ids as it checks any announcement
// (announce.go), so every row the files hold is covered or listed.

// maxMergedIDs bounds the ids a merged state lists for an account: an
// account's announcement lists up to maxWindowIDs in its window and as
// many announced, and the merge keeps as many as both.
const maxMergedIDs = 2 * maxWindowIDs

// MergeState implements source.StateMerger. It is called once a file,
// before its commit. A state this stream emitted is merged from its
// snapshot, not parsed from its JSON (the transactions state weighs
// megabytes), and the merged one is a snapshot too, encoded only when the
// sink writes it.
func (s *transactionsStream) MergeState(released, state source.State) (source.State, error) {
	rel, err := txStateOf(released)
	if err != nil {
		return source.State{}, fmt.Errorf("the released state: %w", err)
	}
	later, err := txStateOf(state)
	if err != nil {
		return source.State{}, fmt.Errorf("the later state: %w", err)
	}
	var out *txState
	for id, a := range later.Accounts {
		m := mergeCursor(rel.Accounts[id], a)
		if m == nil {
			continue
		}
		if out == nil {
			// a snapshot is never changed: the merge is a new one
			out = &txState{Version: txStateVersion, Accounts: maps.Clone(rel.Accounts), LogPosition: rel.LogPosition}
		}
		out.Accounts[id] = m
	}
	if out == nil {
		return released, nil
	}
	// As Snapshot does: every cursor encoded now, so that encoding the
	// merged state, perhaps on two goroutines at once, only reads them
	// (released's cursors are not encoded yet when it was parsed).
	for _, a := range out.Accounts {
		a.encodeOnce()
	}
	return source.StateOfSnapshot(out), nil
}

// txStateOf returns the transactions state st holds: its snapshot when
// this stream emitted it, else its JSON parsed (an empty state for none).
// The caller must not change it.
func txStateOf(st source.State) (*txState, error) {
	if snap, ok := st.Snapshot().(*txState); ok {
		return snap, nil
	}
	b, err := st.JSON()
	if err != nil {
		return nil, err
	}
	return parseTxState(b)
}

// mergeCursor returns rel (an account's cursor in the released state, nil
// for none) with every id ann (its cursor in the later state) lists, in
// its window or announced, that rel does not added to rel's announced
// ids; nil when there is none to add. Its progress is rel's: an
// account rel has no cursor for gets none (created_at empty), which a
// resuming run reads as a first read cut short.
func mergeCursor(rel, ann *accountCursor) *accountCursor {
	if ann == nil || ann == rel {
		return nil
	}
	var known idSet
	if rel != nil {
		known.addAll(rel.Window)
		known.addAll(rel.Announced)
	}
	var add idWindow
	for _, w := range []idWindow{ann.Window, ann.Announced} {
		for _, e := range w.uuids {
			if known.addUUID(e.id) {
				add.uuids = append(add.uuids, e)
			}
		}
		for _, e := range w.other {
			if known.addString(e.id) {
				add.other = append(add.other, e)
			}
		}
	}
	if add.len() == 0 {
		return nil
	}
	next := &accountCursor{}
	if rel != nil {
		*next = *rel
		add.uuids = append(add.uuids, rel.Announced.uuids...)
		add.other = append(add.other, rel.Announced.other...)
	}
	add.sort()
	if add.len() > maxMergedIDs {
		add.keepNewest(maxMergedIDs)
	}
	next.Announced, next.encoded = add, nil
	return next
}

// idSet is a set of ids as an idWindow holds them.
type idSet struct {
	uuids map[[16]byte]struct{}
	other map[string]struct{}
}

func (s *idSet) addAll(w idWindow) {
	for _, e := range w.uuids {
		s.addUUID(e.id)
	}
	for _, e := range w.other {
		s.addString(e.id)
	}
}

// addUUID adds id and reports whether it was not in the set.
func (s *idSet) addUUID(id [16]byte) bool {
	if s.uuids == nil {
		s.uuids = map[[16]byte]struct{}{}
	}
	if _, ok := s.uuids[id]; ok {
		return false
	}
	s.uuids[id] = struct{}{}
	return true
}

// addString adds id and reports whether it was not in the set.
func (s *idSet) addString(id string) bool {
	if s.other == nil {
		s.other = map[string]struct{}{}
	}
	if _, ok := s.other[id]; ok {
		return false
	}
	s.other[id] = struct{}{}
	return true
}
