package main

import (
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestConnectReauthorisesTheSameAccounts: authorising the same bank again
// through connect, once the session has expired, gives the same bank
// accounts under new uids with their identification_hash, so the docs'
// re-authorisation (put the new session in session_ids, keep the state)
// can be tried end to end: the next read takes up where the old session
// left off. The fake used to mint unrelated accounts for every code.
func TestConnectReauthorisesTheSameAccounts(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 60})
	old := e.fake.SessionIDs()[0]
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	e.fake.ExpireSession(old)

	out, _ := e.authoriseAtNordea(e.connectConfig(nil))
	var res struct {
		SessionID string `json:"session_id"`
		Accounts  []struct {
			UID  string `json:"uid"`
			Hash string `json:"identification_hash"`
		} `json:"accounts"`
	}
	st.Must(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &res), "result line")
	var oldHashes, newHashes []string
	for _, uid := range e.fake.AccountUIDs(old) {
		oldHashes = append(oldHashes, e.fake.IdentificationHash(uid))
	}
	for _, a := range res.Accounts {
		if slices.Contains(e.fake.AccountUIDs(old), a.UID) {
			t.Errorf("the new session kept uid %s", a.UID)
		}
		newHashes = append(newHashes, a.Hash)
	}
	slices.Sort(oldHashes)
	slices.Sort(newHashes)
	if len(newHashes) == 0 || !slices.Equal(oldHashes, newHashes) {
		t.Fatalf("re-authorised accounts' identification_hash %v, the expired session's %v: want the same accounts", newHashes, oldHashes)
	}

	e.cfg["session_ids"] = []string{res.SessionID}
	r2 := e.read(cat, "--state", r1.StateFile(t))
	if n1, n2 := len(r1.Records()["transactions"]), len(r2.Records()["transactions"]); n2 == 0 || 2*n2 > n1 {
		t.Errorf("the read after re-authorising took %d rows of the %d the first took: it started the history over", n2, n1)
	}
}

// TestConnectWriteReplacesTheExpiredSession: re-authorising with
// `connect --write`, as check's message for an expired session says to,
// puts the new session in session_ids in place of the expired one whose
// accounts it holds (the same identification_hash), so the next check
// succeeds and the read takes up where the old session left off. It used
// to add the new session beside the old, and every later check and read
// failed on the expired one. A session of another bank stays.
func TestConnectWriteReplacesTheExpiredSession(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 2, TransactionsPerAccount: 30})
	ids := e.fake.SessionIDs()
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	e.fake.ExpireSession(ids[0])
	cfg := e.connectConfig(nil)

	out, stderr := e.authoriseAtNordea(cfg, "--write")
	var res struct {
		SessionID string `json:"session_id"`
	}
	st.Must(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &res), "result line")
	raw, err := os.ReadFile(cfg)
	st.Must(t, err, "config after --write")
	var written struct {
		SessionIDs []string `json:"session_ids"`
	}
	st.Must(t, json.Unmarshal(raw, &written), "config after --write")
	// The fake's first session is at Nordea; the second, still authorised,
	// at Swedbank.
	if want := []string{res.SessionID, ids[1]}; !slices.Equal(written.SessionIDs, want) {
		t.Fatalf("session_ids after re-authorising with --write: %v, want %v (the expired Nordea session replaced in place)\nstderr: %s", written.SessionIDs, want, stderr)
	}
	for _, w := range []string{"Replaced session " + ids[0], res.SessionID, "EXPIRED"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not say %q:\n%s", w, stderr)
		}
	}
	e.cfg["session_ids"] = written.SessionIDs
	r2 := e.read(cat, "--state", r1.StateFile(t))
	if n1, n2 := len(r1.Records()["transactions"]), len(r2.Records()["transactions"]); n2 == 0 || 2*n2 > n1 {
		t.Errorf("the read after re-authorising took %d rows of the %d the first took", n2, n1)
	}
}

// TestNewSessionAfterTheExpiredOneIsRead: a config that lists the
// re-authorised session after the expired one (the new id added by hand,
// or by a connect --write that could not see the old session's accounts)
// reads the accounts through the new session. An account both sessions
// hold was taken from the first listed, the expired one, and every read
// failed it with a config error though the new session could read it.
func TestNewSessionAfterTheExpiredOneIsRead(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 30})
	old := e.fake.SessionIDs()[0]
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	e.fake.ExpireSession(old)
	fresh := e.fake.Reauthorize(old)
	for _, ids := range [][]string{{old, fresh}, {fresh, old}} {
		r := e.run(cat, map[string]any{"session_ids": ids}, "--state", r1.StateFile(t))
		if traces := r.ErrorTraces(); len(traces) != 0 || r.Code != 0 {
			t.Errorf("session_ids %v: exit %d, errors %v; want the accounts read through the new session", ids, r.Code, traces)
		}
		if n := len(r.Records()["transactions"]); n == 0 {
			t.Errorf("session_ids %v: no transactions read", ids)
		}
	}
}

