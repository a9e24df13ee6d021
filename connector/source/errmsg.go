package source

import (
	"errors"
	"slices"
	"strings"
)

// userMessage is the text an ERROR trace shows: the user-facing message of
// the first *Error in the chain when there is one, else the error itself. A
// joined error (one part per failed account or item) shows every part's
// message, so a trace names each thing that failed, not only the first; a
// message several parts share (wrong credentials, met by every item) is
// shown once, where the first of them was. What wrappers outside an *Error
// say ("account X of item Y: …") is kept: it is often the only place that
// names what failed.
func userMessage(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		seen := map[string]bool{}
		for _, e := range j.Unwrap() {
			if e != nil {
				parts = joinedMessages(e, parts, seen)
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, "; ")
		}
	}
	if e, ok := err.(*Error); ok && e.Msg != "" { //nolint:errorlint // this function walks the chain itself, one level at a time
		if e.Err == nil || e.Quoted {
			return e.Msg
		}
		return e.Msg + ": " + userMessage(e.Err)
	}
	// A wrapper ("account X: %w") keeps its own words in front of the user
	// message of what it wraps.
	if inner := errors.Unwrap(err); inner != nil {
		if outer, in := err.Error(), inner.Error(); strings.HasSuffix(outer, in) {
			return strings.TrimSuffix(outer, in) + userMessage(inner)
		}
	}
	return err.Error()
}

// joinedMessages appends to parts the user message of err, one part of a
// joined error, unless seen has it. A part that is itself a join (the
// per-item errors inside a per-account join) gives its own parts, so a
// message is shown once however deep it is repeated.
func joinedMessages(err error, parts []string, seen map[string]bool) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok && slices.ContainsFunc(j.Unwrap(), func(e error) bool { return e != nil }) {
		for _, e := range j.Unwrap() {
			if e != nil {
				parts = joinedMessages(e, parts, seen)
			}
		}
		return parts
	}
	if m := userMessage(err); !seen[m] {
		seen[m] = true
		parts = append(parts, m)
	}
	return parts
}
