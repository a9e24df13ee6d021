// Package webhook receives Pluggy's webhook events into an event log
// (connector/eventlog) and reads them back for the transactions stream.
//
// Pluggy does not sign its payloads: a webhook is authenticated only by the
// custom headers it was registered with, so the receiver compares those in
// constant time before it looks at the body. It answers 2xx only once the
// event is on disk, because Pluggy retries a few times and then drops the
// event; everything the log holds was acknowledged, and every event of a
// kind the connector acts on that was acknowledged is in the log (others
// are acknowledged unused: ErrUnused).
package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Event names the receiver accepts: the transaction events that drive the
// transactions stream, and the item events that tell an item changed.
const (
	TransactionsCreated = "transactions/created"
	TransactionsUpdated = "transactions/updated"
	TransactionsDeleted = "transactions/deleted"
)

// ItemEvents are the item events Pluggy documents.
var ItemEvents = []string{
	"item/created", "item/updated", "item/error", "item/deleted",
	"item/waiting_user_input", "item/waiting_user_action", "item/login_succeeded",
}

// Subscribed is what `webhook register` subscribes to: one Pluggy webhook
// per event name (Pluggy takes one event per webhook).
var Subscribed = append([]string{TransactionsCreated, TransactionsUpdated, TransactionsDeleted}, ItemEvents...)

// Event is one webhook payload, with the fields the connector acts on.
// The payload as Pluggy sent it is kept in Raw (and in the log), so fields
// added later are not lost.
type Event struct {
	Event   string `json:"event"`
	EventID string `json:"eventId"`
	ItemID  string `json:"itemId"`
	// AccountID and the rest are set on transactions/* events only.
	AccountID      string   `json:"accountId"`
	TransactionIDs []string `json:"transactionIds"`
	// CreatedAtFrom is transactionsCreatedAtFrom: the rows of
	// transactions/created are those of the account created since then.
	CreatedAtFrom string `json:"transactionsCreatedAtFrom"`

	Raw json.RawMessage `json:"-"`
}

// ErrNotJSON marks a body that is not a JSON object.
var ErrNotJSON = errors.New("the body is not a JSON object")

// ErrUnused marks a well-formed event of a kind the connector does not act
// on (connector/status_updated, payment events): they come to a receiver
// whose webhook subscribes to "all", or to an item's own webhookUrl, which
// gets every event of the item. The receiver acknowledges them without
// appending them, since a refusal would only make Pluggy deliver each one
// nine times over three hours.
var ErrUnused = errors.New("an event source-pluggy does not act on")

// ShapeError is an event whose shape the receiver does not know.
type ShapeError struct{ Msg string }

func (e *ShapeError) Error() string { return e.Msg }

func shapeErrorf(format string, a ...any) error { return &ShapeError{Msg: fmt.Sprintf(format, a...)} }

// Parse decodes and checks one payload. A body that is not a JSON object
// returns an error wrapping ErrNotJSON; a known event missing a field it
// needs a *ShapeError; an event of another kind, with its name and id, an
// error wrapping ErrUnused.
func Parse(body []byte) (Event, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || !json.Valid(body) {
		return Event{}, ErrNotJSON
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Event{}, ErrNotJSON
	}
	var e Event
	str := func(name string, dst *string) error {
		raw, ok := fields[name]
		if !ok || json.Unmarshal(raw, dst) != nil || strings.TrimSpace(*dst) == "" {
			return shapeErrorf("%s event: %q must be a non-empty string", orUnknown(e.Event), name)
		}
		return nil
	}
	if err := str("event", &e.Event); err != nil {
		return Event{}, shapeErrorf(`"event" must be a non-empty string`)
	}
	if err := str("eventId", &e.EventID); err != nil {
		return Event{}, err
	}
	switch {
	case e.Event == TransactionsUpdated || e.Event == TransactionsDeleted:
		if err := errors.Join(str("itemId", &e.ItemID), str("accountId", &e.AccountID)); err != nil {
			return Event{}, err
		}
		raw, ok := fields["transactionIds"]
		if !ok || json.Unmarshal(raw, &e.TransactionIDs) != nil || e.TransactionIDs == nil {
			return Event{}, shapeErrorf("%s event: \"transactionIds\" must be an array of strings", e.Event)
		}
		for _, id := range e.TransactionIDs {
			if strings.TrimSpace(id) == "" {
				return Event{}, shapeErrorf("%s event: \"transactionIds\" holds an empty id", e.Event)
			}
		}
	case e.Event == TransactionsCreated:
		if err := errors.Join(str("itemId", &e.ItemID), str("accountId", &e.AccountID), str("transactionsCreatedAtFrom", &e.CreatedAtFrom)); err != nil {
			return Event{}, err
		}
		if _, ok := ParseTime(e.CreatedAtFrom); !ok {
			return Event{}, shapeErrorf("%s event: \"transactionsCreatedAtFrom\" %q is not a timestamp (RFC 3339, with or without its zone) or a date", e.Event, e.CreatedAtFrom)
		}
	case strings.HasPrefix(e.Event, "item/"):
		if err := str("itemId", &e.ItemID); err != nil {
			return Event{}, err
		}
	default:
		return e, fmt.Errorf("event %q: %w", e.Event, ErrUnused)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		return Event{}, ErrNotJSON
	}
	e.Raw = compact.Bytes()
	return e, nil
}

