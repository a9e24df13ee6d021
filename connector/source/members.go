package source

import (
	"io"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// A Member is one member of a JSON object whose value is already encoded.
// A stream's state is mostly one object of its accounts' places, and a
// place, unchanged once read, is encoded once in the run and written into
// every checkpoint after it from the same bytes.
type Member struct {
	Key   string
	Value []byte // the value's JSON, compact
}

// WriteMembers writes head, then the object of members in the order given
// (sort them by key to match encoding/json's map order), then tail, to w.
// Each value is written from its own bytes, so a state of megabytes is
// hashed, printed or copied into a database without being built whole
// (see JSONWriter). Keys are written as encoding/json writes them. The only
// errors are w's. Both the Pluggy transactions state and the quota states
// of GoCardless and Enable Banking write themselves here; FuzzWriteMembers
// checks it against encoding/json.
func WriteMembers(w io.Writer, head []byte, members []Member, tail []byte) error {
	b := append(append([]byte(nil), head...), '{')
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(jsonrow.AppendString(b, m.Key), ':')
		if _, err := w.Write(b); err != nil {
			return err
		}
		if _, err := w.Write(m.Value); err != nil {
			return err
		}
		b = b[:0]
	}
	b = append(append(b, '}'), tail...)
	_, err := w.Write(b)
	return err
}
