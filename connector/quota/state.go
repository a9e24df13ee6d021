package quota

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// State is the state of a stream read account by account from a bank that
// limits each account's calls: per account key, the stream's own place
// (C), and per account key the books (E) of the one endpoint the stream
// calls, so the next run does not spend a call known to fail. Each
// endpoint's books live in the state of the stream that calls it, and
// within a run the Ledger shares what every stream learns. Version lets
// the shape evolve.
type State[C, E any] struct {
	Version  int           `json:"version"`
	Accounts map[string]*C `json:"accounts"`
	Quota    map[string]*E `json:"quota"`
	// encoded keeps each place's member of the accounts object, made once
	// by Snapshot (see there).
	encoded map[*C]source.Member
}

// IncrementalPlaces is the accounts' places of stream's state, decoded by
// decode, when the run reads stream incrementally: what a
// source.RequestPlanner keeps so that a stream read before it can size a
// call they share. nil when the run does not, or the state does not decode
// (the runtime has refused it already).
func IncrementalPlaces[C, E any](reqs map[string]source.ReadRequest, stream string, decode func(json.RawMessage) (*State[C, E], error)) map[string]*C {
	req, ok := reqs[stream]
	if !ok || req.Mode != protocol.Incremental {
		return nil
	}
	st, err := decode(req.State)
	if err != nil {
		return nil
	}
	return st.Accounts
}

// Snapshot implements source.Snapshotter. An account's place is not
// changed once Read's read returns it, so its JSON is made once in the
// run, here, and every snapshot after shares it; the books are encoded
// whole, as they change with every call. Encoded whole at every
// checkpoint instead, an Enable Banking state holding a week of the fake's
// dense keys (8 MB at a million rows) took 21 - 25 MB of the read's live
// heap while it was made, under the partitions' lock. The runtime calls
// Snapshot under that lock.
func (st *State[C, E]) Snapshot() json.Marshaler {
	snap := &stateSnapshot{version: st.Version, accounts: make([]source.Member, 0, len(st.Accounts))}
	encoded := make(map[*C]source.Member, len(st.Accounts))
	for key, place := range st.Accounts {
		m, ok := st.encoded[place]
		if !ok || m.Key != key || place == nil {
			b, err := json.Marshal(place)
			if err != nil {
				return unencodable{fmt.Errorf("encoding the place of account %q: %w", key, err)}
			}
			m = source.Member{Key: key, Value: b}
		}
		if place != nil {
			encoded[place] = m
		}
		snap.accounts = append(snap.accounts, m)
	}
	st.encoded = encoded
	slices.SortFunc(snap.accounts, func(a, b source.Member) int { return strings.Compare(a.Key, b.Key) })
	var err error
	if snap.books, err = json.Marshal(st.Quota); err != nil {
		return unencodable{fmt.Errorf("encoding the quota books: %w", err)}
	}
	return snap
}

// unencodable is the snapshot of a state that could not be encoded: its
// MarshalJSON fails, and it is no JSONWriter, whose only errors are its
// writer's.
type unencodable struct{ err error }

func (u unencodable) MarshalJSON() ([]byte, error) { return nil, u.err }

// stateSnapshot is a State as Snapshot took it. Its JSON is what
// encoding/json makes of the State, byte for byte.
type stateSnapshot struct {
	version  int
	accounts []source.Member // in key order, as encoding/json orders a map
	books    []byte
}

var (
	_ source.Snapshotter = (*State[struct{}, struct{}])(nil)
	_ source.JSONWriter  = (*stateSnapshot)(nil)
)

