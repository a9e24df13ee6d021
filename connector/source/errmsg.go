package source

import (
	"errors"
	"log/slog"
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
// names what failed. A Note the parts carry is said once (see
// userMessages).
func userMessage(err error) string {
	msgs, notes := userMessages([]error{err})
	return msgs[0] + notes
}

// userMessages is the user message of each of errs, as userMessage gives
// it, and the notes they carry (WithNote) said once: where each note would
// be said once, it ends the message of the error carrying it, as its text
// does; where one would be said twice (saidTwice), each noted error says
// its note's pointer and notes holds the notes, each once ("; " and its
// text), for the caller to end the whole with. A stream's trace and the
// run's closing summary, which joins the streams' messages, so say a note
// once, where they said it after each account that met it.
func userMessages(errs []error) (msgs []string, notes string) {
	m := &messager{}
	msgs = m.all(errs)
	if !saidTwice(msgs, m.notes) {
		return msgs, ""
	}
	m = &messager{pointers: true}
	msgs = m.all(errs)
	for _, n := range m.notes {
		notes += "; " + n
	}
	return msgs, notes
}

// saidTwice reports whether a note of notes is said more than once in
// msgs, each distinct message counted once, as the closing summary joins
// them: twice in one message (two accounts' errors), or in two messages
// (one stream met the noted error alone, another beside a failure of its
// own).
func saidTwice(msgs, notes []string) bool {
	distinct := slices.Compact(slices.Sorted(slices.Values(msgs)))
	for _, n := range notes {
		said := 0
		for _, msg := range distinct {
			said += strings.Count(msg, n)
		}
		if said > 1 {
			return true
		}
	}
	return false
}

// messager renders user messages, collecting the notes they carry.
type messager struct {
	pointers bool     // a noted error says its note's pointer, not its text
	notes    []string // the notes' texts, each once, in order
}

// say is what an error carrying note adds to its message: the note's
// text, or its pointer where the notes are said at the end; the note is
// collected either way.
func (m *messager) say(note *Note) string {
	if !slices.Contains(m.notes, note.Text) {
		m.notes = append(m.notes, note.Text)
	}
	if !m.pointers {
		return "; " + note.Text
	}
	return " (" + note.Pointer + ")"
}

func (m *messager) all(errs []error) []string {
	out := make([]string, len(errs))
	for i, err := range errs {
		out[i] = m.message(err)
	}
	return out
}

func (m *messager) message(err error) string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		seen := map[string]bool{}
		for _, e := range j.Unwrap() {
			if e != nil {
				parts = m.joinedMessages(e, parts, seen)
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, "; ")
		}
	}
	if n, ok := err.(*notedError); ok { //nolint:errorlint // this function walks the chain itself, one level at a time
		return m.message(n.err) + m.say(n.note)
	}
	if e, ok := err.(*Error); ok && e.Msg != "" { //nolint:errorlint // this function walks the chain itself, one level at a time
		if e.Err == nil || e.Quoted {
			return e.Msg
		}
		return e.Msg + ": " + m.message(e.Err)
	}
	// A wrapper ("account X: %w") keeps its own words in front of the user
	// message of what it wraps.
	if inner := errors.Unwrap(err); inner != nil {
		if outer, in := err.Error(), inner.Error(); strings.HasSuffix(outer, in) {
			return strings.TrimSuffix(outer, in) + m.message(inner)
		}
	}
	return err.Error()
}

// joinedMessages appends to parts the user message of err, one part of a
// joined error, unless seen has it. A part that is itself a join (the
// per-item errors inside a per-account join) gives its own parts, so a
// message is shown once however deep it is repeated.
func (m *messager) joinedMessages(err error, parts []string, seen map[string]bool) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok && slices.ContainsFunc(j.Unwrap(), func(e error) bool { return e != nil }) {
		for _, e := range j.Unwrap() {
			if e != nil {
				parts = m.joinedMessages(e, parts, seen)
			}
		}
		return parts
	}
	if msg := m.message(err); !seen[msg] {
		seen[msg] = true
		parts = append(parts, msg)
	}
	return parts
}

