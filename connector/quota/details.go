package quota

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// CachedDetails is an account's place in the state of a stream that emits the
// account with its details (the object of the bank's details endpoint).
// A details call counts against the bank's daily limit like any other,
// and details hardly ever change: so they are fetched at most once a
// Window per account, kept here in between, and stand in when they cannot
// be fetched (limit spent, bank failing), so that a destination
// deduplicating on the account never loses good details.
type CachedDetails struct {
	// Details is the last details object fetched; absent (or null, as
	// earlier versions wrote) when none ever was.
	Details json.RawMessage `json:"details,omitempty"`
	// FetchedAt is when Details were fetched (RFC 3339, the API's clock).
	FetchedAt string `json:"fetched_at,omitempty"`
	// ReplacedText are the paths in Details of the strings in which invalid
	// UTF-8 was replaced with U+FFFD when they were fetched (see
	// source.ReplacedPaths): a run that emits the kept details notes them
	// as the run that fetched them did. Absent when none was.
	ReplacedText []string `json:"replaced_text,omitempty"`
	// SyncedAt is when a run last emitted the account.
	SyncedAt string `json:"synced_at"`
}

// Check validates a CachedDetails decoded from a state, for DecodeState.
func (d *CachedDetails) Check() error {
	if _, err := time.Parse(time.RFC3339, d.FetchedAt); err != nil && d.FetchedAt != "" {
		return fmt.Errorf("fetched_at %q is not an RFC 3339 timestamp", d.FetchedAt)
	}
	if d.has() && d.Details[0] != '{' {
		return fmt.Errorf("details is not an object")
	}
	return nil
}

func (d *CachedDetails) has() bool {
	return d != nil && len(d.Details) > 0 && string(d.Details) != "null"
}

// clockSkew is how far after now a FetchedAt may be and still be the
// API's clock read a moment apart (its Date header has whole seconds).
const clockSkew = time.Minute

// Refresh returns the details to emit at now for an account whose place
// is d (nil when it has none; d is not changed), and its next place: the
// kept details while under a Window old (and not fetched after now); else
// fetched ones, kept with now; else, when fetching fails, the kept ones
// however old, or nil. fetch is nil when the account cannot be called
// this run (its consent is gone: the caller reports that
// once for all its accounts); nothing is fetched and err is nil.
//
// err is why fetching failed. In incremental mode a source.Skipped one
// (the limit is spent) is no error, the kept details standing in; a
// full-refresh read has no kept details, and fails.
//
// ctx is the stream's read: the strings of fetched details whose invalid
// UTF-8 was replaced are kept in next (ReplacedText), and those of kept ones
// told to the read (source.NoteReplaced), so the emitted row is noted
// either way.
func Refresh(ctx context.Context, d *CachedDetails, now time.Time, mode protocol.SyncMode, fetch func() (json.RawMessage, error)) (next *CachedDetails, details json.RawMessage, err error) {
	next = &CachedDetails{}
	if d != nil {
		*next = *d
	}
	if !next.has() {
		next.Details, next.ReplacedText = nil, nil
	} else if t, _ := time.Parse(time.RFC3339, next.FetchedAt); next.FetchedAt != "" && now.Sub(t) < Window && !t.After(now.Add(clockSkew)) {
		// Fresh enough. Details fetched "after now" (a state edited by
		// hand) are of an age no run can know: they are fetched again,
		// where they would count as fresh until a day after that time.
		fetch = nil
	}
	if fetch != nil {
		details, err = fetch()
		if err == nil {
			next.Details, next.FetchedAt = details, httpclient.FormatTime(now)
			next.ReplacedText = source.ReplacedPaths(ctx, details)
		} else if source.IsSkipped(err) && mode == protocol.Incremental {
			err = nil
		}
	}
	source.NoteReplaced(ctx, next.Details, next.ReplacedText, "the details kept in the state")
	next.SyncedAt = httpclient.FormatTime(now)
	return next, next.Details, err
}

// FromTheFuture reports a state timestamp (an account's synced_at) later
// than now: a state written by hand or by a clock gone wrong. An
// incremental read neither calls nor emits such an account, and keeps its
// entry as it is, as the acceptance tests' future-state check asks (no
// records).
func FromTheFuture(ts string, now time.Time) bool {
	t, err := time.Parse(time.RFC3339, ts)
	return err == nil && t.After(now)
}

// SkipFromTheFuture is FromTheFuture for an account's place in the state
// of a snapshot-like stream (accounts, balances): when it is from the
// future it says so in a WARN naming the account, since the read then
// neither calls nor emits that account until that time, and nothing else
// would tell the user why its rows stopped coming.
func SkipFromTheFuture(log *slog.Logger, account, syncedAt string, now time.Time) bool {
	if !FromTheFuture(syncedAt, now) {
		return false
	}
	log.Warn("the state says this account was last read at a time after now; it is neither read nor emitted until then. If the state was not meant to be in the future, fix or delete its entry (deleting it reads the account again)",
		"account", account, "synced_at", syncedAt, "now", httpclient.FormatTime(now))
	return true
}

// WarnFromTheFuture says that an account's transactions state reaches past
// today, so nothing is read for it until then (the acceptance tests'
// future-state rule), which no error would tell the user.
func WarnFromTheFuture(log *slog.Logger, account string, from, today time.Time) {
	log.Warn("the state says this account was read up to a day after today; nothing is read for it until then. If the state was not meant to be in the future, fix or delete its entry (deleting it re-reads from start_date)",
		"account", account, "from", from.Format(time.DateOnly), "today", today.Format(time.DateOnly))
}
