package source

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
)

func TestUserMessageNamesEveryJoinedPart(t *testing.T) {
	err := errors.Join(
		fmt.Errorf("wrapped: %w", ConfigErrorf("requisition A expired; re-link it")),
		errors.New("plain failure"),
		TransientErrorf("bank of B unavailable"),
	)
	want := "wrapped: requisition A expired; re-link it; plain failure; bank of B unavailable"
	if got := userMessage(err); got != want {
		t.Fatalf("userMessage = %q, want %q", got, want)
	}
	if got := userMessage(AsConfigError(errors.New("cause"), "fix it")); got != "fix it: cause" {
		t.Fatalf("userMessage = %q", got)
	}
}

// A wrapper names what failed ("account X: …"): its words stay in front of
// the *Error's message, and a Quoted error shows its message alone.
func TestUserMessageKeepsWrappersAndQuotedErrors(t *testing.T) {
	raw := errors.New(`GET /x: HTTP 500: {"message":"boom"}`)
	quoted := &Error{Type: "transient_error", Msg: "Pluggy answered GET /x with HTTP 500: boom", Err: raw, Quoted: true}
	err := fmt.Errorf("account A of item I: %w", quoted)
	if got, want := userMessage(err), "account A of item I: Pluggy answered GET /x with HTTP 500: boom"; got != want {
		t.Fatalf("userMessage = %q, want %q", got, want)
	}
	if !errors.Is(err, raw) || err.Error() != "account A of item I: Pluggy answered GET /x with HTTP 500: boom: "+raw.Error() {
		t.Fatalf("Error() = %q: the internal message must keep the raw error", err.Error())
	}
	nested := AsConfigError(fmt.Errorf("item I: %w", quoted), "item I was not found")
	if got, want := userMessage(nested), "item I was not found: item I: Pluggy answered GET /x with HTTP 500: boom"; got != want {
		t.Fatalf("userMessage = %q, want %q", got, want)
	}
}

// TestInternalMessageSaysEachPartOnce: the internal_message of a joined
// error (one part per item, session or account) says a part every item
// met once, where it first came; parts that differ, and the wrappers that
// name what failed, are all kept, one a line, as Error writes them, inside
// an *Error or a wrapper too.
func TestInternalMessageSaysEachPartOnce(t *testing.T) {
	keys := ConfigErrorf("Pluggy rejected client_id/client_secret (HTTP 401 CLIENT_KEYS_UNAUTHORIZED: Client keys are invalid)")
	raw := errors.New(`GET /x: HTTP 500: {"message":"boom"}`)
	quoted := &Error{Type: "transient_error", Msg: "Pluggy answered GET /x with HTTP 500: boom", Err: raw, Quoted: true}
	cases := []struct {
		err  error
		want string
	}{
		{errors.Join(keys, keys, nil, keys), keys.Error()},
		{errors.Join(keys, errors.Join(keys, fmt.Errorf("account A: %w", quoted)), fmt.Errorf("account B: %w", quoted), keys),
			keys.Error() + "\naccount A: " + quoted.Error() + "\naccount B: " + quoted.Error()},
		{fmt.Errorf("item I: %w", errors.Join(quoted, quoted)), "item I: " + quoted.Error()},
		{&Error{Type: "transient_error", Msg: "the snapshot is incomplete", Err: errors.Join(keys, raw, keys)},
			"the snapshot is incomplete: " + keys.Error() + "\n" + raw.Error()},
		{quoted, quoted.Error()},
		{errors.New("a\na"), "a\na"}, // one error's own text is its own
		{fmt.Errorf("%w, then %w", keys, keys), keys.Error() + ", then " + keys.Error()},
	}
	for _, c := range cases {
		if got := internalMessage(c.err); got != c.want {
			t.Errorf("internalMessage(%q)\n got %q\nwant %q", c.err, got, c.want)
		}
	}
}

// TestConfigArg: a command a message tells the user to run names the
// run's own config file, quoted for a shell when it must be, or CONFIG.
func TestConfigArg(t *testing.T) {
	for path, want := range map[string]string{
		"":                        "CONFIG",
		"config.json":             "config.json",
		"/etc/pluggy/prod-1.json": "/etc/pluggy/prod-1.json",
		"my config.json":          "'my config.json'",
		"it's.json":               `'it'\''s.json'`,
		"$HOME/c.json":            "'$HOME/c.json'",
	} {
		if got := (Env{ConfigPath: path}).ConfigArg(); got != want {
			t.Errorf("ConfigArg(%q) = %s, want %s", path, got, want)
		}
	}
}

