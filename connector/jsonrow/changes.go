package jsonrow

import "strconv"

// Change is one thing done to a value of a row between the API's answer
// and the outputs, in the shape of Airbyte's record changes
// (_airbyte_meta.changes): which field, what was done, and why. Sinks add
// a row's Changes to their _changes column; the Airbyte encoder writes them
// in the RECORD's meta.
type Change struct {
	Field  string // the value's path: member names joined by ".", array positions as [i]
	Change string // what was done: ChangeReplaced
	Reason string // why: ReasonInvalidUTF8
}

// The change the connector makes itself. Airbyte's enums have no word for
// it (their changes are NULLED and TRUNCATED), so these are the project's.
const (
	// ChangeReplaced: bytes of the value were replaced; the rest is as sent.
	ChangeReplaced = "REPLACED"
	// ReasonInvalidUTF8: the API sent bytes that are not UTF-8 and each
	// invalid sequence became U+FFFD, so strict JSON readers can read the
	// row (see httpclient.Client.OnInvalidUTF8).
	ReasonInvalidUTF8 = "SOURCE_INVALID_UTF8"
)

// AppendTo appends the change as a JSON object
// {"field":…,"change":…,"reason":…}.
func (c Change) AppendTo(b []byte) []byte {
	b = append(b, `{"field":`...)
	b = AppendString(b, c.Field)
	b = append(b, `,"change":`...)
	b = AppendString(b, c.Change)
	b = append(b, `,"reason":`...)
	b = AppendString(b, c.Reason)
	return append(b, '}')
}

// StringPaths returns the path (as Change.Field) of every string in the
// JSON value raw, member names included, whose JSON text (quotes and
// escapes as written) match accepts: for a member name, the member's path.
// Each path comes once, in the order met. It is for the rare row that
// needs it, not for every row.
func StringPaths(raw []byte, match func(lit []byte) bool) ([]string, error) {
	w := pathWalker{match: func(_, lit []byte) bool { return match(lit) }}
	w.s.Reset(raw)
	if err := w.value(nil, 0); err != nil {
		return nil, err
	}
	return w.found, nil
}

// StringsAt returns the JSON text (quotes and escapes as written) of the
// strings of the JSON value raw at paths (as StringPaths returns them; a
// member name's path is its member's), in the order met. A cache keeps
// paths rather than the text: a store may write the JSON's escapes anew (a
// state the platform encodes again), and the path still finds the string.
func StringsAt(raw []byte, paths []string) ([][]byte, error) {
	var out [][]byte
	w := pathWalker{match: func(path, lit []byte) bool {
		for _, p := range paths {
			if p == string(path) {
				out = append(out, append([]byte(nil), lit...))
				return false
			}
		}
		return false
	}}
	w.s.Reset(raw)
	if err := w.value(nil, 0); err != nil {
		return nil, err
	}
	return out, nil
}

type pathWalker struct {
	s     Scanner
	match func(path, lit []byte) bool
	found []string
	lit   []byte // a key's JSON text, rebuilt
}

func (w *pathWalker) add(path []byte) {
	p := string(path)
	for _, f := range w.found {
		if f == p {
			return
		}
	}
	w.found = append(w.found, p)
}

func (w *pathWalker) value(path []byte, depth int) error {
	s := &w.s
	if depth > MaxDepth {
		return s.Syntax("nested too deep")
	}
	switch s.Peek() {
	case '"':
		lit, err := s.Raw()
		if err != nil {
			return err
		}
		if w.match(path, lit) {
			w.add(path)
		}
		return nil
	case '{':
		return s.Object(func(key []byte) error {
			child := path
			if len(child) > 0 {
				child = append(child[:len(child):len(child)], '.')
			}
			child = append(child[:len(child):len(child)], key...)
			// The key as written, for a key without escapes (the keys
			// that carry replaced bytes are bank text, not API names).
			w.lit = append(append(append(w.lit[:0], '"'), key...), '"')
			if w.match(child, w.lit) {
				w.add(child)
			}
			return w.value(child, depth+1)
		})
	case '[':
		i := 0
		return s.Array(func() error {
			child := append(path[:len(path):len(path)], '[')
			child = strconv.AppendInt(child, int64(i), 10)
			child = append(child, ']')
			i++
			return w.value(child, depth+1)
		})
	}
	return s.Skip()
}
