package pluggy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDayOf(t *testing.T) {
	for in, want := range map[string]string{
		"2026-05-14T00:00:00.000Z": "2026-05-14",
		"2026-05-14T10:20:30":      "2026-05-14",
		"2026-05-14":               "2026-05-14",
		"2026-05-14 10:20":         "2026-05-14",
		"2026-05":                  "",
		"05-2026":                  "",
		"2026-13-01":               "",
		"2026-05-14X":              "",
		"":                         "",
	} {
		if got := dayOf(in); got != want {
			t.Errorf("dayOf(%q) = %q, want %q", in, got, want)
		}
		if _, ok := dayNumber(in); ok != (want != "") {
			t.Errorf("dayNumber(%q) ok = %v, want %v", in, ok, want != "")
		}
	}
}

// TestWindowKeepsTheNewestDays: beyond maxWindowIDs the oldest days go.
func TestWindowKeepsTheNewestDays(t *testing.T) {
	w := newWindowTracker()
	w.raise("2026-01-02")
	w.add("too-old", "2026-01-01T00:00:00.000Z")
	for d := 1; d <= 30; d++ {
		for i := range maxWindowIDs / 20 {
			w.add(fmt.Sprintf("id-%02d-%04d", d, i), fmt.Sprintf("2026-03-%02dT12:00:00.000Z", d))
		}
	}
	win := w.window("2026-03-03").byDay()
	total := 0
	for _, ids := range win {
		total += len(ids)
		if !slices.IsSorted(ids) {
			t.Fatal("ids not sorted")
		}
	}
	if total != maxWindowIDs {
		t.Fatalf("window holds %d ids, want the cap %d", total, maxWindowIDs)
	}
	if _, ok := win["2026-03-30"]; !ok {
		t.Error("newest day dropped")
	}
	if _, ok := win["2026-03-10"]; ok {
		t.Error("an old day kept beyond the cap")
	}
	if _, ok := win["2026-03-02"]; ok {
		t.Error("a day before from kept")
	}
	seen := map[string]struct{}{"id-30-0000": {}}
	gone := txWindow{"2026-03-01": {"a"}, "2026-03-05": {"b", "id-30-0000"}}.compact().vanished("2026-03-03", seen)
	if !slices.Equal(gone, []string{"b"}) {
		t.Fatalf("vanished = %v, want [b]", gone)
	}
	if err := (txWindow{"2026-2-1": {"a"}}).check(); err == nil {
		t.Fatal("a malformed day passed the state check")
	}
}

// oldTracker is the map-based window tracker the compact one replaced: the
// reference it must agree with.
type oldTracker struct {
	floor string
	days  map[string]string
}

func (t *oldTracker) add(id, date string) {
	if d := dayOf(date); d != "" && d >= t.floor {
		t.days[id] = d
	}
}

func (t *oldTracker) window(from string) txWindow {
	w := txWindow{}
	for id, d := range t.days {
		if d >= from {
			w[d] = append(w[d], id)
		}
	}
	days := slices.Sorted(maps.Keys(w))
	total := 0
	for i := len(days) - 1; i >= 0; i-- {
		ids := w[days[i]]
		slices.Sort(ids)
		if total+len(ids) > maxWindowIDs {
			ids = ids[:maxWindowIDs-total]
			if len(ids) == 0 {
				delete(w, days[i])
				continue
			}
			w[days[i]] = ids
		}
		total += len(ids)
	}
	if len(w) == 0 {
		return nil
	}
	return w
}