// MarshalJSON implements json.Marshaler.
func (s *stateSnapshot) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := s.WriteJSON(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteJSON implements source.JSONWriter: the places are written from
// their encodings, not copied into one buffer first.
func (s *stateSnapshot) WriteJSON(w io.Writer) error {
	head := strconv.AppendInt([]byte(`{"version":`), int64(s.version), 10)
	head = append(head, `,"accounts":`...)
	tail := append(append([]byte(`,"quota":`), s.books...), '}')
	return source.WriteMembers(w, head, s.accounts, tail)
}

// StateVersion is the version of the State's shape.
const StateVersion = 1

// DecodeState decodes stream's state (none: an empty one). check, if not
// nil, validates one account's place and names the bad field; every
// entry of the books is checked too, and a null one is taken for nothing
// known.
func DecodeState[C, E any, P Entry[E]](stream string, raw json.RawMessage, check func(c *C) error) (*State[C, E], error) {
	st := &State[C, E]{Version: StateVersion}
	// Strict: every field of an account's place is optional, so another
	// connector's state read loosely would look like accounts with no
	// place, and everything would be re-read.
	if _, err := source.DecodeStateStrict(stream, raw, StateVersion, st); err != nil {
		return nil, err
	}
	if st.Accounts == nil {
		st.Accounts = map[string]*C{}
	}
	if err := source.CheckEntries(stream, "accounts", st.Accounts, check); err != nil {
		return nil, err
	}
	for k, e := range st.Quota {
		if e == nil {
			delete(st.Quota, k)
		}
	}
	if err := source.CheckEntries(stream, "quota", st.Quota, func(e *E) error { return P(e).Check() }); err != nil {
		return nil, err
	}
	return st, nil
}

// An Account is what a stream reads account by account, keyed as its
// State keys it.
type Account interface {
	StateKey() string
}

// Read reads st's stream account by account, limit at a time, through
// source.Partitions: read gets an account and its place (nil when it has
// none) and returns its next place, a new one or prev as it is (a place
// is never changed once read has returned it: the state encodes each
// once, see Snapshot), which is recorded even when read also
// returns an error (an account emitted with kept details, say) and
// checkpointed with what the ledger knows of endpoint, so each checkpoint
// carries the books of the calls made so far; a large read's checkpoints
// are spaced (checkpointEvery). The state is checkpointed
// once more at the end, so it is right for a partial run too. The ledger is
// seeded from st first, with a WARN for what no Window allows. The error
// joins the failed accounts'.
//
// An account read returns a source.Skipped error for (a call known to
// fail, or refused for the day) keeps its place: in incremental mode the
// stream completes and a later run reads it, in full_refresh the stream
// fails (see source.SkippedPart). Such errors are warned about where the
// call is skipped.
func Read[A Account, C, E any, P Entry[E]](ctx context.Context, l *Ledger[E, P], endpoint string, st *State[C, E], mode protocol.SyncMode,
	accounts []A, limit int, out source.Output, read func(ctx context.Context, a A, prev *C) (*C, error)) error {
	return ReadAnnouncing(ctx, l, endpoint, st, mode, accounts, limit, out, func(ctx context.Context, a A, prev *C, _ Announce[C]) (*C, error) {
		return read(ctx, a, prev)
	})
}

// Announce replaces the account's place with announce(place) and emits
// the state at once, ahead of the rows the read emits next
// (source.Partitions.Announce): announce returns a new place with the
// same progress as the one it is given (nil for none yet), plus what those
// rows need the state to hold before any output has them.
type Announce[C any] func(announce func(cur *C) *C) error

// ReadAnnouncing is Read for a stream whose account reads announce before
// they emit rows a killed run's successor must know of: read gets the
// account's Announce. Announcements are spaced as checkpoints are
// (checkpointEvery, in a large or heavy read).
func ReadAnnouncing[A Account, C, E any, P Entry[E]](ctx context.Context, l *Ledger[E, P], endpoint string, st *State[C, E], mode protocol.SyncMode,
	accounts []A, limit int, out source.Output, read func(ctx context.Context, a A, prev *C, announce Announce[C]) (*C, error)) error {
	dropped := l.Seed(endpoint, st.Quota)
	for _, account := range slices.Sorted(maps.Keys(dropped)) {
		out.Logger().Warn("the state's quota books for the account say something more than a day ahead, which no daily window allows; that is dropped, and the account is called",
			"account", account, "endpoint", endpoint, "books", dropped[account])
	}
	keys := make([]string, len(accounts))
	for i, a := range accounts {
		keys[i] = a.StateKey()
	}
	throttle, announceEvery := spacer[C](len(accounts), st.Accounts)
	parts := source.Partitions[C]{Keys: keys, Attr: "account", Cursors: st.Accounts, Limit: limit, State: func() any {
		st.Quota = l.Snapshot(endpoint)
		return st
	}, Throttle: throttle, AnnounceEvery: announceEvery}
	skipped := newSkips(len(accounts))
	err := parts.Read(ctx, out, func(ctx context.Context, part source.Output, i int, prev *C) (*C, error) {
		next, err := read(ctx, accounts[i], prev, func(announce func(cur *C) *C) error {
			return parts.Announce(ctx, part, keys[i], announce)
		})
		if source.IsSkipped(err) {
			if mode == protocol.Incremental {
				return nil, nil // the account keeps its state
			}
			skipped.add(i, err)
			return next, nil
		}
		return next, err
	})
	return skipped.join(err)
}

// skips gathers, by account index, the accounts a full-refresh read left
// for a later run (their quota spent), so that the stream's error says
// once why a snapshot fails without them (source.SkippedPart) and then
// names each account and its reset, where each account's error said it
// again.
type skips struct {
	mu   sync.Mutex
	errs []error
}

func newSkips(n int) *skips { return &skips{errs: make([]error, n)} }

func (s *skips) add(i int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs[i] = err
}

// join is err with the skipped accounts' one error.
func (s *skips) join(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := errors.Join(s.errs...)
	if all == nil {
		return err
	}
	skip := source.SkippedPart(all, protocol.FullRefresh)
	if err == nil {
		return skip
	}
	return errors.Join(err, skip)
}

// Checkpoints are spaced checkpointEvery apart in a read of more than
// checkpointEachUpTo accounts, or whose places weigh more than
// checkpointSpacedAbove bytes in all (see Weigher): each checkpoint
// encodes the whole state, so one after each of thousands of accounts, or
// after each of a hundred accounts that remember a week of dense keys,
// wrote bytes quadratic in their count (an Enable Banking read of 40 of
// the fake's accounts wrote 61 MB of STATE for a 3 MB state). A crash
// between two loses at most checkpointEvery of places, whose accounts the
// next run reads again, and of books, which may cost it a call they would
// have saved. The Pluggy transactions stream spaces its checkpoints by
// the same rule.
const (
	checkpointEvery           = time.Second
	checkpointEachUpTo        = 1000
	checkpointSpacedAbove int = 1 << 20
)

// A Weigher is an account's place that knows about how many bytes of JSON
// it is in the state. A place that is not one is taken for a small,
// fixed size.
type Weigher interface {
	StateBytes() int
}

// smallPlace is the bytes a place that is not a Weigher is taken for.
const smallPlace = 200

func weight[C any](c *C) int {
	if c == nil {
		return 0
	}
	if w, ok := any(c).(Weigher); ok {
		return w.StateBytes()
	}
	return smallPlace
}

// spacer is the Partitions Throttle of a read of n accounts whose state
// holds places to begin with: it lets every checkpoint through while the
// read is small, then one per checkpointEvery; and its AnnounceEvery,
// which spaces announcements alike. Partitions calls both under its lock.
func spacer[C any](n int, places map[string]*C) (throttle func(key string, prev, next *C) bool, announceEvery func() time.Duration) {
	total := 0
	for _, c := range places {
		total += weight(c)
	}
	large := func() bool { return n > checkpointEachUpTo || total > checkpointSpacedAbove }
	var last time.Time
	throttle = func(_ string, prev, next *C) bool {
		total += weight(next) - weight(prev)
		if large() && time.Since(last) < checkpointEvery {
			return true
		}
		last = time.Now()
		return false
	}
	announceEvery = func() time.Duration {
		if large() {
			return checkpointEvery
		}
		return 0
	}
	return throttle, announceEvery
}

// Each reads the accounts of a stream that keeps no state, limit at a
// time: a snapshot, read in full_refresh only. An account read returns a
// source.Skipped error for fails the stream (see source.SkippedPart): a
// snapshot without it would tell an overwrite destination that it has no
// rows. The error joins the failed accounts'.
func Each[A any](ctx context.Context, accounts []A, limit int, read func(ctx context.Context, a A) error) error {
	skipped := newSkips(len(accounts))
	err := source.Each(ctx, limit, len(accounts), func(ctx context.Context, i int) error {
		err := read(ctx, accounts[i])
		if source.IsSkipped(err) {
			skipped.add(i, err) // warned where the call was skipped
			return nil
		}
		return err
	})
	return skipped.join(err)
}