// ParseTime reads a time of Pluggy's, of a webhook payload or a
// transaction's createdAt, in each shape Pluggy writes its times in
// (pluggy-api.md, value formats: "The Go parser must be lenient"): RFC 3339
// (2025-02-13T17:21:53.719Z), the same without its zone
// (2025-02-13T17:21:53.719), or a date (2025-02-13). Pluggy's times are
// UTC, so a time without a zone is taken as UTC. Refusing another shape
// would cost an event (Pluggy drops it after its retries) or hold an
// account's cursor where it was, every later read asking again for every
// row created since.
func ParseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// CheckIDs refuses an event whose ids are not UUIDs: its itemId, its
// accountId, or any of its transactionIds. Pluggy's ids are all UUIDs, and
// GET /v2/transactions?ids= answers 400 to a list holding anything else, so
// such an event, once in the log, would fail every read of its account
// until the log's position passed it (and it passes only after a run that
// read every account). The receiver answers it 422, naming the field, and
// never appends it.
//
// Its eventId, which Pluggy also writes as a UUID, is not held to that
// shape (a log's key need not be one), only refused where it could be no
// id at all: more than maxEventID bytes, or holding a control character.
// A PostgreSQL log refused both (a NUL, which a text column cannot hold;
// a long one, past the limit of a unique key's index entry) and answered
// 503, as if the database were failing, at each of Pluggy's deliveries.
func CheckIDs(e Event) error { return checkIDs(e, func(s string) string { return s }) }

// checkIDs is CheckIDs with what its error quotes of the event passed
// through mask first: the error shows an id cut, and a secret cut with
// it is no longer found by a redactor (Receiver.Secrets).
func checkIDs(e Event, mask func(string) string) error {
	if len(e.EventID) > maxEventID || strings.ContainsFunc(e.EventID, unicode.IsControl) {
		return shapeErrorf("%s event: \"eventId\" %s (%d bytes) is not an event id: Pluggy's are UUIDs, and one of more than %d bytes or holding a control character is refused", mask(e.Event), quoteShort(mask(e.EventID)), len(e.EventID), maxEventID)
	}
	switch field, bad := nonUUIDField(e); field {
	case "":
		return nil
	case "transactionIds":
		shown := make([]string, len(bad))
		for i, id := range bad {
			shown[i] = mask(id)
		}
		return shapeErrorf("%s event: \"transactionIds\" holds %d ids that are not UUIDs: %s", mask(e.Event), len(bad), ShortList(shown))
	default:
		return shapeErrorf("%s event: %q %s is not a UUID", mask(e.Event), field, quoteShort(mask(bad[0])))
	}
}

// maxEventID is the longest eventId the receiver takes: Pluggy's are 36
// bytes.
const maxEventID = 256

// nonUUIDField is the first field of e holding ids that are not UUIDs, in
// the order itemId, accountId, transactionIds, and those ids; "" and nil
// when every id is one. The receiver refuses such an event (CheckIDs); a
// log written before it did has them skipped or left out (addPayload).
func nonUUIDField(e Event) (field string, bad []string) {
	for _, f := range []struct{ name, id string }{{"itemId", e.ItemID}, {"accountId", e.AccountID}} {
		if f.id != "" && !IsUUID(f.id) {
			return f.name, []string{f.id}
		}
	}
	for _, id := range e.TransactionIDs {
		if !IsUUID(id) {
			bad = append(bad, id)
		}
	}
	if len(bad) > 0 {
		return "transactionIds", bad
	}
	return "", nil
}

// IsUUID reports whether s is a UUID written 8-4-4-4-12 in hex digits of
// either case, as Pluggy's API validates its ids.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// ShortList quotes the first few ids (each cut to 40 bytes) and counts the
// rest: a message names a bad event's ids without repeating 400 of them.
func ShortList(ids []string) string {
	const show = 5
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i == show {
			fmt.Fprintf(&b, " and %d more", len(ids)-show)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quoteShort(id))
	}
	b.WriteByte(']')
	return b.String()
}

func quoteShort(s string) string {
	const limit = 40
	if len(s) > limit {
		return fmt.Sprintf("%q…", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}

func orUnknown(s string) string {
	if s == "" {
		return "an"
	}
	return s
}

// record is one line of the log: when the receiver took the event and the
// payload as Pluggy sent it (compacted). Nothing of the receiver's
// configuration (its auth headers) is written.
type record struct {
	EventID    string          `json:"eventId"`
	ReceivedAt string          `json:"receivedAt"`
	Payload    json.RawMessage `json:"payload"`
}

// logKey is the log's deduplication key: the eventId.
func logKey(line []byte) string {
	var r struct {
		EventID string `json:"eventId"`
	}
	_ = json.Unmarshal(line, &r)
	return r.EventID
}

// logStamp is when the receiver received a line's event: its receivedAt.
func logStamp(line []byte) (time.Time, bool) {
	var r struct {
		ReceivedAt string `json:"receivedAt"`
	}
	if json.Unmarshal(line, &r) != nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, r.ReceivedAt)
	return t, err == nil
}
