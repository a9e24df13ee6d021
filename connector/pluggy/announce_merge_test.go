package pluggy

import (
	"encoding/json"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/source"
)

// TestMergeState: the merged state resumes as the released one does
// (every account's cursor and window as released has them, log position
// included) and lists, as announced, every id the later state lists that
// released does not; an account released has no cursor for gets none.
func TestMergeState(t *testing.T) {
	const (
		u1 = "00000000-0000-4000-8000-000000000001"
		u2 = "00000000-0000-4000-8000-000000000002"
		u3 = "00000000-0000-4000-8000-000000000003"
		u4 = "00000000-0000-4000-8000-000000000004"
		u5 = "00000000-0000-4000-8000-000000000005"
	)
	released := json.RawMessage(`{"version":1,"accounts":{` +
		`"done":{"created_at":"2026-05-01T00:00:00Z","synced_at":"s0","window":{"2026-04-30":["` + u1 + `"]}},` +
		`"same":{"created_at":"2026-05-01T00:00:00Z","synced_at":"s0","window":{"2026-04-30":["` + u2 + `"]}}` +
		`},"log_position":"7"}`)
	later := json.RawMessage(`{"version":1,"accounts":{` +
		// checkpointed since: a new cursor and window; u1 stays listed by released's window
		`"done":{"created_at":"2026-05-02T00:00:00Z","synced_at":"s1","window":{"2026-04-30":["` + u1 + `"],"2026-05-01":["` + u3 + `","legacy-id"]}},` +
		// unchanged since released (the same cursor, parsed apart)
		`"same":{"created_at":"2026-05-01T00:00:00Z","synced_at":"s0","window":{"2026-04-30":["` + u2 + `"]}},` +
		// a first read cut short: announced only, listed twice over
		`"new":{"created_at":"","synced_at":"s1","window":{"2026-05-01":["` + u4 + `"]},"announced":{"2026-05-01":["` + u4 + `"],"2026-05-02":["` + u5 + `"]}}` +
		`},"log_position":"9"}`)
	want := `{"version":1,"accounts":{` +
		`"done":{"created_at":"2026-05-01T00:00:00Z","synced_at":"s0","window":{"2026-04-30":["` + u1 + `"]},"announced":{"2026-05-01":["` + u3 + `","legacy-id"]}},` +
		`"new":{"created_at":"","synced_at":"","announced":{"2026-05-01":["` + u4 + `"],"2026-05-02":["` + u5 + `"]}},` +
		`"same":{"created_at":"2026-05-01T00:00:00Z","synced_at":"s0","window":{"2026-04-30":["` + u2 + `"]}}` +
		`},"log_position":"7"}`
	s := &transactionsStream{}
	// The states as JSON (the run's input, a state a sink made) and as
	// this stream's own snapshots merge alike.
	for name, of := range map[string]func(json.RawMessage) source.State{
		"JSON":     source.StateOf,
		"snapshot": func(b json.RawMessage) source.State { return source.StateOfSnapshot(mustTxState(t, b).Snapshot()) },
	} {
		rel := of(released)
		got := mergedJSON(t, s, rel, of(later))
		if got != want {
			t.Fatalf("%s: merged\n%s\nwant\n%s", name, got, want)
		}
		if err := s.CheckState(json.RawMessage(got)); err != nil {
			t.Fatalf("%s: the merged state does not check: %v", name, err)
		}
		// The merge is a snapshot whose every cursor is encoded already,
		// so that encoding it, perhaps on two goroutines, only reads it.
		merged, err := s.MergeState(rel, of(later))
		if err != nil {
			t.Fatal(err)
		}
		for id, a := range merged.Snapshot().(*txState).Accounts {
			if a.encoded == nil {
				t.Fatalf("%s: the merged cursor of %s is not encoded", name, id)
			}
		}
		// Nothing to add: released itself, not a copy to encode.
		if same, err := s.MergeState(rel, of(released)); err != nil || same != rel {
			t.Fatalf("%s: merging released into itself gave another state (%v)", name, err)
		}
	}
	// The snapshots merged are left as they were.
	relSnap, laterSnap := mustTxState(t, released).Snapshot(), mustTxState(t, later).Snapshot()
	mergedJSON(t, s, source.StateOfSnapshot(relSnap), source.StateOfSnapshot(laterSnap))
	for _, c := range []struct {
		snap json.Marshaler
		want json.RawMessage
	}{{relSnap, released}, {laterSnap, later}} {
		if b, err := c.snap.MarshalJSON(); err != nil || string(b) != string(mustTxStateJSON(t, c.want)) {
			t.Fatalf("a snapshot changed in the merge: %s (%v)", b, err)
		}
	}

	// A first sync: nothing released.
	got := mergedJSON(t, s, source.State{}, source.StateOf(json.RawMessage(`{"version":1,"accounts":{"a":{"created_at":"","synced_at":"s","announced":{"2026-05-01":["`+u1+`"]}}}}`)))
	if want := `{"version":1,"accounts":{"a":{"created_at":"","synced_at":"","announced":{"2026-05-01":["` + u1 + `"]}}}}`; got != want {
		t.Fatalf("merged with nothing released\n%s\nwant\n%s", got, want)
	}
}

// mergedJSON merges two states and returns the JSON of the merge.
func mergedJSON(t *testing.T, s *transactionsStream, released, state source.State) string {
	t.Helper()
	merged, err := s.MergeState(released, state)
	if err != nil {
		t.Fatal(err)
	}
	b, err := merged.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustTxState(t *testing.T, b json.RawMessage) *txState {
	t.Helper()
	st, err := parseTxState(b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// mustTxStateJSON is b as the state encodes it.
func mustTxStateJSON(t *testing.T, b json.RawMessage) json.RawMessage {
	t.Helper()
	out, err := mustTxState(t, b).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMergeCursorBounded: a merged account lists at most maxMergedIDs,
// the newest kept, as an announcement does.
func TestMergeCursorBounded(t *testing.T) {
	var w idWindow
	for i := range maxMergedIDs + 10 {
		w.add(int32(20000+i/100), uuidOf(i))
	}
	w.sort()
	m := mergeCursor(nil, &accountCursor{Announced: w})
	if m == nil || m.Announced.len() != maxMergedIDs || m.CreatedAt != "" {
		t.Fatalf("merged %+v", m)
	}
	if oldest := m.Announced.uuids[0].day; oldest != 20000 {
		// 10 of day 20000 dropped: that day is cut, not a newer one
		t.Fatalf("oldest day kept %d, want 20000", oldest)
	}
	if mergeCursor(m, m) != nil {
		t.Fatal("a cursor merged with itself adds nothing")
	}
}

func uuidOf(i int) string {
	var u [16]byte
	u[14], u[15] = byte(i>>8), byte(i)
	var b [36]byte
	formatUUID(&b, &u)
	return string(b[:])
}
