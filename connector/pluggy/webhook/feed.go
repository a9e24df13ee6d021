package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/eventlog"
	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// Changes is what the log says happened since a position, folded per
// account: the read path needs the set of ids, not the sequence of events
// (a row updated then deleted is looked up once, and the look-up says which).
type Changes struct {
	// Accounts holds the accounts that any transactions/* event named,
	// by accountId in lower case (a UUID's hex digits may come in either
	// case; Pluggy lists its accounts' in lower case).
	Accounts map[string]*AccountChanges
	// Items holds the items that any item/* event named, by itemId in
	// lower case.
	Items map[string]bool
	// ItemErrors holds, per item, the error of the last item/error event
	// that named it: a sync that failed since, which the run reports.
	ItemErrors map[string]ItemError
	// Events is how many events were read; Ignored how many log lines were
	// not events the connector knows (a newer receiver's, say).
	Events, Ignored int
	// End is the position after the last event read: the state's next
	// log position once every change is applied.
	End string
	// NonUUID lists the events whose ids were not all UUIDs (a log written
	// before the receiver refused them): those ids were left out, as if
	// the event had not carried them, and an event whose itemId or
	// accountId is not a UUID was left out whole (it names nothing Pluggy
	// has). Asking Pluggy for such ids would fail the account's read, run
	// after run.
	NonUUID []NonUUIDEvent
	// Reset is set when the state's position is not in the log (the log
	// was replaced, or pruned past it): Changes then holds the whole log,
	// and what happened before it is unknown. ResetReason says why the
	// position is not there.
	Reset       bool
	ResetReason string
	// Unwritten is set when a directory log holds no segment at all: no
	// receiver has ever opened it (each start begins a segment), so the
	// location is most likely not the receiver's --log. LogHint then names
	// a subdirectory that does hold a log, if one does.
	Unwritten bool
	LogHint   string
}

// ItemError is the error of an item/error event: {code, message,
// parameter?} (parameter, when set, names the credential the institution
// refused). Any member may be missing.
type ItemError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Parameter string `json:"parameter"`
}

// NonUUIDEvent is an event of the log holding ids that are not UUIDs.
type NonUUIDEvent struct {
	Event, EventID string
	// Field names the field the ids were in: itemId, accountId or
	// transactionIds.
	Field string
	IDs   []string
}

// ItemErrorEvent is the item/error event name.
const ItemErrorEvent = "item/error"

// AccountChanges is one account's changes.
type AccountChanges struct {
	ItemID string
	// Deleted and Updated are the ids transactions/deleted and
	// transactions/updated listed, each once, in log order.
	Deleted, Updated []string
	// Created is set by transactions/created: the account has new rows.
	Created bool
	// CreatedAtFrom is the oldest transactionsCreatedAtFrom seen.
	CreatedAtFrom time.Time

	deleted, updated map[string]bool
}

// IDs returns Deleted and Updated together, each id once.
func (a *AccountChanges) IDs() []string {
	out := slices.Clone(a.Deleted)
	for _, id := range a.Updated {
		if !a.deleted[id] {
			out = append(out, id)
		}
	}
	return out
}

// IsURL reports whether a log location is a PostgreSQL URL rather than a
// directory.
func IsURL(s string) bool { return strings.Contains(s, "://") }

// CheckLocation refuses a log location no run could use: a PostgreSQL URL
// that does not parse. It does no I/O, so a config is refused before a read
// reads anything (and by discover, which works offline); a directory that
// does not exist, or a server that does not answer, is found where the log
// is read.
func CheckLocation(location string) error {
	if !IsURL(location) {
		if isConnString(location) {
			// Taken for a directory, it would be created under a name
			// holding the password, and the events kept there.
			return errors.New("is a PostgreSQL key=value connection string (host=… dbname=…), not shown as it holds a password; write it as a URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE, or give a directory")
		}
		if len(secret.URLSecrets(location)) > 0 {
			// A URL written wrong (postgres:/u:PASSWORD@host/db,
			// u:PASSWORD@host/db): taken for a directory, it made
			// folders named after it, password and all, and the
			// receiver kept its events there.
			return fmt.Errorf("%s reads as a PostgreSQL URL written wrong (USER:PASSWORD@HOST without postgres:// before it), not a directory; write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE, or give a directory", secret.MaskURL(location, "xxxxx"))
		}
		return nil
	}
	_, err := parsePG(location)
	return err
}

