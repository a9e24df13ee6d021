package pluggy

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/internal/civil"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// Deleted and replaced transactions.
//
// Pluggy deletes a row and creates another under a new id when a pending
// row posts, a bill closes or an installment is re-dated; nothing links the
// two, and a plain deletion leaves no trace at all. An upsert-only load would
// keep the old row forever. The incremental read already re-reads every row
// dated within the lookback window (dateFrom = cursor - lookback_days), so it
// can tell which rows disappeared:
//
//   - State keeps, per account, the ids the run saw dated inside the window
//     the next run will re-read, grouped by day: {"2026-05-14": [ids], ...}.
//     At most maxWindowIDs per account; beyond that the oldest days are
//     dropped, and deletions of those rows go undetected.
//   - A later run lists the ids of that set whose day is still inside its
//     own window but which neither of its two queries returned. It asks
//     Pluggy for exactly those ids (GET /v2/transactions?ids=, about 150
//     at a time: see idsQueryBytes) so a row that only moved, or a page the API served short, never
//     passes for deleted; ids still missing get a tombstone: the same id,
//     accountId and itemId with _ab_cdc_deleted_at set to when the run
//     noticed, the field Airbyte destinations treat as a delete in deduped
//     modes, and the stream's cursor, createdAt, set to the same time (see
//     tombstone). A row Pluggy still serves is emitted as a normal record.
//   - A tombstoned id leaves the set, so it is emitted once. Ids whose day
//     fell out of the window are dropped without a tombstone: not seeing
//     them again means nothing.
//   - So the guarantee: a row deleted while its date is within lookback_days
//     (credit_lookback_days for CREDIT accounts)
//     of the newest createdAt read is reported deleted on the next
//     incremental run; a row deleted later than that is not detected.
//     full_refresh emits no tombstones (an overwrite drops vanished rows);
//     a state without a window (older connector versions, lookback_days 0)
//     detects nothing on that run.

// maxWindowIDs bounds one account's window in the state.
const maxWindowIDs = 5000

// idsPerQuery is the v2 ids filter's documented maximum.
const idsPerQuery = 500

// idsQueryBytes bounds the ids= value of one look-up, percent-encoded. 500
// UUIDs with encoded commas make a ~19.6 KB request line, and front ends
// commonly refuse request lines over 16 KiB or 8 KiB (Node's default
// header size, AWS ALB): 6 KiB keeps the whole URL well under 8 KB, about
// 150 UUIDs a call. A 414 or 431 still halves the batch (lookUp).
const idsQueryBytes = 6 << 10

// idsPerBatch is how many of ids fit one look-up: as many as idsQueryBytes
// holds for the longest of them, at most idsPerQuery, at least one.
func idsPerBatch(ids []string) int {
	longest := 1
	for _, id := range ids {
		longest = max(longest, len(url.QueryEscape(id))+len("%2C"))
	}
	return max(1, min(idsPerQuery, idsQueryBytes/longest))
}

// urlTooLong reports an answer refusing the request for its size: 414 URI
// Too Long or 431 Request Header Fields Too Large.
func urlTooLong(err error) bool {
	var se *httpclient.StatusError
	return errors.As(err, &se) && (se.Status == http.StatusRequestURITooLong || se.Status == http.StatusRequestHeaderFieldsTooLarge)
}

// txWindow is a window as the state's JSON has it: the ids by day
// (YYYY-MM-DD, UTC), each day's ids sorted. It is only decoded and checked;
// in memory a window is an idWindow.
type txWindow map[string][]string

func (w txWindow) check() error {
	for day, ids := range w {
		if dayOf(day) != day {
			return fmt.Errorf("window key %q is not a YYYY-MM-DD date", day)
		}
		for _, id := range ids {
			if id == "" {
				return fmt.Errorf("window[%q] has an empty id", day)
			}
		}
	}
	return nil
}

// compact turns a checked window into an idWindow, dropping the map.
func (w txWindow) compact() idWindow {
	var iw idWindow
	for day, ids := range w {
		d, _ := dayNumber(day)
		for _, id := range ids {
			iw.add(d, id)
		}
	}
	iw.sort()
	return iw
}

// idWindow is a window in memory. A state can hold tens of thousands of
// ids (5,000 an account), kept for the whole run and re-encoded at every
// checkpoint, so it is stored compactly: Pluggy's ids are UUIDs, kept as 16
// bytes and a day number (20 bytes, where a map of strings took ~70); any
// other id is kept as a string. Both slices are sorted by day, then id: the
// bytes of a lowercase UUID sort as its text does, so either slice is in the
// order the state's JSON lists them, and the two merge by text.
type idWindow struct {
	uuids []uuidEntry
	other []stringEntry
}

