package source

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// replacedText notes the rows of one run that hold text in which the
// HTTP client replaced invalid UTF-8 with U+FFFD. Rows are cut from an
// answer by each provider in its own way (slices of the body, copies made
// by encoding/json), so a row cannot tell which answer it came from; what
// it keeps is the JSON string itself. So the client's offsets are turned
// into the string literals that hold them (quotes and escapes as
// written), and a row holding one of those literals gets a change for
// each such string, at its path. A U+FFFD the API sent itself, in any
// other string, is not noted.
//
// One replacedText serves every stream of a run: an answer fetched while
// one stream reads may become another's rows (GoCardless's and Enable
// Banking's pending rows come from the call the booked stream made, and
// Pluggy's items, accounts and investments are fetched once, by whichever
// stream asks first), and those rows are noted in the stream that emits
// them. Until some answer had invalid bytes a row pays one atomic load.
type replacedText struct {
	noted atomic.Bool // some answer of the run had its text replaced
	// escaped: a string added spells U+FFFD as a JSON escape (\ufffd),
	// as kept text does once a state is written by an encoder that
	// escapes every non-ASCII character (Python's json.dumps by default,
	// the state files Meltano passes --state): rows are then looked at
	// for that spelling too, which a run with none never pays.
	escaped atomic.Bool

	mu    sync.RWMutex
	lits  map[string]string // literal -> the route of the answer it was in
	size  int               // bytes lits holds, each entry's cost included (replacedEntryCost)
	all   bool              // over maxReplacedText: every string holding U+FFFD counts
	route string            // once all, the route last added, said of every string
}

// maxReplacedText bounds the literals one run remembers. A server
// sending invalid bytes in every string of every page would otherwise
// grow it with the read; past the bound every string holding U+FFFD is
// taken for a replaced one, which over-notes rather than forgets.
const maxReplacedText = 4 << 20

// replacedEntryCost is what an entry of replacedText.lits costs beside its
// literal's bytes: the map's slot (two string headers) and its share of
// the table's free slots, and the literal's allocation rounded up to its
// size class. Counted into the bound, so that short literals (a name of a
// few letters, "caf\uFFFD") cannot hold several times maxReplacedText:
// counting the bytes alone let strings of ten bytes hold 25 MiB.
const replacedEntryCost = 64

var fffd = []byte("\uFFFD")

// add remembers lits, found in an answer of route.
func (r *replacedText) add(lits [][]byte, route string) {
	if len(lits) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.noted.Store(true)
	for _, l := range lits {
		if containsEscapedFFFD(l) {
			r.escaped.Store(true)
			break
		}
	}
	for _, l := range lits {
		if r.all {
			r.route = route
			return
		}
		if _, ok := r.lits[string(l)]; ok {
			continue
		}
		if r.size+len(l)+replacedEntryCost > maxReplacedText {
			r.all, r.lits, r.route = true, nil, route
			return
		}
		if r.lits == nil {
			r.lits = map[string]string{}
		}
		r.lits[string(l)] = route
		r.size += len(l) + replacedEntryCost
	}
}

