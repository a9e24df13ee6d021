package source

import (
	"log/slog"
	"time"
)

// GoneAfter is how long a partition (an account, an investment) that the
// run no longer lists keeps its place in a stream's state. Such a
// partition is closed, or what lists it (a Pluggy item, a bank consent)
// was deleted, renewed without it or taken out of the config: no run reads
// it again, and its place (a cursor, the ids or keys of the rows a next
// run would re-read, its last details) would stay in every state for ever,
// one more at each one gone. The months let what lists it come back where
// it stopped (a connection being repaired, a consent renewed late with
// connect --reconnect).
const GoneAfter = 90 * 24 * time.Hour

// Gone says what DropGone drops, for its INFO: the partitions' attribute
// (account, investment) and what lists them (an item of item_ids, a
// consent of the config).
type Gone struct {
	Attr   string
	Lister string
}

// DropGone removes from places those that listed lacks (what the run
// lists, all of it: the caller does not call it when a listing failed, as
// a partition that could not be listed is not gone) and that no run has
// read (syncedAt, RFC 3339) since GoneAfter before now, each with an INFO
// naming it. A place whose synced_at does not parse is kept. A partition
// that comes back after its place is dropped is read as a new one, from
// start_date: its rows come again, none is lost.
func DropGone[C any](g Gone, places map[string]*C, listed map[string]bool, now time.Time, syncedAt func(*C) string, log *slog.Logger) {
	for key, place := range places {
		if listed[key] || place == nil {
			continue
		}
		at := syncedAt(place)
		synced, err := time.Parse(time.RFC3339, at)
		if err != nil || now.Sub(synced) <= GoneAfter {
			continue
		}
		delete(places, key)
		log.Info("no "+g.Lister+" has listed the "+g.Attr+" since a run last read it, more than 90 days ago; its place is dropped from the state (listed again, it is read from start_date)",
			g.Attr, key, "synced_at", at)
	}
}
