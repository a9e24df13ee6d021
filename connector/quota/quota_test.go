package quota

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

// books is a test entry: the times a call was refused until.
type books struct {
	Until []string `json:"until,omitempty"`
}

func (b *books) Check() error {
	for _, u := range b.Until {
		if _, err := time.Parse(time.RFC3339, u); err != nil {
			return fmt.Errorf("until: %q is not a time", u)
		}
	}
	return nil
}

func (b *books) Trim(now time.Time) string {
	var keep, dropped []string
	for _, u := range b.Until {
		if t, _ := time.Parse(time.RFC3339, u); t.After(now.Add(Window)) {
			dropped = append(dropped, u)
			continue
		}
		keep = append(keep, u)
	}
	b.Until = keep
	return strings.Join(dropped, ", ")
}

func (b *books) Keep(now time.Time) bool {
	var keep []string
	for _, u := range b.Until {
		if t, _ := time.Parse(time.RFC3339, u); t.After(now) {
			keep = append(keep, u)
		}
	}
	b.Until = keep
	return len(keep) > 0
}

func (b *books) Clone() *books { return &books{Until: append([]string(nil), b.Until...)} }

func at(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }

// TestLedger: what the run learns wins over a state; a state's claim
// beyond a day is dropped and said; what ran out is not written back; what
// Get and Snapshot return is the caller's own.
func TestLedger(t *testing.T) {
	now := t0
	l := NewLedger[books](func() time.Time { return now })
	l.Update("a", Transactions, func(b *books) { b.Until = []string{at(time.Hour)} })
	dropped := l.Seed(Transactions, map[string]*books{
		"a": {Until: []string{at(2 * time.Hour)}},
		"b": {Until: []string{at(3 * time.Hour), "2058-01-01T00:00:00Z"}},
		"c": {Until: []string{at(-time.Hour)}},
		"d": nil,
	})
	if len(dropped) != 1 || dropped["b"] != "2058-01-01T00:00:00Z" {
		t.Errorf("dropped %v, want b's 2058", dropped)
	}
	if got := l.Get("a", Transactions).Until; len(got) != 1 || got[0] != at(time.Hour) {
		t.Errorf("a: %v; the state overwrote what the run learnt", got)
	}
	if got := l.Get("b", Transactions).Until; len(got) != 1 || got[0] != at(3*time.Hour) {
		t.Errorf("b: %v", got)
	}
	if got := l.Get("a", Details); len(got.Until) != 0 {
		t.Errorf("another endpoint's books: %v", got)
	}
	l.Get("a", Transactions).Until[0] = "changed"
	snap := l.Snapshot(Transactions)
	snap["a"].Until[0] = "changed"
	if got := l.Get("a", Transactions).Until[0]; got != at(time.Hour) {
		t.Errorf("a copy shared the ledger's entry: %s", got)
	}
	if _, ok := snap["c"]; ok {
		t.Error("an entry that ran out is written back")
	}
	now = t0.Add(90 * time.Minute)
	if snap := l.Snapshot(Transactions); len(snap) != 1 || snap["b"] == nil {
		t.Errorf("after a's refusal ended: %v", snap)
	}
}