// Note is a remark the errors of a run may share, such as what to do under
// Airbyte, whose every re-link error would otherwise end with the same
// sentences: a message says it once, at its end, and each error that
// carries it says Pointer in its place (see userMessages). Notes are told
// apart by their Text.
type Note struct {
	// Pointer is what an error carrying the note says of it where the
	// note is said at the end ("under Airbyte: see the end of this
	// message").
	Pointer string
	// Text is the note, which ends the message once.
	Text string
	// airbyte is the fix AirbyteNote was given, for a WARN's attribute.
	airbyte string
}

// AirbyteNote is the note of a message whose fix is a command run on the
// read's own files (connect on its --config, GoCardless's re-link on its
// --state too), which under Airbyte are files the platform wrote for the
// one sync, in a container the user has no shell in: fix says what to do
// instead, with the source's settings (its fields by name) and the
// connection's there. A source says it only where the platform runs the
// command (Env.OnAirbyte, Env.AirbyteAttr), so that a run by hand says
// what it said; every connector's points at the end of the message alike.
func AirbyteNote(fix string) *Note {
	return &Note{Pointer: "under Airbyte: see the end of this message", Text: "under Airbyte, " + fix, airbyte: fix}
}

// OnAirbyte is note where the Airbyte platform runs the command
// (e.Airbyte), else nil, which WithNote adds nothing for: the note of an
// error whose fix is a command the platform's user cannot run as the
// message spells it (AirbyteNote).
func (e Env) OnAirbyte(note *Note) *Note {
	if !e.Airbyte {
		return nil
	}
	return note
}

// AirbyteAttr is the attribute a WARN whose "fix" is such a command adds
// where the Airbyte platform runs the command: "airbyte" and the fix
// AirbyteNote was given. Elsewhere, and for a note AirbyteNote did not
// make, it is the empty attribute, which a log record drops.
func (e Env) AirbyteAttr(note *Note) slog.Attr {
	if n := e.OnAirbyte(note); n != nil && n.airbyte != "" {
		return slog.String("airbyte", n.airbyte)
	}
	return slog.Attr{}
}

// WithNote returns err carrying note. Its text ends with "; " and the
// note's, and so does its user message when it is the only error of the
// message that carries a note; see userMessages.
func WithNote(err error, note *Note) error {
	if err == nil || note == nil {
		return err
	}
	return &notedError{err: err, note: note}
}

// notedError is WithNote's error.
type notedError struct {
	err  error
	note *Note
}

func (e *notedError) Error() string { return e.err.Error() + "; " + e.note.Text }

func (e *notedError) Unwrap() error { return e.err }

// internalMessage is the text of an ERROR trace's internal_message:
// err.Error(), less the parts of a joined error said before. errors.Join
// writes every part, one a line, so the refusal of wrong credentials, met
// by every item or session a stream reads, came out as the same sentence
// once per item. A part is kept whole (the wrappers that name what failed,
// an *Error's message before its cause) where it first occurs. A note the
// parts carry (WithNote) is said once, as the user message says it: where
// it would be said twice (several accounts' re-link errors), each part
// says its pointer and the notes end the text, where each part ended with
// the note.
func internalMessage(err error) string {
	m := &messager{}
	msg := strings.Join(m.internalParts(err), "\n")
	if !saidTwice([]string{msg}, m.notes) {
		return msg
	}
	m = &messager{pointers: true}
	msg = strings.Join(m.internalParts(err), "\n")
	for _, n := range m.notes {
		msg += "; " + n
	}
	return msg
}

// internalParts is err.Error() cut at every join, however deep in
// wrappers or *Errors the join is, each part of a join once: a wrapper's
// words stay in front of the first part of the join it wraps, as Error
// writes them, and a note follows the last part of the error carrying it
// (see say).
func (m *messager) internalParts(err error) []string {
	if parts, ok := joined(err); ok {
		var out []string
		for _, e := range parts {
			for _, p := range m.internalParts(e) {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
		return out
	}
	if n, ok := err.(*notedError); ok { //nolint:errorlint // this function walks the chain itself, one level at a time
		parts := m.internalParts(n.err)
		parts[len(parts)-1] += m.say(n.note)
		return parts
	}
	if inner := errors.Unwrap(err); inner != nil {
		if outer, in := err.Error(), inner.Error(); strings.HasSuffix(outer, in) {
			parts := m.internalParts(inner)
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
