package main

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/sink/postgres/pgtest"
)

// TestWebhookPostgresCommitsDurably: a receiver acknowledges an event once
// the transaction holding it has committed, which stands for an event on
// disk only where the commit waits for its WAL to be flushed. A DBA's
// synchronous_commit = off (for the database here, as for a role or the
// server, a common setting for write-heavy databases) made every commit
// return first: a server crash then lost up to three wal_writer_delay of
// events Pluggy had been answered 200 for, which it never delivers again.
// The receiver's session raises it to local, at its start and at each
// reconnection, as the statement inserting each event sees it.
func TestWebhookPostgresCommitsDurably(t *testing.T) {
	url := pgtest.DB(t)
	pgtest.Exec(t, url, `ALTER DATABASE `+pgtest.DBName(url)+` SET synchronous_commit = off`)
	// What the receiver's INSERTs run with, recorded by a trigger in
	// their own session.
	pgtest.Exec(t, url, `CREATE SCHEMA pluggy`)
	pgtest.Exec(t, url, `CREATE TABLE pluggy.webhook_events (seq bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE, received_at timestamptz NOT NULL, payload text NOT NULL)`)
	pgtest.Exec(t, url, `CREATE TABLE pluggy.commit_modes (event_id text, mode text)`)
	pgtest.Exec(t, url, `CREATE FUNCTION pluggy.commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO pluggy.commit_modes VALUES (NEW.event_id, current_setting('synchronous_commit')); RETURN NEW; END $$`)
	pgtest.Exec(t, url, `CREATE TRIGGER commit_mode BEFORE INSERT ON pluggy.webhook_events FOR EACH ROW EXECUTE FUNCTION pluggy.commit_mode()`)

	r := startReceiver(t, url)
	if got := r.post(t, deletedEvent("durable-1", uuidOf("t1")), authHeader); got != http.StatusOK {
		t.Fatalf("POST: %d\n%s", got, r.log())
	}
	// A reconnection sets it again: the session ended (a failover, a
	// server restart), the next delivery opens a new one.
	pgtest.Exec(t, url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, pgtest.DBName(url))
	// The first delivery finds the session gone (503, Pluggy retries);
	// the next reconnects.
	got := r.post(t, deletedEvent("durable-2", uuidOf("t2")), authHeader)
	if got != http.StatusOK {
		got = r.post(t, deletedEvent("durable-2", uuidOf("t2")), authHeader)
	}
	if got != http.StatusOK {
		t.Fatalf("POST after a reconnection: %d\n%s", got, r.log())
	}
	conn := pgtest.Connect(t, url)
	modes := pgtest.Rows(t, conn, `SELECT event_id || ' ' || mode FROM pluggy.commit_modes ORDER BY event_id`)
	if want := "[durable-1 local durable-2 local]"; fmt.Sprint(modes) != want {
		t.Fatalf("the receiver's inserts ran with synchronous_commit %v, want %s (an acknowledgement must stand for an event on disk)\n%s", modes, want, r.log())
	}
}
