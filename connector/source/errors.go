package source

import (
	"context"
	"errors"
	"fmt"

	"github.com/source-pluggy/source-pluggy/connector/httpclient"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// Error is an error with a failure type and a message meant for the user.
type Error struct {
	Type protocol.FailureType
	Msg  string
	Err  error
	// Quoted says Msg already tells the user what Err says (an HTTP client's
	// raw status error, say): the user-facing message is Msg alone, while
	// Error(), and so the trace's internal_message, keeps Err's text.
	Quoted bool
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// FailureType implements Classified.
func (e *Error) FailureType() protocol.FailureType { return e.Type }

// EndsRun marks err as one after which the read can do nothing of use: a
// sink that lost its database mid-run (the server restarted, failed over).
// The read stops every stream at it, rather than go on calling the API for
// rows nothing would keep, each account's calls spent (a bank's daily
// ones among them) and each failing alike, and reports it once.
func EndsRun(err error) error {
	if err == nil {
		return nil
	}
	return &runEnding{err}
}

// runEnding is EndsRun's mark.
type runEnding struct{ error }

func (e *runEnding) Unwrap() error { return e.error }

// endsRun reports whether err, or an error it wraps, ends the run.
func endsRun(err error) bool {
	var r *runEnding
	return errors.As(err, &r)
}

// Classified is implemented by errors that know their protocol failure
// type, like Error.
type Classified interface {
	FailureType() protocol.FailureType
}

// FailureTypeOfClass maps the HTTP client's classes of failure to the
// protocol's failure types: refused credentials are the user's to fix
// (config_error), a transient failure is worth a later retry
// (transient_error), anything else is a system_error.
func FailureTypeOfClass(c httpclient.Class) protocol.FailureType {
	switch c {
	case httpclient.Auth:
		return protocol.ConfigError
	case httpclient.Transient:
		return protocol.TransientError
	}
	return protocol.SystemError
}

// ConfigErrorf returns an error the user fixes in the config (credentials,
// ids, a field value).
func ConfigErrorf(format string, args ...any) error {
	return &Error{Type: protocol.ConfigError, Msg: fmt.Sprintf(format, args...)}
}

// ConfigValidationPrefix starts every message about a config value the
// connector refuses on its own, before any API call: the config schema's
// errors and the checks the schema cannot make (a base_url it can use, a
// start_date not after today, a key that parses). Airbyte's CDK starts
// its validation errors so, and a user should read one kind of message
// whichever check found the problem.
const ConfigValidationPrefix = "Config validation error: "

// InvalidConfigf returns a config_error for a config value the connector
// refuses on its own, its message starting with ConfigValidationPrefix.
// A refusal by the API (wrong credentials, an unknown id) is not one: it
// is a ConfigErrorf that says what the API answered.
func InvalidConfigf(format string, args ...any) error {
	return &Error{Type: protocol.ConfigError, Msg: ConfigValidationPrefix + fmt.Sprintf(format, args...)}
}

// SystemErrorf returns an unexpected failure.
func SystemErrorf(format string, args ...any) error {
	return &Error{Type: protocol.SystemError, Msg: fmt.Sprintf(format, args...)}
}

// TransientErrorf returns a failure worth retrying later.
func TransientErrorf(format string, args ...any) error {
	return &Error{Type: protocol.TransientError, Msg: fmt.Sprintf(format, args...)}
}

// AsConfigError marks err as the user's to fix, keeping its text.
func AsConfigError(err error, msg string) error {
	return &Error{Type: protocol.ConfigError, Msg: msg, Err: err}
}

// FailureTypeOf classifies err. A joined error takes the most severe type of
// its parts (config beats transient beats system), because the user must fix
// a config problem before a retry can help.
func FailureTypeOf(err error) protocol.FailureType {
	if err == nil {
		return ""
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		best := protocol.FailureType("")
		for _, e := range j.Unwrap() {
			best = worst(best, FailureTypeOf(e))
		}
		if best != "" {
			return best
		}
	}
	var c Classified
	if errors.As(err, &c) {
		return c.FailureType()
	}
	if class, ok := httpclient.ClassOf(err); ok {
		return FailureTypeOfClass(class)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return protocol.TransientError
	}
	return protocol.SystemError
}

func worst(a, b protocol.FailureType) protocol.FailureType {
	rank := map[protocol.FailureType]int{"": 0, protocol.SystemError: 1, protocol.TransientError: 2, protocol.ConfigError: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Skipped is implemented by an error that leaves a part of a stream (an
// account) for a later run rather than failing it: a call the bank's daily
// limit is known to refuse, data the API is still preparing. What it means
// to the stream is SkippedPart's to say.
type Skipped interface {
	error
	// Skipped reports whether the part is left for a later run.
	Skipped() bool
}

// IsSkipped reports whether err, or an error it wraps, is a Skipped one.
func IsSkipped(err error) bool {
	var s Skipped
	return errors.As(err, &s) && s.Skipped()
}

// SkippedPart is what a part of a stream left for a later run (an account
// whose daily quota is spent; err says which and until when) means to a
// stream read in mode. In incremental mode it is nothing: the part keeps
// its state, the stream completes, and a later run reads it. A
// full-refresh stream, though, is a snapshot: completing without the part
// would tell an overwrite destination that it has no rows, and the
// destination would empty them. So there the stream fails as transient
// (INCOMPLETE), with err naming the part and when to run again.
func SkippedPart(err error, mode protocol.SyncMode) error {
	if mode == protocol.Incremental {
		return nil
	}
	return &Error{Type: protocol.TransientError, Err: err, Msg: "a full-refresh snapshot cannot be complete without the skipped accounts' rows (an overwrite destination would take each for an account with none), so the stream ends INCOMPLETE; run again after the time given"}
}

// PartialSnapshot is a full-refresh stream's read error when every
// failure was a part's (an account whose call failed, or was skipped for
// its spent quota) and every other part was read whole. Field is the
// top-level field whose value names a row's part ("account_id"), Missing
// the parts not read. A sink that keeps the stream's snapshot (Parquet,
// PostgreSQL) then replaces the rows of every other part with this read's
// and keeps its previous rows of the missing ones: keeping the whole
// previous snapshot instead kept rows the parts read no longer have (a
// pending row that has since booked stayed beside its booked self, which
// the incremental transactions stream had loaded). The stream still ends
// INCOMPLETE with Err, so that a destination that can only replace the
// whole snapshot (Airbyte's overwrite, Singer's ACTIVATE_VERSION) keeps
// its previous one. A provider returns it only when the failures are the
// parts' alone: one of the whole read (the list of accounts) is not.
type PartialSnapshot struct {
	Field   string
	Missing []string
	Err     error
}

func (e *PartialSnapshot) Error() string { return e.Err.Error() }
func (e *PartialSnapshot) Unwrap() error { return e.Err }

// PartialSnapshotOf returns err when it is a *PartialSnapshot itself, nil
// otherwise: one wrapped in another error is part of a larger failure (a
// read interrupted by a signal), after which no part's rows are known
// whole.
func PartialSnapshotOf(err error) *PartialSnapshot {
	p, _ := err.(*PartialSnapshot) //nolint:errorlint // wrapped, it is part of a larger failure
	return p
}

// NotReadError is a stream's Read declining to read it because the config
// says so (a provider's include_pending false, say): the catalog selects
// a stream the config turns off. It is no failure, and no empty snapshot
// either: the runtime ends the stream COMPLETE with a WARN, and the sinks
// keep what they hold for it, as after a failed read. Return it with
// NotRead.
type NotReadError struct {
	Why string // the setting, e.g. "config include_pending is false"
}

func (e *NotReadError) Error() string { return "not read: " + e.Why }

// NotRead is the error of a stream the config turns off; why names the
// setting.
func NotRead(why string) error { return &NotReadError{Why: why} }
