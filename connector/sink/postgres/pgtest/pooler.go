package pgtest

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// poolerParams are the startup parameters PgBouncer takes from a client
// (the ones it tracks, its default track_extra_parameters included): any
// other, unless the pooler is told to ignore it, refuses the connection.
var poolerParams = map[string]bool{
	"user": true, "database": true, "application_name": true, "client_encoding": true,
	"datestyle": true, "timezone": true, "standard_conforming_strings": true, "intervalstyle": true,
}

// Pooler starts, for the test, a stand-in for PgBouncer in front of the
// server of u (a URL DB made) and returns u through it: like PgBouncer, it
// refuses a connection whose startup message carries a parameter it does
// not track (statement_timeout, say) with a FATAL 08P01 "unsupported
// startup parameter", and passes the others on to the server.
func Pooler(t testing.TB, u string) string {
	t.Helper()
	return pooler(t, u, nil)
}

// PoolerIgnoring is Pooler told to ignore the startup parameters named
// (PgBouncer's ignore_startup_parameters): it drops them from the startup
// message, without a word, and passes the rest on.
func PoolerIgnoring(t testing.TB, u string, ignore ...string) string {
	t.Helper()
	ignored := map[string]bool{}
	for _, p := range ignore {
		ignored[strings.ToLower(p)] = true
	}
	return pooler(t, u, ignored)
}

// PoolerSlowToFree is Pooler counting each client it refused for a
// startup parameter until the next client has come and been refused in
// its turn: PgBouncer with max_client_conn = 1 frees a refused client on a
// later turn of its loop, and a client that connects again at once, as
// the run and the webhook receiver do without the parameters, was now and
// then refused ("no more connections allowed (max_client_conn)"), here
// every time.
func PoolerSlowToFree(t testing.TB, u string) string {
	t.Helper()
	var mu sync.Mutex
	unfreed := false
	return stand(t, u, func(c net.Conn, server string) {
		mu.Lock()
		full := unfreed
		unfreed = false
		mu.Unlock()
		if full {
			defer c.Close()
			if _, ok := readStartup(c); ok {
				refuse(c, "no more connections allowed (max_client_conn)")
			}
			return
		}
		if !pool(c, server, nil) {
			mu.Lock()
			unfreed = true
			mu.Unlock()
		}
	})
}

func pooler(t testing.TB, u string, ignored map[string]bool) string {
	t.Helper()
	return stand(t, u, func(c net.Conn, server string) { pool(c, server, ignored) })
}

// stand returns u (a URL DB made) with its host a listener on 127.0.0.1,
// closed at the test's end, each of whose connections serve handles,
// given the server's address: the stand-ins for what sits between a
// client and the server (Pooler, StatementBalancer).
func stand(t testing.TB, u string, serve func(c net.Conn, server string)) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	server := parsed.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c, server)
		}
	}()
	parsed.Host = ln.Addr().String()
	return parsed.String()
}

// pool serves one client connection of Pooler, dropping the startup
// parameters ignored names. It reports false if it refused the client for
// a parameter it does not track.
func pool(c net.Conn, server string, ignored map[string]bool) bool {
	defer c.Close()
	msg, ok := readStartup(c)
	if !ok {
		return true
	}
	kept := slices.Clone(msg[:4]) // the protocol version
	fields := bytes.Split(msg[4:], []byte{0})
	for i := 0; i+1 < len(fields); i += 2 {
		name := string(fields[i])
		switch {
		case name == "":
			continue
		case ignored[strings.ToLower(name)]:
			continue
		case !poolerParams[strings.ToLower(name)]:
			refuse(c, "unsupported startup parameter: "+name)
			return false
		}
		kept = append(append(append(append(kept, fields[i]...), 0), fields[i+1]...), 0)
	}
	kept = append(kept, 0)
	startup := binary.BigEndian.AppendUint32(nil, uint32(len(kept)+4))
	startup = append(startup, kept...)
	s, err := net.Dial("tcp", server)
	if err != nil {
		return true
	}
	defer s.Close()
	if _, err := s.Write(startup); err != nil {
		return true
	}
	go func() { _, _ = io.Copy(s, c); s.Close() }()
	_, _ = io.Copy(c, s)
	return true
}