type uuidEntry struct {
	day int32 // days since 1970-01-01
	id  [16]byte
}

type stringEntry struct {
	day int32
	id  string
}

func (e uuidEntry) dayNum() int32                 { return e.day }
func (e uuidEntry) compareID(f uuidEntry) int     { return bytes.Compare(e.id[:], f.id[:]) }
func (e stringEntry) dayNum() int32               { return e.day }
func (e stringEntry) compareID(f stringEntry) int { return strings.Compare(e.id, f.id) }

func (w *idWindow) add(day int32, id string) {
	if u, ok := parseUUID(id); ok {
		w.uuids = append(w.uuids, uuidEntry{day, u})
	} else {
		w.other = append(w.other, stringEntry{day, id})
	}
}

func (w *idWindow) sort() {
	slices.SortFunc(w.uuids, func(a, b uuidEntry) int { return cmp.Or(cmp.Compare(a.day, b.day), a.compareID(b)) })
	slices.SortFunc(w.other, func(a, b stringEntry) int { return cmp.Or(cmp.Compare(a.day, b.day), a.compareID(b)) })
}

func (w idWindow) len() int { return len(w.uuids) + len(w.other) }

// each calls fn with every id in the state's order: days ascending, then
// ids as text. A UUID comes as its text in uuid, valid only during the call
// (and never needs escaping); any other id as other.
func (w idWindow) each(fn func(day int32, uuid []byte, other string)) {
	var ub [36]byte
	i, j := 0, 0
	if len(w.other) == 0 { // the usual case: nothing to merge
		for i := range w.uuids {
			formatUUID(&ub, &w.uuids[i].id)
			fn(w.uuids[i].day, ub[:], "")
		}
		return
	}
	formatted := -1
	for i < len(w.uuids) || j < len(w.other) {
		if i < len(w.uuids) {
			u := &w.uuids[i]
			if formatted != i {
				formatUUID(&ub, &u.id)
				formatted = i
			}
			if j == len(w.other) || u.day < w.other[j].day || u.day == w.other[j].day && string(ub[:]) < w.other[j].id {
				fn(u.day, ub[:], "")
				i++
				continue
			}
		}
		fn(w.other[j].day, nil, w.other[j].id)
		j++
	}
}

// byDay returns the window as the state's JSON has it.
func (w idWindow) byDay() txWindow {
	if w.len() == 0 {
		return nil
	}
	out := txWindow{}
	w.each(func(day int32, uuid []byte, other string) {
		k := string(appendDay(nil, day))
		if uuid != nil {
			other = string(uuid)
		}
		out[k] = append(out[k], other)
	})
	return out
}

// vanished lists the ids of w dated on or after from that seen lacks.
func (w idWindow) vanished(from string, seen map[string]struct{}) []string {
	f, ok := dayNumber(from)
	if !ok {
		f = math.MinInt32
	}
	var out []string
	w.each(func(day int32, uuid []byte, other string) {
		if day < f {
			return
		}
		if uuid != nil {
			if _, ok := seen[string(uuid)]; !ok {
				out = append(out, string(uuid))
			}
		} else if _, ok := seen[other]; !ok {
			out = append(out, other)
		}
	})
	return out
}

// appendJSON appends the window as the state's JSON object, byte for byte
// what encoding/json writes for the txWindow it stands for.
func (w idWindow) appendJSON(b []byte) []byte {
	b = append(b, '{')
	prev := int32(math.MinInt32)
	first := true
	w.each(func(day int32, uuid []byte, other string) {
		switch {
		case first:
			b = append(b, '"')
		case day != prev:
			b = append(b, "],\""...)
		default:
			b = append(b, ',')
		}
		if first || day != prev {
			b = append(appendDay(b, day), `":[`...)
		}
		first, prev = false, day
		if uuid != nil {
			b = append(append(append(b, '"'), uuid...), '"')
		} else {
			b = jsonrow.AppendString(b, other)
		}
	})
	if !first {
		b = append(b, ']')
	}
	return append(b, '}')
}

// jsonSize is about the length appendJSON writes, to size its buffer.
func (w idWindow) jsonSize() int {
	n := 2 + 39*len(w.uuids)
	days := 0
	prev := int32(math.MinInt32)
	for i := range w.uuids {
		if d := w.uuids[i].day; d != prev {
			days, prev = days+1, d
		}
	}
	for i := range w.other {
		n += len(w.other[i].id) + 3
		days++ // at most
	}
	return n + 16*days
}