// isConnString reports whether s reads as a libpq key=value connection
// string: words of the form key=value, one of them a connection key.
func isConnString(s string) bool {
	for _, w := range strings.Fields(s) {
		key, _, ok := strings.Cut(w, "=")
		if ok && slices.Contains([]string{"host", "hostaddr", "port", "dbname", "user", "password", "sslmode"}, strings.ToLower(key)) {
			return true
		}
	}
	return false
}

// CheckPosition checks a state's log position: "" (the start),
// "SEGMENT:OFFSET" (a directory log) or "SEQ" (a PostgreSQL log).
func CheckPosition(s string) error {
	if _, err := strconv.ParseUint(s, 10, 63); err == nil {
		return nil
	}
	if _, err := eventlog.ParsePosition(s); err != nil {
		return fmt.Errorf("%q is neither SEGMENT:OFFSET (a directory log) nor a sequence number (a PostgreSQL log)", s)
	}
	return nil
}

// ReadChanges reads the log at location (a directory or a PostgreSQL URL)
// from position from ("" for the start) to its current end. A position of
// the other kind of log (the location changed) reads the whole log, with
// Reset set.
func ReadChanges(ctx context.Context, location, from string) (*Changes, error) {
	if IsURL(location) {
		ch := newChanges()
		seq, err := strconv.ParseInt(from, 10, 64)
		if from == "" {
			seq, err = 0, nil
		}
		if err != nil {
			ch.Reset, ch.ResetReason, seq = true, fmt.Sprintf("%q is not a sequence number: the state's position is a directory log's", from), 0
		}
		end, err := readPG(ctx, location, seq, from != "", ch)
		if err != nil {
			return nil, err
		}
		ch.End = strconv.FormatInt(end, 10)
		return ch, nil
	}
	dir := location
	pos, err := eventlog.ParsePosition(from)
	reason := ""
	if err != nil {
		reason = fmt.Sprintf("%q is not SEGMENT:OFFSET: the state's position is a PostgreSQL log's", from)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("webhook_log %s is not a directory: start the receiver (source-pluggy webhook serve --log %s) or fix the path", dir, dir)
	}
	// A read that found no segment: the log's start names none, and a
	// retention may have removed some since.
	fromNone := reason == "" && from != "" && pos == (eventlog.Position{})
	if fromNone {
		if reason, err = prunedSinceNone(dir, "since"); err != nil {
			return nil, err
		}
	}
	ch := newChanges()
	var end eventlog.Position
	if reason == "" {
		afterPrunedCheck()
		end, err = eventlog.Read(dir, pos, ch.add)
		if errors.Is(err, eventlog.ErrPositionGone) {
			reason = err.Error()
		}
		// Asked again once read: a prune that recorded PRUNED and removed
		// a segment between the check above and the Read's listing of the
		// segments left the Read a log with no sign of it (its position,
		// the start, is always there), and the removed segment's lines
		// unread. It may also have come after the Read had read them: the
		// read is then reset for nothing, which costs a reconciliation of
		// every account, not an event.
		if fromNone && err == nil {
			if reason, err = prunedSinceNone(dir, "while it was read"); err != nil {
				return nil, err
			}
		}
	}
	// From the start: the whole log. A receiver pruning the log may
	// remove a segment this read listed before it opens it (the log's
	// start moved), which the next listing no longer holds: read again.
	for try := 0; reason != "" && try < 3; try++ {
		ch = newChanges()
		ch.Reset, ch.ResetReason = true, reason
		end, err = eventlog.Read(dir, eventlog.Position{}, ch.add)
		if !errors.Is(err, eventlog.ErrPositionGone) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading webhook_log %s: %w", dir, err)
	}
	if segs, err := eventlog.Segments(dir); err == nil && len(segs) == 0 {
		ch.Unwritten, ch.LogHint = true, logBelow(dir)
	}
	ch.End = end.String()
	return ch, nil
}

