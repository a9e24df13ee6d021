package pgtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// StatementBalancer starts, for the test, a stand-in for pgpool-II in
// front of the server of u (a URL DB made) with load balancing by
// statement (statement_level_load_balance = on), and returns u through
// it. For each client session it opens a second session of the server,
// standing for a standby's, and sends the client's queries of the simple
// protocol that begin with SELECT to the two in turn, as pgpool-II sends
// each SELECT it takes for read-only to the node it picks for that
// statement; a query beginning with a comment (/*NO LOAD BALANCE*/, the
// comment pgpool-II's manual gives), and every other message, goes to the
// client's own session. The sessions are real ones of their own
// throughout: only a query's answer may come from the other.
func StatementBalancer(t testing.TB, u string) string {
	t.Helper()
	return stand(t, u, func(c net.Conn, server string) { balance(c, server, u) })
}

// balance serves one client connection of StatementBalancer.
func balance(c net.Conn, server, u string) {
	defer c.Close()
	var startup []byte
	for startup == nil {
		msg, err := readUntyped(c)
		if err != nil {
			return
		}
		if len(msg) >= 8 && binary.BigEndian.Uint32(msg[4:]) == 80877103 { // SSLRequest: no TLS here
			if _, err := c.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		}
		startup = msg
	}
	s, err := net.Dial("tcp", server)
	if err != nil {
		return
	}
	defer s.Close()
	if _, err := s.Write(startup); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other, err := pgconn.Connect(ctx, u)
	if err != nil {
		return
	}
	if err := other.SyncConn(ctx); err != nil {
		return
	}
	standby, err := other.Hijack()
	if err != nil {
		return
	}
	defer standby.Conn.Close()
	go func() { _, _ = io.Copy(c, s); c.Close() }()
	turn := 0
	for {
		msg, err := readTyped(c)
		if err != nil {
			return
		}
		to := s
		if msg[0] == 'Q' && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(string(bytes.TrimRight(msg[5:], "\x00")))), "SELECT") {
			turn++
			if turn%2 == 0 {
				to = standby.Conn
			}
		}
		if _, err := to.Write(msg); err != nil {
			return
		}
		if to == s {
			continue
		}
		for { // the standby's answer, through its ReadyForQuery
			answer, err := readTyped(standby.Conn)
			if err != nil {
				return
			}
			if _, err := c.Write(answer); err != nil {
				return
			}
			if answer[0] == 'Z' {
				break
			}
		}
	}
}

// readUntyped reads a message with no type byte (a startup message),
// its length included.
func readUntyped(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint32(n[:]))
	copy(msg, n[:])
	_, err := io.ReadFull(r, msg[4:])
	return msg, err
}

// readTyped reads a message: its type byte, its length and its body.
func readTyped(r io.Reader) ([]byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, 1+binary.BigEndian.Uint32(h[1:]))
	copy(msg, h[:])
	_, err := io.ReadFull(r, msg[5:])
	return msg, err
}