// TestConnectWriteAddsTheAccountsToAccountUIDs: a config that reads only
// the accounts in account_uids would not read the accounts of a bank
// connect --write authorises; their identification_hash (which survives
// re-authorisation) is added too, and stderr says so.
func TestConnectWriteAddsTheAccountsToAccountUIDs(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 5})
	only := []string{e.fake.IdentificationHash(e.fake.AccountUIDs(e.fake.SessionIDs()[0])[0])}
	cfg := e.connectConfig(map[string]any{"account_uids": only})
	out, stderr := e.authoriseAtNordea(cfg, "--write")
	var res struct {
		Accounts []struct {
			Hash string `json:"identification_hash"`
		} `json:"accounts"`
	}
	st.Must(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &res), "result line")
	raw, err := os.ReadFile(cfg)
	st.Must(t, err, "config after --write")
	var written struct {
		AccountUIDs []string `json:"account_uids"`
	}
	st.Must(t, json.Unmarshal(raw, &written), "config after --write")
	want := append([]string{}, only...)
	for _, a := range res.Accounts {
		want = append(want, a.Hash)
	}
	if len(res.Accounts) == 0 || !slices.Equal(written.AccountUIDs, want) {
		t.Errorf("account_uids after --write: %v, want %v", written.AccountUIDs, want)
	}
	if !strings.Contains(stderr, "account_uids") {
		t.Errorf("stderr does not say the accounts were added to account_uids:\n%s", stderr)
	}
}

// TestReauthoriseWriteKeepsAccountUIDsInStep: re-authorising with
// connect --write a config that reads only the accounts in account_uids.
// The new session holds the expired one's accounts (the same
// identification_hash): one the list leaves out stays out, and one it
// names by its old uid, which dies with the replaced session, is named by
// its identification_hash instead. connect added every account of the new
// session, the excluded ones too, and left the old uid behind, so the next
// read read an account the user had left out and failed on the uid.
func TestReauthoriseWriteKeepsAccountUIDsInStep(t *testing.T) {
	for _, byUID := range []bool{false, true} {
		t.Run(map[bool]string{false: "by identification_hash", true: "by uid"}[byUID], func(t *testing.T) {
			e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 20})
			old := e.fake.SessionIDs()[0]
			uids := e.fake.AccountUIDs(old)
			listed, kept := uids[0], e.fake.IdentificationHash(uids[0])
			if !byUID {
				listed = kept
			}
			e.cfg["account_uids"] = []string{listed}
			cat := e.catalog(true, "transactions")
			r1 := e.read(cat)
			e.fake.ExpireSession(old)

			cfg := e.connectConfig(nil)
			_, stderr := e.authoriseAtNordea(cfg, "--write")
			var written struct {
				SessionIDs  []string `json:"session_ids"`
				AccountUIDs []string `json:"account_uids"`
			}
			st.Must(t, json.Unmarshal(e.mustRead(cfg), &written), "config after --write")
			if want := []string{kept}; !slices.Equal(written.AccountUIDs, want) {
				t.Errorf("account_uids after re-authorising: %v, want %v (the excluded account %s left out)\nstderr: %s",
					written.AccountUIDs, want, e.fake.IdentificationHash(uids[1]), stderr)
			}
			says := []string{"Left the new session's account(s) " + e.fake.IdentificationHash(uids[1]) + " out of account_uids"}
			if byUID {
				says = append(says, "Replaced uid "+uids[0]+" by the account's identification_hash "+kept)
			}
			for _, w := range says {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}

			e.cfg["session_ids"], e.cfg["account_uids"] = written.SessionIDs, written.AccountUIDs
			r2 := e.run(cat, nil, "--state", r1.StateFile(t))
			if r2.Code != 0 {
				t.Fatalf("the read after re-authorising exited %d: %v", r2.Code, r2.ErrorTraces())
			}
			for _, raw := range r2.Records()["transactions"] {
				if rec := decodeTx(t, raw); rec.AccountKey != kept {
					t.Fatalf("the read after re-authorising read account %s, which account_uids left out", rec.AccountKey)
				}
			}
		})
	}
}

