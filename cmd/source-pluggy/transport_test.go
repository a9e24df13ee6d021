package main

import (
	"encoding/json"
	"encoding/pem"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestGzipAnswersReadTheSame reads every stream from two fakes with the
// same data, one answering gzip-compressed bodies of unknown length as a
// compressing front end does, and compares what the two reads emitted. A
// cut-off gzip stream is retried like any cut-off body.
func TestGzipAnswersReadTheSame(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Hour)
	o := fake.Options{Items: 2, TransactionsPerAccount: 150, PageSize: 40, Now: func() time.Time { return now }}
	plain := newEnv(t, o)
	o.Gzip = true
	gz := newEnv(t, o)
	want := plain.read(plain.catalog(false)).Records()
	got := gz.read(gz.catalog(false)).Records()
	if n := gz.fake.Stats().Gzipped; n == 0 {
		t.Fatal("the fake sent no gzip answer: the client did not accept gzip")
	}
	if n := plain.fake.Stats().Gzipped; n != 0 {
		t.Fatalf("the fake without Gzip sent %d gzip answers", n)
	}
	if len(want) < 8 {
		t.Fatalf("the plain read emitted only %d streams", len(want))
	}
	sameRecords(t, want, got, "from gzip answers")

	// Half a gzip stream, then the connection closes: a broken body, retried.
	gz.fake.SetFaults(fake.Faults{DropMidBodyEvery: 3})
	r := gz.read(gz.catalog(false, "items", "transactions"))
	gz.allTransactions(r)
	if gz.fake.Stats().Faults["drop"] == 0 {
		t.Fatal("the fake cut no answer off")
	}
	retried := 0
	for _, m := range r.OfType(protocol.TypeLog) {
		if strings.Contains(m.Log.Message, "retrying") {
			retried++
		}
	}
	if retried == 0 {
		t.Fatal("no retry was logged for the cut-off gzip answers")
	}
}

// TestReadOverHTTP2 reads every stream as the real API is reached: TLS,
// HTTP/2 and gzip, from the fake behind a certificate the binary trusts
// through SSL_CERT_FILE, and compares what it emitted with a read over
// plain HTTP/1.1. A stream the server resets mid-body (HTTP/2's cut-off
// answer) is retried. Not parallel: it sets SSL_CERT_FILE.
func TestReadOverHTTP2(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Hour)
	o := fake.Options{Items: 2, TransactionsPerAccount: 150, PageSize: 40, Now: func() time.Time { return now }}
	plain := newEnv(t, o)
	want := plain.read(plain.catalog(false)).Records()

	o.Gzip = true
	f := fake.New(o)
	var h2 atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2.Add(1)
		}
		f.Handler().ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	st.Must(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600), "CA file")
	t.Setenv("SSL_CERT_FILE", ca)
	e := &env{t: t, bin: plain.bin, fake: f, srv: srv, cfg: maps.Clone(plain.cfg)}
	e.cfg["base_url"] = srv.URL
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("the fake is at %s, want https", srv.URL)
	}

	got := e.read(e.catalog(false)).Records()
	if h2.Load() == 0 || f.Stats().Gzipped == 0 {
		t.Fatalf("%d requests over HTTP/2, %d gzip answers: want both", h2.Load(), f.Stats().Gzipped)
	}
	sameRecords(t, want, got, "over HTTP/2")

	f.SetFaults(fake.Faults{DropMidBodyEvery: 3})
	r := e.read(e.catalog(false, "items", "transactions"))
	e.allTransactions(r)
	if f.Stats().Faults["drop"] == 0 {
		t.Fatal("the fake reset no stream")
	}
}

// sameRecords checks that a read emitted, stream by stream, the records
// of a plain HTTP/1.1 read (want), in any order.
func sameRecords(t *testing.T, want, got map[string][]json.RawMessage, how string) {
	t.Helper()
	for stream, rows := range want {
		if a, b := texts(rows), texts(got[stream]); !slices.Equal(a, b) {
			t.Errorf("%s: %d records %s, %d from a plain read, or they differ", stream, len(b), how, len(a))
		}
	}
}

// texts is each record's JSON text, sorted.
func texts(rows []json.RawMessage) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = string(r)
	}
	slices.Sort(out)
	return out
}