// TestNoteSaidOnce: a note several errors carry (what to do under
// Airbyte) ends a message once, each error pointing at it, in one error's
// message and across the streams' messages the closing summary joins; a
// note only one error carries ends that error's message, as its text does.
func TestNoteSaidOnce(t *testing.T) {
	note := &Note{Pointer: "under Airbyte: see the end", Text: "under Airbyte, do this"}
	other := &Note{Pointer: "STATE: see the end", Text: "STATE: that"}
	a := WithNote(ConfigErrorf("requisition A cannot be read"), note)
	b := fmt.Errorf("account B: %w", WithNote(ConfigErrorf("not found"), note))
	if got, want := userMessage(a), "requisition A cannot be read; under Airbyte, do this"; got != want || a.Error() != want {
		t.Errorf("one noted error: userMessage %q, Error %q, want %q", got, a.Error(), want)
	}
	if got, want := userMessage(errors.Join(a, a)), "requisition A cannot be read; under Airbyte, do this"; got != want {
		t.Errorf("one noted error twice: %q, want %q", got, want)
	}
	if got, want := userMessage(errors.Join(a, b, errors.New("plain"))),
		"requisition A cannot be read (under Airbyte: see the end); account B: not found (under Airbyte: see the end); plain; under Airbyte, do this"; got != want {
		t.Errorf("two noted errors:\n got %q\nwant %q", got, want)
	}
	c := WithNote(TransientErrorf("C failed"), other)
	msgs, notes := userMessages([]error{errors.Join(a, c), b})
	if want := []string{"requisition A cannot be read (under Airbyte: see the end); C failed (STATE: see the end)", "account B: not found (under Airbyte: see the end)"}; fmt.Sprint(msgs) != fmt.Sprint(want) || notes != "; under Airbyte, do this; STATE: that" {
		t.Errorf("across streams: %q, notes %q", msgs, notes)
	}
	if FailureTypeOf(errors.Join(b, c)) != "config_error" || WithNote(nil, note) != nil {
		t.Error("a note changes neither the failure type nor a nil error")
	}
}

// TestNoteSaidOnceInStreamsThatDiffer: one noted error (a requisition to
// re-link) that one stream met alone and another beside a failure of its
// own gives the closing summary two messages; the note ends the summary
// once, each message pointing there. Each message ended with it, so the
// summary said it twice.
func TestNoteSaidOnceInStreamsThatDiffer(t *testing.T) {
	note := &Note{Pointer: "under Airbyte: see the end", Text: "under Airbyte, do this"}
	relink := WithNote(ConfigErrorf("requisition A cannot be read"), note)
	msgs, notes := userMessages([]error{relink, errors.Join(relink, TransientErrorf("account B: the bank failed"))})
	want := []string{"requisition A cannot be read (under Airbyte: see the end)", "requisition A cannot be read (under Airbyte: see the end); account B: the bank failed"}
	if fmt.Sprint(msgs) != fmt.Sprint(want) || notes != "; under Airbyte, do this" {
		t.Errorf("got %q, notes %q;\nwant %q, notes %q", msgs, notes, want, "; under Airbyte, do this")
	}
	if msgs, notes := userMessages([]error{relink, relink}); msgs[0] != "requisition A cannot be read; under Airbyte, do this" || notes != "" {
		t.Errorf("two streams that met only it (one group in the summary): %q, notes %q", msgs, notes)
	}
}

// TestInternalMessageSaysANoteOnce: the internal_message of a stream whose
// accounts met noted errors (re-link errors under Airbyte) says the note
// once, at its end, each part pointing there, as the user message does;
// each account's line ended with it. One noted error keeps its note on its
// line, as its text has it.
func TestInternalMessageSaysANoteOnce(t *testing.T) {
	note := AirbyteNote("do this")
	a := WithNote(ConfigErrorf("requisition A cannot be read"), note)
	b := fmt.Errorf("account B: %w", WithNote(ConfigErrorf("not found"), note))
	plain := TransientErrorf("account C: the bank failed")
	if got := internalMessage(errors.Join(a, plain)); got != a.Error()+"\n"+plain.Error() {
		t.Errorf("one noted error: %q", got)
	}
	want := "requisition A cannot be read (under Airbyte: see the end of this message)\naccount B: not found (under Airbyte: see the end of this message)\n" + plain.Error() + "; under Airbyte, do this"
	if got := internalMessage(errors.Join(a, b, plain, a)); got != want {
		t.Errorf("two noted errors:\n got %q\nwant %q", got, want)
	}
	if got := internalMessage(&Error{Type: "config_error", Msg: "the stream failed", Err: errors.Join(a, b)}); got != "the stream failed: requisition A cannot be read (under Airbyte: see the end of this message)\naccount B: not found (under Airbyte: see the end of this message); under Airbyte, do this" {
		t.Errorf("inside an *Error: %q", got)
	}
}

// TestAirbyteNoteOnlyUnderAirbyte: a connector's Airbyte note, and a
// WARN's airbyte attribute, are said only where the platform runs the
// command; a run by hand says what it said.
func TestAirbyteNoteOnlyUnderAirbyte(t *testing.T) {
	note := AirbyteNote("do this")
	err := ConfigErrorf("item I needs its user")
	hand, under := Env{}, Env{Airbyte: true}
	// By hand, WithNote returns the very error it was given.
	if got := WithNote(err, hand.OnAirbyte(note)); got != err || !hand.AirbyteAttr(note).Equal(slog.Attr{}) { //nolint:errorlint // identity, not a match in a chain

		t.Errorf("by hand: %q, attr %v", got, hand.AirbyteAttr(note))
	}
	if got := userMessage(WithNote(err, under.OnAirbyte(note))); got != "item I needs its user; under Airbyte, do this" {
		t.Errorf("under Airbyte: %q", got)
	}
	if got := under.AirbyteAttr(note).String(); got != "airbyte=do this" {
		t.Errorf("under Airbyte, attr %s", got)
	}
	if !under.AirbyteAttr(&Note{Text: "STATE: that"}).Equal(slog.Attr{}) || !under.AirbyteAttr(nil).Equal(slog.Attr{}) {
		t.Error("a note AirbyteNote did not make gives no airbyte attribute")
	}
}
