package quota

import (
	"log/slog"
	"time"
)

// GoneAfter is how long an account that no consent of the config lists
// any more keeps its place in a stream's state. Such an account is closed
// or blocked, left out when its consent was renewed, or taken out of the
// config (its consent replaced by one under new ids, a reconnect that
// matched no account to it): no run reads it again, and its place (the
// keys of the rows a next run would re-read, the last details) would stay in every state for ever, one
// more at each account gone. The months let a consent taken out for a
// while come back where it stopped, and a renewal (connect --reconnect)
// move an account's place long after the consent lapsed.
const GoneAfter = 90 * 24 * time.Hour

// DropGone removes from st the places of the accounts that accounts (what
// the run lists) lacks and that no run has read (syncedAt, RFC 3339)
// since GoneAfter before now, each with an INFO naming it. It
// does nothing when listErr is not nil: an account of a consent that
// could not be listed, or cannot be read, is not gone. A place whose
// synced_at does not parse is kept. An account that comes back after its
// place is dropped is read as a new one, from start_date: its rows come
// again, keyed as a first read keys them, and none is lost.
func DropGone[A Account, C, E any](st *State[C, E], accounts []A, listErr error, now time.Time, syncedAt func(*C) string, log *slog.Logger) {
	if listErr != nil {
		return
	}
	listed := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		listed[a.StateKey()] = true
	}
	for key, place := range st.Accounts {
		if listed[key] || place == nil {
			continue
		}
		at := syncedAt(place)
		synced, err := time.Parse(time.RFC3339, at)
		if err != nil || now.Sub(synced) <= GoneAfter {
			continue
		}
		delete(st.Accounts, key)
		log.Info("no consent of the config has listed the account since a run last read it, more than 90 days ago; its place is dropped from the state (listed again, it is read from start_date)",
			"account", key, "synced_at", at)
	}
}