// windowSize is how many ids a's window holds; a may be nil.
func (a *accountCursor) windowSize() int {
	if a == nil {
		return 0
	}
	return a.Window.len()
}

// windowTracker collects the day of every row an account read sees, from
// floor on: rows dated earlier cannot be in the next run's window. A row
// seen twice counts with the day it was last seen with.
type windowTracker struct {
	floor   int32
	rows    idWindow // in the order seen
	pruneAt int
}

func newWindowTracker() *windowTracker {
	return &windowTracker{floor: math.MinInt32, pruneAt: 1024}
}

// add records a row; a nil tracker (full refresh) does nothing.
func (t *windowTracker) add(id, date string) {
	if t == nil {
		return
	}
	d, ok := dayNumber(date)
	if !ok || d < t.floor {
		return
	}
	t.rows.add(d, id)
	if t.rows.len() >= t.pruneAt {
		// Forget what the floor has passed since, so a read that starts
		// low keeps only what can still end up in the window: each id's
		// last sighting, if it is on or after the floor. The ids left are
		// distinct, so their order no longer matters.
		t.rows.uuids = lastByID(t.rows.uuids, t.floor, uuidEntry.dayNum, uuidEntry.compareID)
		t.rows.other = lastByID(t.rows.other, t.floor, stringEntry.dayNum, stringEntry.compareID)
		t.pruneAt = max(1024, 2*t.rows.len())
	}
}

// raise moves the floor up to day (YYYY-MM-DD).
func (t *windowTracker) raise(day string) {
	if t == nil {
		return
	}
	if d, ok := dayNumber(day); ok && d > t.floor {
		t.floor = d
	}
}

// window returns the rows dated from on, newest days first up to
// maxWindowIDs; of the oldest day kept, the lowest ids.
func (t *windowTracker) window(from string) idWindow {
	if t == nil {
		return idWindow{}
	}
	f, ok := dayNumber(from)
	if !ok {
		f = math.MinInt32
	}
	u := lastByID(t.rows.uuids, f, uuidEntry.dayNum, uuidEntry.compareID)
	o := lastByID(t.rows.other, f, stringEntry.dayNum, stringEntry.compareID)
	w := idWindow{uuids: u, other: o}
	w.sort()
	if w.len() > maxWindowIDs {
		w.keepNewest(maxWindowIDs)
	}
	// Exactly sized copies, so the window keeps nothing of the tracker.
	return idWindow{uuids: slices.Clip(slices.Clone(w.uuids)), other: slices.Clip(slices.Clone(w.other))}
}

// lastByID returns the entries of s dated from on, one per id: the last one
// s has. s is reordered.
func lastByID[E any](s []E, from int32, day func(E) int32, byID func(a, b E) int) []E {
	slices.SortStableFunc(s, byID)
	out := s[:0]
	for i, e := range s {
		if i+1 < len(s) && byID(e, s[i+1]) == 0 {
			continue // a later sighting of the same id wins
		}
		if day(e) >= from {
			out = append(out, e)
		}
	}
	return out
}

// keepNewest keeps the newest n ids of a sorted window: whole days from the
// newest back, then the lowest ids of the day that does not fit whole.
func (w *idWindow) keepNewest(n int) {
	// The day that does not fit whole, and how many of its ids fit.
	total := w.len()
	ui, oi := len(w.uuids), len(w.other)
	for {
		var d int32
		switch {
		case ui == 0:
			d = w.other[oi-1].day
		case oi == 0:
			d = w.uuids[ui-1].day
		default:
			d = max(w.uuids[ui-1].day, w.other[oi-1].day)
		}
		uFrom := ui
		for uFrom > 0 && w.uuids[uFrom-1].day == d {
			uFrom--
		}
		oFrom := oi
		for oFrom > 0 && w.other[oFrom-1].day == d {
			oFrom--
		}
		kept := total - uFrom - oFrom // from day d on
		if kept <= n {
			ui, oi = uFrom, oFrom
			if kept == n {
				break
			}
			continue
		}
		// Day d is cut: keep its lowest n-(kept of later days) ids by text.
		k := n - (total - ui - oi)
		day := idWindow{uuids: w.uuids[uFrom:ui], other: w.other[oFrom:oi]}
		ku, ko := 0, 0
		day.each(func(_ int32, uuid []byte, _ string) {
			switch {
			case ku+ko == k:
			case uuid != nil:
				ku++
			default:
				ko++
			}
		})
		w.uuids = append(w.uuids[uFrom:uFrom+ku:uFrom+ku], w.uuids[ui:]...)
		w.other = append(w.other[oFrom:oFrom+ko:oFrom+ko], w.other[oi:]...)
		return
	}
	w.uuids, w.other = w.uuids[ui:], w.other[oi:]
}