// afterPrunedCheck is called between ReadChanges' check of PRUNED and its
// Read of the log: a test makes a prune come there.
var afterPrunedCheck = func() {}

// prunedSinceNone is the reason a read from the start of a log that held no
// segment must be reset, "" if it need not: the receiver's --retain has
// pruned segments (when: since, or while it was read), so their lines
// were never read.
func prunedSinceNone(dir, when string) (string, error) {
	through, err := eventlog.PrunedThrough(dir)
	if err != nil {
		return "", fmt.Errorf("reading webhook_log %s: %w", dir, err)
	}
	if through == 0 {
		return "", nil
	}
	return fmt.Sprintf("the position is the start of a log that held no segment, and the receiver's --retain has pruned segments %s, through %d", when, through), nil
}

// logBelow returns the first subdirectory of dir that holds log segments,
// "" if none does: the log a webhook_log one level too high (a volume's
// mount point, say) was meant to name.
func logBelow(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		if segs, err := eventlog.Segments(sub); err == nil && len(segs) > 0 {
			return sub
		}
	}
	return ""
}

func newChanges() *Changes {
	return &Changes{Accounts: map[string]*AccountChanges{}, Items: map[string]bool{}, ItemErrors: map[string]ItemError{}}
}

// add folds one line of a directory log.
func (ch *Changes) add(_ eventlog.Position, line []byte) error {
	var r record
	if json.Unmarshal(line, &r) != nil {
		ch.Ignored++
		return nil
	}
	ch.addPayload(r.Payload)
	return nil
}

// addPayload folds one event as Pluggy sent it.
func (ch *Changes) addPayload(payload []byte) {
	ev, err := Parse(payload)
	if err != nil {
		ch.Ignored++
		return
	}
	ch.Events++
	if field, bad := nonUUIDField(ev); field != "" {
		ch.NonUUID = append(ch.NonUUID, NonUUIDEvent{Event: ev.Event, EventID: ev.EventID, Field: field, IDs: bad})
		if field != "transactionIds" {
			return // it names nothing Pluggy has
		}
		ev.TransactionIDs = slices.DeleteFunc(ev.TransactionIDs, func(id string) bool { return !IsUUID(id) })
		if len(ev.TransactionIDs) == 0 {
			return // nothing left to look up: the account is not touched
		}
	}
	if strings.HasPrefix(ev.Event, "item/") {
		ch.Items[strings.ToLower(ev.ItemID)] = true
		if ev.Event == ItemErrorEvent {
			// Read leniently: an error of another shape still counts.
			var p struct {
				Error json.RawMessage `json:"error"`
			}
			var e ItemError
			if json.Unmarshal(ev.Raw, &p) == nil {
				_ = json.Unmarshal(p.Error, &e)
			}
			ch.ItemErrors[strings.ToLower(ev.ItemID)] = e
		}
		return
	}
	account := strings.ToLower(ev.AccountID)
	a := ch.Accounts[account]
	if a == nil {
		a = &AccountChanges{ItemID: strings.ToLower(ev.ItemID), deleted: map[string]bool{}, updated: map[string]bool{}}
		ch.Accounts[account] = a
	}
	switch ev.Event {
	case TransactionsDeleted:
		a.Deleted = appendNew(a.Deleted, a.deleted, ev.TransactionIDs)
	case TransactionsUpdated:
		a.Updated = appendNew(a.Updated, a.updated, ev.TransactionIDs)
	case TransactionsCreated:
		a.Created = true
		if t, ok := ParseTime(ev.CreatedAtFrom); ok && (a.CreatedAtFrom.IsZero() || t.Before(a.CreatedAtFrom)) {
			a.CreatedAtFrom = t
		}
	}
}

func appendNew(dst []string, seen map[string]bool, ids []string) []string {
	for _, id := range ids {
		id = strings.ToLower(id)
		if !seen[id] {
			seen[id] = true
			dst = append(dst, id)
		}
	}
	return dst
}
