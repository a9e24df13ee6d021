package quota

import (
	"log/slog"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/source"
)

// DropGone removes from st the places of the accounts that accounts (what
// the run lists) lacks and that no run has read for source.GoneAfter, as
// source.DropGone does. It does nothing when listErr is not nil: an
// account of a consent that could not be listed, or cannot be read, is not
// gone (an expired requisition awaiting connect --reconnect keeps its
// accounts' places). An account that comes back is read as a new one, its
// rows keyed as a first read keys them.
func DropGone[A Account, C, E any](st *State[C, E], accounts []A, listErr error, now time.Time, syncedAt func(*C) string, log *slog.Logger) {
	if listErr != nil {
		return
	}
	listed := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		listed[a.StateKey()] = true
	}
	source.DropGone(source.Gone{Attr: "account", Lister: "consent of the config"}, st.Accounts, listed, now, syncedAt, log)
}
