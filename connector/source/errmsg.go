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

// internalMessage is the text of an ERROR trace's internal_message:
// err.Error(), less the parts of a joined error said before. errors.Join
// writes every part, one a line, so the refusal of wrong credentials, met
// by every item or session a stream reads, came out as the same sentence
// once per item. A part is kept whole (the wrappers that name what failed,
// an *Error's message before its cause) where it first occurs.
func internalMessage(err error) string { return strings.Join(internalParts(err), "\n") }

// internalParts is err.Error() cut at every join, however deep in
// wrappers or *Errors the join is, each part of a join once: a wrapper's
// words stay in front of the first part of the join it wraps, as Error
// writes them.
func internalParts(err error) []string {
	if parts, ok := joined(err); ok {
		var out []string
		for _, e := range parts {
			for _, p := range internalParts(e) {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
		return out
	}
	if inner := errors.Unwrap(err); inner != nil {
		if outer, in := err.Error(), inner.Error(); strings.HasSuffix(outer, in) {
			parts := internalParts(inner)
			parts[0] = strings.TrimSuffix(outer, in) + parts[0]
			return parts
		}
	}
	return []string{err.Error()}
}

// joined returns the parts of an errors.Join, whose text is theirs one a
// line; an error with several %w of fmt.Errorf has words of its own around
// them, and is not cut.
func joined(err error) ([]error, bool) {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return nil, false
	}
	var parts []error
	var texts []string
	for _, e := range j.Unwrap() {
		if e != nil {
			parts = append(parts, e)
			texts = append(texts, e.Error())
		}
	}
	return parts, len(parts) > 0 && err.Error() == strings.Join(texts, "\n")
}