func TestDecodeState(t *testing.T) {
	type place struct {
		N int `json:"n"`
	}
	check := func(p *place) error {
		if p.N < 0 {
			return errors.New("n is negative")
		}
		return nil
	}
	st, err := DecodeState[place, books]("transactions", json.RawMessage(`{"version":1,"accounts":{"a":{"n":1}},"quota":{"a":{"until":["`+at(0)+`"]},"b":null}}`), check)
	if err != nil || st.Accounts["a"].N != 1 || len(st.Quota) != 1 || st.Quota["a"] == nil {
		t.Fatalf("%+v %v", st, err)
	}
	if st, err := DecodeState[place, books]("transactions", nil, check); err != nil || st.Accounts == nil || st.Version != StateVersion {
		t.Fatalf("no state: %+v %v", st, err)
	}
	for raw, want := range map[string]string{
		`{"version":1,"accounts":{"a":{"n":-1}}}`:              `transactions state: accounts["a"].n is negative`,
		`{"version":1,"accounts":{"a":null}}`:                  `transactions state: accounts["a"] is null`,
		`{"version":1,"quota":{"a":{"until":["noon"]}}}`:       `transactions state: quota["a"].until: "noon" is not a time`,
		`{"version":1,"accounts":{"a":{"created_at":"2026"}}}`: `unknown field "created_at"`,
		`{"version":2,"accounts":{}}`:                          `version 2`,
	} {
		if _, err := DecodeState[place, books]("transactions", json.RawMessage(raw), check); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
}

type ref string

func (r ref) StateKey() string { return string(r) }

// skip is a Skipped error, as a provider's spent quota.
type skip struct{}

func (skip) Error() string { return "transactions quota spent" }
func (skip) Skipped() bool { return true }

// checkpoints is an Output that keeps the states it is given.
type checkpoints struct {
	mu     sync.Mutex
	states []string
}

func (c *checkpoints) Record(jsonrow.Row) error { return nil }
func (c *checkpoints) Checkpoint(st any) error {
	if s, ok := st.(source.Snapshotter); ok {
		st = s.Snapshot() // as the runtime takes it
	}
	b, err := json.Marshal(st)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.states = append(c.states, string(b))
	return err
}
func (c *checkpoints) Announce(st any) error      { return c.Checkpoint(st) }
func (c *checkpoints) Log(protocol.Level, string) {}
func (c *checkpoints) Logger() *slog.Logger       { return slog.New(slog.DiscardHandler) }

// TestStateSnapshot: a snapshot's JSON is what encoding/json makes of the
// state when it is taken (keys escaped as it escapes them, a null place,
// no books), whatever changes in the state after; and a place kept from
// one snapshot to the next is not encoded again.
func TestStateSnapshot(t *testing.T) {
	type place struct {
		N    int      `json:"n"`
		Keys []string `json:"keys,omitempty"`
	}
	st := &State[place, books]{Version: StateVersion, Accounts: map[string]*place{
		"b": {N: 2, Keys: []string{"<k&1>", "ç"}}, "a\"<": {N: 1}, "z": nil, "c": {N: 3},
	}}
	check := func(snap json.Marshaler, want string) {
		t.Helper()
		got, err := snap.MarshalJSON()
		if err != nil || string(got) != want {
			t.Errorf("snapshot %s, %v;\nwant     %s", got, err, want)
		}
		var streamed strings.Builder
		if err := snap.(source.JSONWriter).WriteJSON(&streamed); err != nil || streamed.String() != want {
			t.Errorf("written %s, %v;\nwant    %s", streamed.String(), err, want)
		}
	}
	want1, _ := json.Marshal(st)
	snap1 := st.Snapshot()
	check(snap1, string(want1))

	kept := st.Accounts["b"]
	st.Accounts["c"] = &place{N: 4}
	st.Accounts["d"] = &place{N: 5}
	delete(st.Accounts, "z")
	st.Quota = map[string]*books{"c": {Until: []string{"2026-01-03T10:00:00Z"}}}
	want2, _ := json.Marshal(st)
	snap2 := st.Snapshot()
	check(snap1, string(want1))
	check(snap2, string(want2))
	if m1, m2 := snap1.(*stateSnapshot).accounts, snap2.(*stateSnapshot).accounts; m1[1].Key != "b" || &m1[1].Value[0] != &m2[1].Value[0] || st.encoded[kept].Key != "b" {
		t.Errorf("the place of b, kept, was encoded again: %q %q", m1[1].Key, m2[1].Key)
	}
}

// TestStateSnapshotFails: a place that cannot be encoded fails the
// snapshot's MarshalJSON, naming the account, and the snapshot is then no
// JSONWriter, whose errors are its writer's alone.
func TestStateSnapshotFails(t *testing.T) {
	type place struct{ F float64 }
	st := &State[place, books]{Version: StateVersion, Accounts: map[string]*place{"a": {1}, "b": {math.NaN()}}}
	snap := st.Snapshot()
	if _, err := snap.MarshalJSON(); err == nil || !strings.Contains(err.Error(), `account "b"`) {
		t.Errorf("MarshalJSON: %v; want an error naming account b", err)
	}
	if _, ok := snap.(source.JSONWriter); ok {
		t.Error("a snapshot that cannot be encoded is a JSONWriter")
	}
}

// TestRead: each checkpoint carries the books learnt so far; a skipped
// account keeps its place and fails only a full-refresh stream, as
// transient.
func TestRead(t *testing.T) {
	type place struct {
		N int `json:"n"`
	}
	for _, mode := range []protocol.SyncMode{protocol.Incremental, protocol.FullRefresh} {
		l := NewLedger[books](func() time.Time { return t0 })
		st := &State[place, books]{Version: StateVersion, Accounts: map[string]*place{"a": {1}, "b": {1}}}
		out := &checkpoints{}
		err := Read(context.Background(), l, Transactions, st, mode, []ref{"a", "b"}, 1, out, func(_ context.Context, a ref, prev *place) (*place, error) {
			if a == "b" {
				l.Update("b", Transactions, func(b *books) { b.Until = []string{at(time.Hour)} })
				return nil, fmt.Errorf("account b: %w", skip{})
			}
			return &place{prev.N + 1}, nil
		})
		if st.Accounts["a"].N != 2 || st.Accounts["b"].N != 1 {
			t.Errorf("%s: places %+v %+v", mode, st.Accounts["a"], st.Accounts["b"])
		}
		last := out.states[len(out.states)-1]
		if !strings.Contains(last, `"quota":{"b":{"until":["`+at(time.Hour)+`"]}}`) {
			t.Errorf("%s: last checkpoint %s", mode, last)
		}
		switch mode {
		case protocol.Incremental:
			if err != nil {
				t.Errorf("incremental: %v", err)
			}
		default:
			if source.FailureTypeOf(err) != protocol.TransientError || !strings.Contains(err.Error(), "transactions quota spent") {
				t.Errorf("full refresh: %v", err)
			}
		}
	}
}

// heavy is a place that says it weighs Bytes (see Weigher).
type heavy struct {
	N     int `json:"n"`
	Bytes int `json:"-"`
}

func (h *heavy) StateBytes() int { return h.Bytes }

// TestReadSpacesCheckpoints: a read of many accounts, or of places that
// weigh more than a megabyte in all, checkpoints at most once a second (a
// read here takes well under one), not after every account, and its last
// checkpoint still holds every account's place; a small read checkpoints
// after each.
func TestReadSpacesCheckpoints(t *testing.T) {
	for _, c := range []struct {
		name     string
		accounts int
		bytes    int // each place's weight
		// most is the checkpoints a spaced read makes in well under a
		// second: those before the rule applies, the first after it, and
		// the last; 0 for a read that is not spaced.
		most int
	}{
		{"ten small places", 10, 0, 0},
		{"over a thousand accounts", checkpointEachUpTo + 500, 0, 2},
		{"twenty places of 300 KB", 20, 300 << 10, 4}, // three under a megabyte
	} {
		t.Run(c.name, func(t *testing.T) {
			refs := make([]ref, c.accounts)
			for i := range refs {
				refs[i] = ref(fmt.Sprintf("acct-%04d", i))
			}
			l := NewLedger[books](func() time.Time { return t0 })
			st := &State[heavy, books]{Version: StateVersion, Accounts: map[string]*heavy{}}
			out := &checkpoints{}
			start := time.Now()
			err := Read(context.Background(), l, Transactions, st, protocol.Incremental, refs, 4, out, func(_ context.Context, a ref, prev *heavy) (*heavy, error) {
				return &heavy{N: 1, Bytes: c.bytes}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > checkpointEvery/2 {
				t.Skipf("the read took %v: too slow to tell spaced checkpoints from a slow machine", time.Since(start))
			}
			n := len(out.states)
			switch {
			case c.most == 0 && n != c.accounts+1:
				t.Errorf("%d checkpoints for %d accounts; want one after each and one at the end", n, c.accounts)
			case c.most > 0 && n > c.most:
				t.Errorf("%d checkpoints for %d accounts; want at most %d, spaced a second apart", n, c.accounts, c.most)
			}
			var last State[heavy, books]
			if err := json.Unmarshal([]byte(out.states[n-1]), &last); err != nil {
				t.Fatal(err)
			}
			if len(last.Accounts) != c.accounts {
				t.Errorf("the last checkpoint holds %d places, want %d", len(last.Accounts), c.accounts)
			}
		})
	}
}

// TestRefresh: details are reused while under a day old, fetched after,
// kept when fetching fails, and a spent limit fails only full refresh; a
// null kept by an earlier version is no details.
func TestRefresh(t *testing.T) {
	obj := json.RawMessage(`{"iban":"DE89"}`)
	fresh := json.RawMessage(`{"iban":"DE89","name":"new"}`)
	calls := 0
	fetch := func(err error) func() (json.RawMessage, error) {
		return func() (json.RawMessage, error) {
			calls++
			if err != nil {
				return nil, err
			}
			return fresh, nil
		}
	}
	kept := &CachedDetails{Details: obj, FetchedAt: at(-time.Hour), SyncedAt: at(-time.Hour)}
	next, d, err := Refresh(context.Background(), kept, t0, protocol.Incremental, fetch(nil))
	if calls != 0 || string(d) != string(obj) || next.FetchedAt != at(-time.Hour) || next.SyncedAt != at(0) || err != nil {
		t.Errorf("within the day: %d calls, %s, %+v, %v", calls, d, next, err)
	}
	next, d, err = Refresh(context.Background(), kept, t0.Add(Window), protocol.Incremental, fetch(nil))
	if calls != 1 || string(d) != string(fresh) || next.FetchedAt != at(Window) || err != nil || kept.FetchedAt != at(-time.Hour) {
		t.Errorf("a day later: %d calls, %s, %+v, %v", calls, d, next, err)
	}
	spent := fmt.Errorf("account a: %w", skip{})
	next, d, err = Refresh(context.Background(), kept, t0.Add(Window), protocol.Incremental, fetch(spent))
	if string(d) != string(obj) || next.FetchedAt != at(-time.Hour) || err != nil {
		t.Errorf("spent, incremental: %s, %+v, %v", d, next, err)
	}
	if _, d, err = Refresh(context.Background(), nil, t0, protocol.FullRefresh, fetch(spent)); d != nil || !errors.Is(err, spent) {
		t.Errorf("spent, full refresh: %s, %v", d, err)
	}
	failing := errors.New("bank down")
	if _, d, err = Refresh(context.Background(), kept, t0.Add(Window), protocol.Incremental, fetch(failing)); string(d) != string(obj) || !errors.Is(err, failing) {
		t.Errorf("failing: %s, %v", d, err)
	}
	if next, d, err = Refresh(context.Background(), kept, t0.Add(Window), protocol.Incremental, nil); string(d) != string(obj) || err != nil || next.SyncedAt != at(Window) {
		t.Errorf("not callable: %s, %+v, %v", d, next, err)
	}
	legacy := &CachedDetails{Details: json.RawMessage("null"), SyncedAt: at(-time.Hour)}
	if legacy.Check() != nil {
		t.Error("a null details kept by an earlier version is refused")
	}
	if next, d, err = Refresh(context.Background(), legacy, t0, protocol.Incremental, fetch(spent)); d != nil || next.Details != nil || err != nil {
		t.Errorf("legacy null: %s, %+v, %v", d, next, err)
	}
	if err := (&CachedDetails{Details: json.RawMessage(`[1]`)}).Check(); err == nil {
		t.Error("details that are not an object are accepted")
	}
}

type consented struct {
	id, consent string
	blocked     error
}

func (c consented) Consent() (string, error) { return c.consent, c.blocked }

// TestReadable: accounts of a lapsed consent are not read, and why is said
// once per consent.
func TestReadable(t *testing.T) {
	expired, revoked, listing := errors.New("session s1 expired"), errors.New("session s3 revoked"), errors.New("session s4 not found")
	accounts := []consented{{"a", "s1", expired}, {"b", "s1", expired}, {"c", "s2", nil}, {"d", "s3", revoked}}
	got, err := Readable(accounts, listing)
	if len(got) != 1 || got[0].id != "c" {
		t.Errorf("readable %v", got)
	}
	if !errors.Is(err, expired) || !errors.Is(err, revoked) || !errors.Is(err, listing) || strings.Count(err.Error(), "s1 expired") != 1 {
		t.Errorf("error %q: want each reason once", err)
	}
	if err := Blocked(accounts[2:3]); err != nil {
		t.Errorf("blocked %v", err)
	}
}

// TestEach: in a snapshot, a skipped account fails the stream as transient;
// other errors are as they are, and every account is read.
func TestEach(t *testing.T) {
	boom := errors.New("boom")
	var mu sync.Mutex
	read := map[ref]bool{}
	err := Each(context.Background(), []ref{"a", "b", "c"}, 2, func(_ context.Context, a ref) error {
		mu.Lock()
		read[a] = true
		mu.Unlock()
		switch a {
		case "a":
			return skip{}
		case "b":
			return boom
		}
		return nil
	})
	if len(read) != 3 || !errors.Is(err, boom) || source.FailureTypeOf(err) != protocol.TransientError || !strings.Contains(err.Error(), "INCOMPLETE") {
		t.Errorf("read %v, error %v (%s)", read, err, source.FailureTypeOf(err))
	}
}