// TestCompactWindowMatchesMaps: the compact window keeps the ids the map of
// strings kept, lists the same vanished ids in the same order, and its
// state encodes byte for byte as encoding/json encoded the old one; a state
// written the old way reads back and encodes unchanged.
func TestCompactWindowMatchesMaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randomID := func() string {
		var u [16]byte
		for i := range u {
			u[i] = byte(rng.IntN(256))
		}
		var s [36]byte
		formatUUID(&s, &u)
		switch rng.IntN(12) {
		case 0:
			return strings.ToUpper(string(s[:]))
		case 1:
			return fmt.Sprintf("tx-%d", rng.IntN(1000))
		case 2:
			return []string{"a<b>&c", "é-ü", "\u2028x", `q"\`, "z", string(s[:35])}[rng.IntN(6)]
		default:
			return string(s[:])
		}
	}
	for round := range 300 {
		maxIDs := []int{5, 60, 3000, 12000}[round%4]
		spread := []int{1, 3, 40, 400}[rng.IntN(4)]
		nt, ot := newWindowTracker(), &oldTracker{days: map[string]string{}}
		var ids []string
		for range rng.IntN(maxIDs) + 1 {
			id := randomID()
			if len(ids) > 0 && rng.IntN(8) == 0 {
				id = ids[rng.IntN(len(ids))] // seen again, maybe on another day
			}
			ids = append(ids, id)
			date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(spread)).Format(pluggyTimeLayout)
			if rng.IntN(50) == 0 {
				date = "not a date"
			}
			nt.add(id, date)
			ot.add(id, date)
			if rng.IntN(200) == 0 {
				floor := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(spread)).Format(time.DateOnly)
				nt.raise(floor)
				if floor > ot.floor {
					ot.floor = floor
				}
			}
		}
		// As in a read, the window starts at or after the tracker's floor.
		from := max(ot.floor, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(spread)-1).Format(time.DateOnly))
		want := ot.window(from)
		got := nt.window(from)
		if !reflect.DeepEqual(got.byDay(), want) {
			g := got.byDay()
			for _, d := range slices.Sorted(maps.Keys(want)) {
				if !slices.Equal(g[d], want[d]) {
					t.Logf("day %s: got %d ids, want %d", d, len(g[d]), len(want[d]))
				}
			}
			for d := range g {
				if _, ok := want[d]; !ok {
					t.Logf("day %s: got %d ids, want none", d, len(g[d]))
				}
			}
			t.Fatalf("round %d: window differs from the map-based one", round)
		}
		if got.len() > maxWindowIDs {
			t.Fatalf("round %d: %d ids over the cap", round, got.len())
		}
		seen := map[string]struct{}{}
		for _, id := range ids {
			if rng.IntN(2) == 0 {
				seen[id] = struct{}{}
			}
		}
		var wantGone []string
		for _, day := range slices.Sorted(maps.Keys(want)) {
			if day < from {
				continue
			}
			for _, id := range want[day] {
				if _, ok := seen[id]; !ok {
					wantGone = append(wantGone, id)
				}
			}
		}
		if gone := got.vanished(from, seen); !slices.Equal(gone, wantGone) {
			t.Fatalf("round %d: vanished = %v, want %v", round, gone, wantGone)
		}

		// The state, encoded the old way (encoding/json over maps) and the
		// new way, then read back and encoded again.
		old := txStateJSON{Version: txStateVersion, Accounts: map[string]*accountCursorJSON{
			"acc-1":  {CreatedAt: "2026-01-10T00:00:00.000Z", SyncedAt: "2026-01-11T00:00:00Z", Window: want},
			"acc<&>": {CreatedAt: "2026-01-10T00:00:00.000+00:00", SyncedAt: "x", Window: txWindow{"2026-01-02": {randomID()}}},
			"acc-0":  {CreatedAt: "2026-01-10T00:00:00Z", SyncedAt: "", Window: nil},
		}}
		wantJSON, err := json.Marshal(old)
		if err != nil {
			t.Fatal(err)
		}
		st, err := parseTxState(wantJSON)
		if err != nil {
			t.Fatal(err)
		}
		gotJSON, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gotJSON, wantJSON) {
			t.Fatalf("round %d: state encodes as\n%s\nwant\n%s", round, gotJSON, wantJSON)
		}
		st.Accounts["acc-1"].Window = got
		if again, _ := json.Marshal(st); !bytes.Equal(again, wantJSON) {
			t.Fatalf("round %d: the tracker's window encodes differently", round)
		}
	}
}

// TestDayNumber agrees with the time package on every day of 1900-2100 and
// on the edges of what dayOf reads.
func TestDayNumber(t *testing.T) {
	for d := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2100; d = d.AddDate(0, 0, 1) {
		s := d.Format(time.DateOnly)
		n, ok := dayNumber(s + "T12:00:00.000Z")
		if !ok || int64(n) != d.Unix()/86400 {
			t.Fatalf("dayNumber(%s) = %d, %v, want %d", s, n, ok, d.Unix()/86400)
		}
		if got := string(appendDay(nil, n)); got != s {
			t.Fatalf("appendDay(%d) = %s, want %s", n, got, s)
		}
	}
	for _, s := range []string{"0000-01-01", "0000-03-01", "0001-01-01", "9999-12-31"} {
		n, ok := dayNumber(s)
		if !ok || string(appendDay(nil, n)) != s {
			t.Errorf("%s: day %d, %v, back to %s", s, n, ok, appendDay(nil, n))
		}
	}
	for _, s := range []string{"2026-02-29", "2026-13-01", "2026-5-14", ""} {
		if _, ok := dayNumber(s); ok {
			t.Errorf("dayNumber(%q) accepted it", s)
		}
	}
}

// TestIDBatchesStayUnder8KB: a look-up of the most ids the API takes would
// make a ~19.6 KB request line; a batch keeps the whole URL well under 8 KB.
func TestIDBatchesStayUnder8KB(t *testing.T) {
	ids := make([]string, idsPerQuery)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-1c2d-4e5f-8a9b-%012x", i, i*7919)
	}
	n := idsPerBatch(ids)
	q := url.Values{"accountId": {"3fa85f64-5717-4562-b3fc-2c963f66afa6"}, "ids": {strings.Join(ids[:n], ",")}}
	u := "https://api.pluggy.ai/v2/transactions?" + q.Encode()
	if n < 100 || len(u) > 7000 {
		t.Errorf("%d ids a batch make a %d-byte URL; want at least 100 ids and well under 8 KB", n, len(u))
	}
	if all := len("https://api.pluggy.ai/v2/transactions?" + url.Values{"ids": {strings.Join(ids, ",")}}.Encode()); all < 16<<10 {
		t.Errorf("500 ids make only %d bytes; the test's premise is wrong", all)
	}
	if got := idsPerBatch([]string{strings.Repeat("x", 10000)}); got != 1 {
		t.Errorf("an id longer than the budget gives batches of %d, want 1", got)
	}
}

// TestAnnouncedState: an account only announced (a first sync cut short)
// has no created_at; announced ids load and encode back byte for byte; an
// account with neither a cursor nor an announcement, or a bad announced
// day, is refused; a state without announcements (older versions) loads.
func TestAnnouncedState(t *testing.T) {
	const u1, u2 = "0b7f8a94-4c1e-4f0e-9a55-1d2a3b4c5d6e", "6ec156fe-e8ac-4d9a-a4b3-7770529ab01c"
	in := `{"version":1,"accounts":{"a":{"created_at":"","synced_at":"2026-05-21T14:00:00Z","announced":{"2026-05-14":["` + u1 + `","x-1"]}},` +
		`"b":{"created_at":"2026-05-21T03:00:00.000Z","synced_at":"2026-05-21T14:00:00Z","window":{"2026-05-20":["` + u2 + `"]},"announced":{"2026-05-21":["` + u1 + `"]}}}}`
	st, err := parseTxState(json.RawMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	if a := st.Accounts["a"]; a.CreatedAt != "" || !a.createdAt.IsZero() || a.Announced.len() != 2 {
		t.Errorf("account a: %+v", a)
	}
	out, err := st.MarshalJSON()
	if err != nil || string(out) != in {
		t.Errorf("encoded back as\n%s\nwant\n%s (%v)", out, in, err)
	}
	// Encoded twice (the second from the cache), the same bytes.
	if again, _ := st.MarshalJSON(); !bytes.Equal(again, out) {
		t.Errorf("second encoding differs:\n%s", again)
	}
	for _, bad := range []string{
		`{"version":1,"accounts":{"a":{"created_at":"","synced_at":""}}}`,
		`{"version":1,"accounts":{"a":{"created_at":"","synced_at":"","announced":{"2026-5-1":["x"]}}}}`,
		`{"version":1,"accounts":{"a":{"created_at":"","synced_at":"","announced":{"2026-05-01":[""]}}}}`,
	} {
		if _, err := parseTxState(json.RawMessage(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	old := `{"version":1,"accounts":{"b":{"created_at":"2026-05-21T03:00:00.000Z","synced_at":"2026-05-21T14:00:00Z"}}}`
	if st, err := parseTxState(json.RawMessage(old)); err != nil || st.Accounts["b"].Announced.len() != 0 {
		t.Errorf("a state without announcements: %v", err)
	}
}

// TestStateSnapshot: WriteJSON writes MarshalJSON's bytes; a snapshot
// encodes to the state as it was taken, whatever the state's accounts and
// log position become after, so the runtime may encode it later.
func TestStateSnapshot(t *testing.T) {
	const u1, u2 = "0b7f8a94-4c1e-4f0e-9a55-1d2a3b4c5d6e", "6ec156fe-e8ac-4d9a-a4b3-7770529ab01c"
	in := `{"version":1,"accounts":{"a":{"created_at":"","synced_at":"2026-05-21T14:00:00Z","announced":{"2026-05-14":["` + u1 + `","x-1"]}},` +
		`"b":{"created_at":"2026-05-21T03:00:00.000Z","synced_at":"2026-05-21T14:00:00Z","window":{"2026-05-20":["` + u2 + `"]}}},"log_position":"` + strings.Repeat("0", 20) + `"}`
	st, err := parseTxState(json.RawMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	if err := st.WriteJSON(&w); err != nil || w.String() != in {
		t.Errorf("WriteJSON wrote\n%s\nwant\n%s (%v)", w.String(), in, err)
	}
	snap := st.Snapshot()
	st.Accounts["b"] = &accountCursor{CreatedAt: "2026-06-01T00:00:00.000Z", SyncedAt: "2026-06-01T00:00:00Z"}
	delete(st.Accounts, "a")
	st.Accounts["c"] = &accountCursor{CreatedAt: "2026-06-01T00:00:00.000Z", SyncedAt: "2026-06-01T00:00:00Z"}
	st.LogPosition = ""
	if out, err := snap.MarshalJSON(); err != nil || string(out) != in {
		t.Errorf("the snapshot encodes as\n%s\nwant\n%s (%v)", out, in, err)
	}
}
