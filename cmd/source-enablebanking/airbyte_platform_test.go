package main

import (
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestAirbytePlatformSync runs two syncs the way the Airbyte platform runs
// a source: its command line through sh -c and $AIRBYTE_ENTRYPOINT, its
// configured catalog (every stream, with generation ids, nulls and the
// platform's overwrite_dedup) and, the second time, the input state it
// keeps (each stream's last STATE in an array). Each must succeed with
// every stream COMPLETE after a STATE, and the second read only what is new.
func TestAirbytePlatformSync(t *testing.T) {
	e := newEnv(t, fake.Options{})
	first, _, _ := st.PlatformSyncs(t, e.bin, e.config(nil), e.discover())
	e.noSecrets(first)
}

// TestReauthUnderAirbyte: where the Airbyte platform runs check and read
// (WORKER_JOB_ID, which its launcher sets in every connector container),
// the messages sending the user to `connect --config … --write` also say
// what to do there, since that --config is a file the platform wrote for
// one run, in a container with no browser: run connect elsewhere on the
// source's settings and copy session_ids into the source. An ERROR naming
// several sessions says it once, at its end, in its message and its
// internal_message, each session pointing there, and so does the closing
// summary; the WARN a week ahead says it in its airbyte attribute. They
// named only the platform's file. Run by hand, they say what they said.
func TestReauthUnderAirbyte(t *testing.T) {
	const fix = "run connect on a computer with a browser, with --config a file holding the source's settings (application_id and private_key, copied from the source in Airbyte), not the file Airbyte wrote for this run, then copy session_ids (and account_uids, if set)"
	const note, pointer = "under Airbyte, " + fix, "(under Airbyte: see the end of this message)"
	e := newEnv(t, fake.Options{Sessions: 3, TransactionsPerAccount: 5})
	ids := e.fake.SessionIDs()
	e.fake.ExpireSession(ids[1])
	e.fake.ExpireSession(ids[2])
	bare := e.fake.AccountUIDs(ids[0])[0]
	e.fake.FailAccount(bare, &fake.AccountError{Status: 401, Message: "Unauthorized"})
	e.fake.AdvanceClock(146 * 24 * time.Hour) // ids[0] ends within the week
	cfg, cat := e.config(nil), e.catalog(false)
	check := func() string {
		t.Helper()
		cs, r := st.CheckRun(t, e.bin, cfg)
		st.ValidateProtocol(t, r)
		e.noSecrets(r)
		if cs.Status != protocol.StatusFailed || !strings.Contains(cs.Message, "source-enablebanking connect --config "+cfg) {
			t.Fatalf("check: %+v", cs)
		}
		return cs.Message
	}

	t.Setenv("WORKER_JOB_ID", "")
	if msg := check(); strings.Contains(msg, "under Airbyte") {
		t.Errorf("check by hand speaks of Airbyte: %s", msg)
	}
	hand := e.run(cat, nil)
	if len(hand.ErrorsMentioning(ids[1], "Authorise again", "source-enablebanking connect --config ")) == 0 || strings.Contains(string(hand.Stdout), "under Airbyte") || strings.Contains(string(hand.Stdout), "airbyte=") {
		t.Errorf("a read by hand: want the re-authorisation error naming the command, and nothing of Airbyte: %+v", hand.ErrorTraces())
	}

	t.Setenv("WORKER_JOB_ID", "4711") // the launcher sets it in check's container too
	if msg := check(); strings.Count(msg, note) != 1 {
		t.Errorf("check under Airbyte: want the Airbyte note once: %s", msg)
	}
	r := st.PlatformRead(t, e.bin, cfg, cat, "")
	st.ValidateProtocol(t, r)
	e.noSecrets(r)
	if r.Code != 1 || !r.Warned("ends soon", ids[0], "source-enablebanking connect --config ", `airbyte="`+fix) {
		t.Errorf("exit %d; want the WARN of the session ending soon with the Airbyte fix; WARNs: %s", r.Code, r.Stdout)
	}
	both := r.ErrorsMentioning(ids[1], ids[2], "without an error code", "(source-enablebanking connect) "+pointer)
	if len(both) == 0 {
		t.Fatalf("no ERROR naming both expired sessions and the bare 401, each pointing at the Airbyte note: %+v", r.ErrorTraces())
	}
	for _, tr := range both {
		if strings.Count(tr.Message, note) != 1 || strings.Count(tr.Message, pointer) < 3 {
			t.Errorf("an ERROR naming both sessions and the bare 401: want the Airbyte note once at its end, each pointing there: %s", tr.Message)
		}
		if tr.InternalMessage != "" && strings.Count(tr.InternalMessage, note) != 1 {
			t.Errorf("its internal_message says the Airbyte note %d times, want once: %s", strings.Count(tr.InternalMessage, note), tr.InternalMessage)
		}
	}
}
