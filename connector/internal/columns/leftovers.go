package columns

import (
	"log/slog"
	"sync"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// Every typed sink follows one rule for a value its typed column cannot hold
// exactly (more decimal places than the column's scale, an object where the
// schema says array, a string where it says integer, a timestamp where it
// says date) and for a field the schema does not list: the value is never
// rounded, guessed, dropped, and never fails the stream.
//
//   - The top-level member goes into the row's Leftovers column, verbatim:
//     a JSON object {"field": value, ...} of every member the typed columns
//     could not hold, null when there is none.
//   - Its typed column is null, and the row's Changes column says so, in the
//     shape of Airbyte's _airbyte_meta.changes:
//     [{"field":"amountOriginal","change":"NULLED","reason":"DESTINATION_TYPECAST_ERROR"}].
//     A field the schema lacks has no typed column, so it is kept without a
//     change (nothing was altered), and noted by one INFO per stream and
//     field (Warner.Unknown): the API added it, and the schema could grow a
//     column for it.
//   - The run logs one WARN per stream and field (Warner), not one per row.
//
// A value its column can hold only changed (text with a lone surrogate
// escape, stored with U+FFFD as JSON readers read it; a NUL where the
// sink's text takes none, in a key, which is never nulled) is stored so,
// kept as sent in Leftovers, and noted REPLACED (RowMeta.Replaced).
//
// So coalesce(column, json_extract(Leftovers, '$.field')) is every value.
const (
	Leftovers = "_leftovers" // JSON object of the members no typed column holds
	Changes   = "_changes"   // JSON array of the changes made to the row: its typed columns', and the connector's own (jsonrow.Row.Changes)

	ChangeNulled   = "NULLED"                     // Airbyte's change: the column is null
	ReasonTypecast = "DESTINATION_TYPECAST_ERROR" // Airbyte's reason: the value does not fit the column's type
	// ReasonSerialization is Airbyte's reason for a value the column holds
	// changed (jsonrow.ChangeReplaced): text it cannot hold as sent, a NUL
	// in PostgreSQL or a lone UTF-16 surrogate anywhere.
	ReasonSerialization = "DESTINATION_SERIALIZATION_ERROR"
)

// RowMeta collects one row's leftovers and changes. The zero value is ready;
// Reset reuses its buffers for the next row.
type RowMeta struct {
	left    []byte // `{"k":v,...` while open
	changes []byte // `[{...},...` while open
}

// Reset empties the collector for a new row.
func (m *RowMeta) Reset() {
	m.left = m.left[:0]
	m.changes = m.changes[:0]
}

// Leftover adds the member key: value (value verbatim JSON) to the row's
// leftovers. rawKey is the key as JSON text, quotes included.
func (m *RowMeta) Leftover(rawKey, value []byte) {
	if len(m.left) == 0 {
		m.left = append(m.left, '{')
	} else {
		m.left = append(m.left, ',')
	}
	m.left = append(m.left, rawKey...)
	m.left = append(m.left, ':')
	m.left = append(m.left, value...)
}

// LeftoverKey is Leftover with the key as text.
func (m *RowMeta) LeftoverKey(key string, value []byte) {
	if len(m.left) == 0 {
		m.left = append(m.left, '{')
	} else {
		m.left = append(m.left, ',')
	}
	m.left = jsonrow.AppendString(m.left, key)
	m.left = append(m.left, ':')
	m.left = append(m.left, value...)
}

// Nulled notes that field's typed column was nulled because its value did
// not fit.
func (m *RowMeta) Nulled(field string) {
	m.Change(jsonrow.Change{Field: field, Change: ChangeNulled, Reason: ReasonTypecast})
}

// Replaced notes that field's typed column holds its value changed: the
// text as sent could not be stored. The caller keeps the value as sent in
// the leftovers.
func (m *RowMeta) Replaced(field string) {
	m.Change(jsonrow.Change{Field: field, Change: jsonrow.ChangeReplaced, Reason: ReasonSerialization})
}

// Change notes a change made to the row before it reached the sink: one
// of the row's own (jsonrow.Row.Changes, such as invalid UTF-8 the
// connector replaced), in the same column as the sink's.
func (m *RowMeta) Change(c jsonrow.Change) {
	if len(m.changes) == 0 {
		m.changes = append(m.changes, '[')
	} else {
		m.changes = append(m.changes, ',')
	}
	m.changes = c.AppendTo(m.changes)
}

// LeftoversJSON returns the row's leftovers object, or nil when there is
// none. It is valid until the next Reset.
func (m *RowMeta) LeftoversJSON() []byte {
	if len(m.left) == 0 {
		return nil
	}
	return append(m.left, '}')[:len(m.left)+1]
}

// ChangesJSON returns the row's changes array, or nil when there is none.
// It is valid until the next Reset.
func (m *RowMeta) ChangesJSON() []byte {
	if len(m.changes) == 0 {
		return nil
	}
	return append(m.changes, ']')[:len(m.changes)+1]
}

// Warner logs one WARN per field per run for the values of one stream
// nulled by the rule above: a bank that sends one odd shape sends it in
// every row, and one line says as much as a million. Log carries the
// stream's name (the run's stream logger). Safe for concurrent use; a nil
// Log discards.
type Warner struct {
	Log     *slog.Logger
	mu      sync.Mutex
	seen    map[string]bool
	unknown map[string]bool
}

// Unknown logs, the first time for field (its dotted path), that records
// carry a field the schema does not list. It has no typed column and is
// kept verbatim in Leftovers with no change noted in the row, as nothing
// was altered: this INFO is the note, once per run, that the API added it.
// Called for every row that has one, so it neither allocates nor logs
// again after the first.
func (w *Warner) Unknown(field []byte) {
	w.mu.Lock()
	if w.unknown[string(field)] {
		w.mu.Unlock()
		return
	}
	if w.unknown == nil {
		w.unknown = map[string]bool{}
	}
	w.unknown[string(field)] = true
	w.mu.Unlock()
	if w.Log != nil {
		w.Log.Info("records carry a field the schema does not list (the API added it): it has no typed column, and is kept verbatim in "+Leftovers+
			"; further rows with it are not logged", "field", string(field))
	}
}

// Nulled logs, the first time for field, that a value did not fit its
// column and where it was kept instead.
func (w *Warner) Nulled(field string, why error) {
	if !w.first(field) {
		return
	}
	w.Log.Warn("a value does not fit its typed column: the column is null in that row and the value is kept verbatim in "+Leftovers+
		" (noted in "+Changes+"); further rows with the same field are not logged",
		"field", field, "reason", why.Error())
}

// Replaced logs, the first time for field, that a value was changed to
// fit its column (a key, which is never nulled) and where it was kept.
func (w *Warner) Replaced(field string, why error) {
	if !w.first(field) {
		return
	}
	w.Log.Warn("a value was changed to fit its typed column: the value as sent is kept verbatim in "+Leftovers+
		" (noted in "+Changes+"); further rows with the same field are not logged",
		"field", field, "reason", why.Error())
}

// first reports whether field is logged for the first time, with a Log.
func (w *Warner) first(field string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	first := !w.seen[field]
	w.seen[field] = true
	return first && w.Log != nil
}