// TestReauthoriseWriteSaysWhyTheExpiredSessionStays: re-authorising
// without one of the expired session's accounts cannot replace it (the
// new session does not hold every account of it), so it stays in
// session_ids and every later check and read fails on it. connect --write
// said only "Added session"; it now names the session that stays, the
// account the new one lacks, and the fix.
func TestReauthoriseWriteSaysWhyTheExpiredSessionStays(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 5})
	old := e.fake.SessionIDs()[0]
	left := e.fake.IdentificationHash(e.fake.AccountUIDs(old)[1])
	e.fake.ExpireSession(old)
	cfg := e.connectConfig(nil)
	_, stderr := e.authoriseAtNordeaWith(url.Values{"leave": {"1"}}, cfg, "--write")
	var written struct {
		SessionIDs []string `json:"session_ids"`
	}
	st.Must(t, json.Unmarshal(e.mustRead(cfg), &written), "config after --write")
	if len(written.SessionIDs) != 2 || written.SessionIDs[0] != old {
		t.Fatalf("session_ids after --write: %v, want %s kept and the new session added", written.SessionIDs, old)
	}
	for _, w := range []string{"Session " + old + " (status EXPIRED) stays in session_ids", left, "remove it from session_ids"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not say %q:\n%s", w, stderr)
		}
	}
}

// TestRenewingBeforeTheEndReplacesTheSession: authorising a bank again
// before its session ends, as the WARN a week ahead asks, gives the same
// accounts a new session. connect --write added it beside the old one,
// and once the old one ended every check failed on it, its message sending
// the user to connect again. The new session, holding every account of the
// old and lasting longer, takes its place; the next read goes on where the
// last one stopped.
func TestRenewingBeforeTheEndReplacesTheSession(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 30})
	old := e.fake.SessionIDs()[0]
	cat := e.catalog(true, "transactions")
	r1 := e.read(cat)
	e.fake.AdvanceClock(146 * 24 * time.Hour) // the fake's sessions end 150 days on
	if r := e.read(cat, "--state", r1.StateFile(t)); !r.Warned("ends soon", "source-enablebanking connect --config ", " --country FI --aspsp Nordea --write") {
		t.Errorf("a week before the session ends, the read does not warn with the command to run:\n%s", r.Stderr)
	}
	cfg := e.connectConfig(nil)
	out, stderr := e.authoriseAtNordeaWith(url.Values{"renew": {"1"}}, cfg, "--write")
	var res struct {
		SessionID string `json:"session_id"`
	}
	st.Must(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &res), "result line")
	var written struct {
		SessionIDs []string `json:"session_ids"`
	}
	st.Must(t, json.Unmarshal(e.mustRead(cfg), &written), "config after --write")
	if !slices.Equal(written.SessionIDs, []string{res.SessionID}) {
		t.Fatalf("session_ids after renewing: %v, want [%s] in place of %s\nstderr: %s", written.SessionIDs, res.SessionID, old, stderr)
	}
	if w := "Replaced session " + old + " (still readable until"; !strings.Contains(stderr, w) {
		t.Errorf("stderr does not say %q:\n%s", w, stderr)
	}
	e.fake.ExpireSession(old)
	if cs := st.Check(t, e.bin, cfg); cs.Status != protocol.StatusSucceeded {
		t.Errorf("check once the renewed session ended: %+v", cs)
	}
	e.cfg["session_ids"] = written.SessionIDs
	r2 := e.read(cat, "--state", r1.StateFile(t))
	if n1, n2 := len(r1.Records()["transactions"]), len(r2.Records()["transactions"]); n2 == 0 || 2*n2 > n1 {
		t.Errorf("the read after renewing took %d rows of the %d the first took: it started the history over", n2, n1)
	}
}

// TestExpiredSessionKeepsItsAccountsState: the read that finds a session
// expired between two reads emits, for its accounts, the state the last
// read left, so the read after re-authorising continues them.
func TestExpiredSessionKeepsItsAccountsState(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 2, TransactionsPerAccount: 30})
	expired := e.fake.SessionIDs()[0]
	cat := e.catalog(true, "accounts", "balances", "transactions")
	first := e.read(cat)
	e.fake.ExpireSession(expired)
	r := e.run(cat, nil, "--state", first.StateFile(t))
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1", r.Code)
	}
	var keys []string
	for _, uid := range e.fake.AccountUIDs(expired) {
		keys = append(keys, e.fake.IdentificationHash(uid))
	}
	st.AccountStatesKept(t, first.FinalStates(), r.FinalStates(), []string{"accounts", "balances", "transactions"}, keys)
}

// TestSessionEndingSoonWarnsOnce: a read of every stream warns once per
// session whose access ends within a week, with the command to run. It
// warned once for each stream that looked at the session (sessions, then
// the accounts'), the same line twice in the log.
func TestSessionEndingSoonWarnsOnce(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1, TransactionsPerAccount: 5})
	e.fake.AdvanceClock(146 * 24 * time.Hour) // the fake's sessions end 150 days on
	r := e.read(e.catalog(true))
	n := 0
	for _, m := range r.OfType(protocol.TypeLog) {
		if m.Log.Level == protocol.LevelWarn && strings.Contains(m.Log.Message, "ends soon") {
			n++
		}
	}
	if n != 1 || !r.Warned("ends soon", "--country FI --aspsp Nordea --write") {
		t.Errorf("%d WARNs that the session ends soon, want one with the connect command:\n%s", n, r.Stdout)
	}
}