// dayNumber is dayOf(v) as days since 1970-01-01.
func dayNumber(v string) (int32, bool) {
	y, m, d, ok := dateOf(v)
	if !ok {
		return 0, false
	}
	return int32(civil.Days(y, m, d)), true
}

// appendDay appends day as YYYY-MM-DD.
func appendDay(b []byte, day int32) []byte {
	return time.Unix(int64(day)*86400, 0).UTC().AppendFormat(b, time.DateOnly)
}

// parseUUID reads a UUID written the canonical way in lower case, the only
// form that formatUUID gives back unchanged.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	for i, at := range uuidHexAt {
		hi, lo := unhex(s[at]), unhex(s[at+1])
		if hi < 0 || lo < 0 {
			return u, false
		}
		u[i] = byte(hi<<4 | lo)
	}
	return u, true
}

var uuidHexAt = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

func formatUUID(dst *[36]byte, u *[16]byte) {
	const digits = "0123456789abcdef"
	dst[8], dst[13], dst[18], dst[23] = '-', '-', '-', '-'
	for i, at := range uuidHexAt {
		dst[at], dst[at+1] = digits[u[i]>>4], digits[u[i]&0xf]
	}
}

// windowFrom is the first day an incremental run with this cursor re-reads:
// the dateFrom of its second query, and the start of the window whose ids
// the state keeps.
func (s *transactionsStream) windowFrom(cursor time.Time, lookback int) time.Time {
	from := cursor.AddDate(0, 0, -lookback)
	if from.Before(s.c.cfg.startDate) {
		from = s.c.cfg.startDate
	}
	return from
}

// lookUp asks Pluggy for ids (GET /v2/transactions?accountId=&ids=) in
// batches that keep the URL well under 8 KB, and halves the batch each time
// an answer refuses the URL's size (414, 431) until one id a call.
func (s *transactionsStream) lookUp(ctx context.Context, a accountRef, ids []string, emit func([]byte, txKeys) error, out source.Output) error {
	size := idsPerBatch(ids)
	for len(ids) > 0 {
		n := min(size, len(ids))
		q := url.Values{"accountId": {a.ID}, "ids": {strings.Join(ids[:n], ",")}}
		err := s.c.client.eachTransaction(ctx, q, emit)
		if urlTooLong(err) && n > 1 {
			size = n / 2
			out.Logger().Info("Pluggy refused a look-up of ids as too long; asking fewer at a time", "ids", n, "error", err, "batch", size)
			continue
		}
		if err != nil {
			return fmt.Errorf("looking up %d transactions missing from the lookback window: %w", n, err)
		}
		ids = ids[n:]
	}
	return nil
}

// tombstone is the record of a row that vanished from Pluggy. CreatedAt,
// the stream's cursor field, is the deletion's time, as a CDC source's
// delete event carries its own position: Airbyte's deduping destinations
// keep, of a key's records, the one with the greatest cursor (nulls last)
// before they apply _ab_cdc_deleted_at, so a tombstone without a cursor
// would lose to the live row it deletes and the row would stay.
type tombstone struct {
	ID        string `json:"id"`
	AccountID string `json:"accountId"`
	ItemID    string `json:"itemId"`
	CreatedAt string `json:"createdAt"`
	DeletedAt string `json:"_ab_cdc_deleted_at"`
}

// reportVanished asks Pluggy for the ids the window lost (a row may only
// have moved out of the window, or a page may have come back short) and
// emits a tombstone for each one it no longer has. Rows it still has go
// through emit like any other.
func (s *transactionsStream) reportVanished(ctx context.Context, a accountRef, ids []string, seen map[string]struct{}, emit func([]byte, txKeys) error, out source.Output) error {
	if err := s.lookUp(ctx, a, ids, emit, out); err != nil {
		return err
	}
	at := s.c.now().UTC().Format(pluggyTimeLayout)
	n := 0
	for _, id := range ids {
		if _, ok := seen[id]; ok {
			continue
		}
		b, err := json.Marshal(tombstone{ID: id, AccountID: a.ID, ItemID: a.ItemID, CreatedAt: at, DeletedAt: at})
		if err != nil {
			return err
		}
		if err := out.Record(jsonrow.Row{Raw: b, Tombstone: true}); err != nil {
			return err
		}
		n++
	}
	if n > 0 {
		out.Logger().Info("transactions deleted or replaced in Pluggy since the last run; emitted a tombstone (_ab_cdc_deleted_at) for each", "deleted", n)
	}
	return nil
}