// changes returns row's changes with one for each string of the row that
// holds replaced text, and the route of the answer the first came in
// ("" when none did). The fields a provider adds to Raw are looked at too:
// they may be cut from another answer (GoCardless's and Enable Banking's
// accounts carry the details object as "details").
func (r *replacedText) changes(row jsonrow.Row) ([]jsonrow.Change, string) {
	if !r.noted.Load() {
		return row.Changes, ""
	}
	escaped := r.escaped.Load()
	if !holdsFFFD(row, escaped) {
		return row.Changes, ""
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	var route string
	paths, err := jsonrow.StringPaths(row.Bytes(), func(lit []byte) bool {
		if !containsFFFD(lit, escaped) {
			return false
		}
		from, ok := r.lits[string(lit)]
		if r.all {
			from, ok = r.route, true
		}
		if ok && route == "" {
			route = from
		}
		return ok
	})
	if err != nil || len(paths) == 0 {
		return row.Changes, "" // not JSON: the outputs say so, nothing to note
	}
	out := row.Changes[:len(row.Changes):len(row.Changes)]
	for _, p := range paths {
		out = append(out, jsonrow.Change{Field: p, Change: jsonrow.ChangeReplaced, Reason: jsonrow.ReasonInvalidUTF8})
	}
	return out, route
}

// replacedKey is the context key of the replacedText of a command that
// reads outside a stream (see CollectReplaced).
type replacedKey struct{}

// CollectReplaced returns ctx with a record of the text its calls replace,
// for a command that calls the API outside a stream's read and keeps what
// it fetched for a later read (connect, saving new accounts' details in
// the state): ReplacedPaths then finds the strings to keep a note of. A
// stream's read has its run's own.
func CollectReplaced(ctx context.Context) context.Context {
	return context.WithValue(ctx, replacedKey{}, &replacedText{})
}

// replacedOf is the replacedText of the read or command ctx is of, nil
// when none keeps one.
func replacedOf(ctx context.Context) *replacedText {
	if o, ok := ctx.Value(outputKey{}).(*streamOutput); ok {
		return o.replaced
	}
	r, _ := ctx.Value(replacedKey{}).(*replacedText)
	return r
}

// ReplacedPaths returns the paths (as jsonrow.Change.Field) of the strings
// of the JSON value raw, fetched with ctx, in which invalid UTF-8 was
// replaced with U+FFFD: what a cache that keeps raw past the run (the
// details kept in the state) keeps with it, for NoteReplaced to note
// again when a later run emits it. Nil when none was.
func ReplacedPaths(ctx context.Context, raw []byte) []string {
	r := replacedOf(ctx)
	if r == nil || !r.noted.Load() || !bytes.Contains(raw, fffd) {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	paths, _ := jsonrow.StringPaths(raw, func(lit []byte) bool {
		if !bytes.Contains(lit, fffd) {
			return false
		}
		_, ok := r.lits[string(lit)]
		return ok || r.all
	})
	return paths
}

// NoteReplaced tells the read of ctx that the strings of the JSON value
// raw at paths (ReplacedPaths, kept with raw) hold text in which invalid
// UTF-8 was replaced, though no call of this run fetched it: a row that
// carries them is noted, and its stream warns, as for text this run
// replaced. from says where raw was kept ("the details kept in the
// state"), said in the WARN as its route.
func NoteReplaced(ctx context.Context, raw []byte, paths []string, from string) {
	r := replacedOf(ctx)
	if r == nil || len(paths) == 0 {
		return
	}
	lits, err := jsonrow.StringsAt(raw, paths)
	if err != nil {
		return // not JSON: no row can be cut from it
	}
	r.add(lits, from)
}

// holdsFFFD reports whether row has a U+FFFD in Raw or in a field it adds,
// as the character or, where escaped, also as a JSON escape.
func holdsFFFD(row jsonrow.Row, escaped bool) bool {
	if containsFFFD(row.Raw, escaped) {
		return true
	}
	for _, f := range row.Fields {
		if s, ok := f.Str(); ok && strings.Contains(s, "\uFFFD") || !ok && containsFFFD(f.JSON(), escaped) {
			return true
		}
	}
	return false
}

// containsFFFD reports whether the JSON text b holds U+FFFD as the
// character or, where escaped, also as a JSON escape (see
// replacedText.escaped).
func containsFFFD(b []byte, escaped bool) bool {
	return bytes.Contains(b, fffd) || escaped && containsEscapedFFFD(b)
}

// containsEscapedFFFD reports whether the JSON text b spells U+FFFD as an
// escape, its hex digits in either case. An escaped backslash followed by
// "ufffd" counts too: this only picks the strings to look up.
func containsEscapedFFFD(b []byte) bool {
	for {
		i := bytes.Index(b, []byte(`\u`))
		if i < 0 {
			return false
		}
		if len(b) >= i+6 && bytes.EqualFold(b[i+2:i+6], []byte("fffd")) {
			return true
		}
		b = b[i+2:]
	}
}

// replacedLiterals returns the JSON string literals of body (quotes
// included) that hold one of the offsets at, which are sorted. An offset
// outside every string (the answer was no JSON there) is skipped.
func replacedLiterals(body []byte, at []int) [][]byte {
	var out [][]byte
	k := 0
	for i := 0; i < len(body) && k < len(at); i++ {
		if body[i] != '"' {
			continue
		}
		start := i
		for i++; i < len(body) && body[i] != '"'; i++ {
			if body[i] == '\\' {
				i++
			}
		}
		end := min(i+1, len(body))
		for k < len(at) && at[k] < start {
			k++
		}
		if k < len(at) && at[k] < end {
			out = append(out, body[start:end])
			for k < len(at) && at[k] < end {
				k++
			}
		}
	}
	return out
}
