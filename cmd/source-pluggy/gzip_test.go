package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/pluggy/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
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
	for stream, rows := range want {
		a, b := texts(rows), texts(got[stream])
		if !slices.Equal(a, b) {
			t.Errorf("%s: %d records from gzip answers, %d from plain ones, or they differ", stream, len(b), len(a))
		}
	}

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

// texts is each record's JSON text, sorted.
func texts(rows []json.RawMessage) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = string(r)
	}
	slices.Sort(out)
	return out
}
