package sourcetest

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Dedup is what a destination deduplicating a stream on its primary key
// holds of it: the last record received under each key. It also counts
// the keys that arrived again with other content, which a stream whose
// rows never change under their key must not have.
type Dedup struct {
	pk      [][]string
	Rows    map[string]json.RawMessage // key → last record, canonical JSON
	Changed map[string]int             // key → times it came with new content
}

// NewDedup keys records by the top-level fields pk, in order.
func NewDedup(pk ...string) *Dedup {
	d := &Dedup{Rows: map[string]json.RawMessage{}, Changed: map[string]int{}}
	for _, f := range pk {
		d.pk = append(d.pk, []string{f})
	}
	return d
}

// Key is a record's primary key, its fields' values joined with " | ".
func (d *Dedup) Key(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var row map[string]json.RawMessage
	Must(t, json.Unmarshal(raw, &row), "record")
	return keyOf(row, d.pk)
}

// Apply receives records in order and returns how many keys were new.
func (d *Dedup) Apply(t testing.TB, records []json.RawMessage) (added int) {
	t.Helper()
	for _, raw := range records {
		k := d.Key(t, raw)
		c := Canonical(t, raw)
		if old, ok := d.Rows[k]; !ok {
			added++
		} else if !bytes.Equal(old, c) {
			d.Changed[k]++
		}
		d.Rows[k] = c
	}
	return added
}

// Canonical is raw re-encoded with its object members sorted, so two
// encodings of one value compare equal.
func Canonical(t testing.TB, raw json.RawMessage) json.RawMessage {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	Must(t, dec.Decode(&v), "record")
	out, err := json.Marshal(v)
	Must(t, err, "record")
	return out
}