// readStartup reads a client's startup message, its body after the
// length, answering an SSLRequest before it with "no TLS here".
func readStartup(c net.Conn) ([]byte, bool) {
	for {
		var n [4]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return nil, false
		}
		msg := make([]byte, binary.BigEndian.Uint32(n[:])-4)
		if _, err := io.ReadFull(c, msg); err != nil {
			return nil, false
		}
		if len(msg) >= 4 && binary.BigEndian.Uint32(msg) == 80877103 { // SSLRequest: no TLS here
			if _, err := c.Write([]byte{'N'}); err != nil {
				return nil, false
			}
			continue
		}
		return msg, len(msg) >= 4
	}
}

// refuse answers a startup message with PgBouncer's FATAL.
func refuse(c net.Conn, message string) {
	var body []byte
	for _, f := range [][2]string{{"S", "FATAL"}, {"V", "FATAL"}, {"C", "08P01"}, {"M", message}} {
		body = append(append(append(body, f[0]...), f[1]...), 0)
	}
	body = append(body, 0)
	msg := []byte{'E', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(msg[1:], uint32(len(body)+4))
	_, _ = c.Write(append(msg, body...))
}

// SlowWrites starts, for the test, a link in front of the server of u (a
// URL DB made) and returns u through it: it holds each of the first n
// writes of every connection's client (all of them for n < 0) for delay
// before passing it on. A server slow to log a session in, or a long
// round trip.
func SlowWrites(t testing.TB, u string, delay time.Duration, n int) string {
	t.Helper()
	return stand(t, u, func(c net.Conn, server string) {
		defer c.Close()
		s, err := net.Dial("tcp", server)
		if err != nil {
			return
		}
		defer s.Close()
		go func() {
			buf := make([]byte, 64<<10)
			for held := 0; ; held++ {
				r, err := c.Read(buf)
				if err != nil {
					s.Close()
					return
				}
				if n < 0 || held < n {
					time.Sleep(delay)
				}
				if _, err := s.Write(buf[:r]); err != nil {
					return
				}
			}
		}()
		_, _ = io.Copy(c, s)
	})
}

// Counted is a link Counting started in front of a server or a pooler:
// the URL through it, and what came through it.
type Counted struct {
	// URL is the URL given to Counting, through the link.
	URL               string
	sessions, cancels atomic.Int64
}

// Sessions is how many connections came through the link that were not
// cancel requests: the clients' sessions.
func (c *Counted) Sessions() int { return int(c.sessions.Load()) }

// CancelRequests is how many connections came through the link as a
// cancel request (CancelRequest, code 80877102): what a client sends for
// a statement cut short, pgx as it closes the connection. PgBouncer 1.18
// crashed on one sent for a client it held in its queue.
func (c *Counted) CancelRequests() int { return int(c.cancels.Load()) }

// Counting starts, for the test, a link in front of u (a URL DB or
// PgBouncer made) that passes every connection on as it is, counting the
// sessions and the cancel requests that come through it. A client sends
// a cancel request to the address its session is connected to: the
// link's.
func Counting(t testing.TB, u string) *Counted {
	t.Helper()
	c := &Counted{}
	c.URL = stand(t, u, func(client net.Conn, server string) {
		defer client.Close()
		// The first message, whole (PgBouncer refuses a startup message
		// that comes in pieces): a startup message, an SSLRequest or a
		// cancel request, each its length and then its code.
		first := make([]byte, 8)
		if _, err := io.ReadFull(client, first); err != nil {
			return
		}
		if n := int(binary.BigEndian.Uint32(first)); n > len(first) && n < 1<<16 {
			first = append(first, make([]byte, n-len(first))...)
			if _, err := io.ReadFull(client, first[8:]); err != nil {
				return
			}
		}
		if binary.BigEndian.Uint32(first[4:]) == 80877102 {
			c.cancels.Add(1)
		} else {
			c.sessions.Add(1)
		}
		s, err := net.Dial("tcp", server)
		if err != nil {
			return
		}
		defer s.Close()
		if _, err := s.Write(first); err != nil {
			return
		}
		go func() { _, _ = io.Copy(s, client); s.Close() }()
		_, _ = io.Copy(client, s)
	})
	return c
}
