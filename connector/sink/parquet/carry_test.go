package parquet

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// snapshotRun writes recs as one run's full-refresh snapshot of st into
// dir, started at start, ending with readErr; it returns the run's files
// and what reached the end of the chain.
func snapshotRun(t *testing.T, dir string, st testStream, start time.Time, opts Options, recs []json.RawMessage, readErr error, log *slog.Logger) ([]string, *recorder) {
	t.Helper()
	opts.Dir, opts.Start = dir, start
	s, err := Open([]sourceStream{st}, opts)
	if err != nil {
		t.Fatal(err)
	}
	next := &recorder{}
	l, err := s.OpenStream(source.StreamInfo{Stream: st, Mode: protocol.FullRefresh, Log: log}, next)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if err := l.Record(jsonrow.Of(r)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	l.End(readErr)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, st.name, "part-"+start.UTC().Format(stampLayout)+"-*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	return files, next
}

// TestPartialSnapshotCarriesOverMissingParts: a full-refresh read whole
// but for some parts (a source.PartialSnapshot, keyed here by id) publishes
// its rows with the previous snapshot's rows of the missing parts copied
// in after them, value for value in every shape the sink maps (lists,
// structs, decimals, lenient times, JSON text, nulls at every level), read
// back by arrow-go, a second Parquet implementation and, where present,
// Rust's; across several files and row groups on both sides. The stream's
// error still reaches the end of the chain.
func TestPartialSnapshotCarriesOverMissingParts(t *testing.T) {
	st, dir := kitchen(t), t.TempDir()
	opts := Options{RowsPerFile: 3, RowGroupRows: 2}
	t0 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	first := raws(kitchenRecords)
	if files, _ := snapshotRun(t, dir, st, t0, opts, first, nil, nil); len(files) != 3 {
		t.Fatalf("the first snapshot: files %v, want 3", files)
	}
	missing := []string{"a1", "a3", "a7"}
	second := raws([]string{`{"id":"a2","n":22,"tags":["new"]}`, `{"id":"a5","n":55}`, `{"id":"a8","n":8,"amount":1.5}`})
	partial := &source.PartialSnapshot{Field: "id", Missing: missing, Err: errors.New("a1, a3 and a7 were not read")}
	files, next := snapshotRun(t, dir, st, t0.Add(time.Hour), opts, second, partial, nil)
	if !errors.Is(next.ended, partial) {
		t.Errorf("the chain ended with %v, want the read's error", next.ended)
	}
	want := slices.Clone(second)
	for _, r := range first {
		var id struct{ ID string }
		if err := json.Unmarshal(r, &id); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(missing, id.ID) {
			want = append(want, r)
		}
	}
	if len(files) != 2 {
		t.Errorf("the partial snapshot: files %v, want 2 (6 rows, 3 a file)", files)
	}
	checkFiles(t, files, st.schema, want)
}

// TestPartialSnapshotOfAnotherSchemaIsDiscarded: when the previous
// snapshot's files have other columns than this run's (written from
// another schema), its rows cannot be copied column by column: the partial
// snapshot is discarded, as any failed read's, and a WARN says why; the
// previous snapshot stays the newest, whole. A first run (no previous
// snapshot) publishes the parts it read.
func TestPartialSnapshotOfAnotherSchemaIsDiscarded(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	partial := &source.PartialSnapshot{Field: "id", Missing: []string{"gone"}, Err: errors.New("gone was not read")}
	old := testStream{name: "kitchen", schema: json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"},"n":{"type":"integer"}}}`)}
	firstFiles, _ := snapshotRun(t, dir, old, t0, Options{}, raws([]string{`{"id":"a","n":1}`}), partial, nil)
	if len(firstFiles) != 1 {
		t.Fatalf("a first partial snapshot published %v, want its one file", firstFiles)
	}
	checkFiles(t, firstFiles, old.schema, raws([]string{`{"id":"a","n":1}`}))

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	files, next := snapshotRun(t, dir, kitchen(t), t0.Add(time.Hour), Options{}, raws(kitchenRecords[:2]), partial, log)
	if len(files) != 0 {
		t.Errorf("a partial snapshot whose previous one has other columns published %v", files)
	}
	if !errors.Is(next.ended, partial) {
		t.Errorf("the chain ended with %v, want the read's error", next.ended)
	}
	if all, _ := filepath.Glob(filepath.Join(dir, "kitchen", "*")); !slices.Equal(all, firstFiles) {
		t.Errorf("the folder holds %v, want the previous snapshot %v alone", all, firstFiles)
	}
	if s := logs.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "the previous snapshot stays the newest, whole") || !strings.Contains(s, "written from another schema") {
		t.Errorf("no WARN saying the previous snapshot is kept and why:\n%s", s)
	}
}

// TestPartialSnapshotWithRowsOfAMissingPartIsDiscarded: a read that wrote
// some rows of a part it then lacks (an account that panicked part-way
// through its rows) publishes nothing, with a WARN, and the previous
// snapshot stays the newest, whole: its rows of that part carried over
// beside the read's were doubled (the PostgreSQL sink leaves the read's
// out). Whether the row is in a file already staged or in the one in
// progress.
func TestPartialSnapshotWithRowsOfAMissingPartIsDiscarded(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	partial := &source.PartialSnapshot{Field: "id", Missing: []string{"a1"}, Err: errors.New("a1 panicked part-way through its rows")}
	for _, c := range []struct {
		name string
		recs []string
	}{
		{"in the file in progress", []string{`{"id":"a2","n":22}`, `{"id":"a1","n":1}`}},
		{"in a staged file", []string{`{"id":"a1","n":1}`, `{"id":"a2","n":22}`, `{"id":"a3","n":33}`, `{"id":"a4","n":44}`}},
	} {
		st, dir := kitchen(t), t.TempDir()
		opts := Options{RowsPerFile: 2}
		firstFiles, _ := snapshotRun(t, dir, st, t0, opts, raws([]string{`{"id":"a1","n":1}`, `{"id":"a2","n":2}`}), nil, nil)
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		files, next := snapshotRun(t, dir, st, t0.Add(time.Hour), opts, raws(c.recs), partial, log)
		if len(files) != 0 {
			t.Errorf("%s: a partial snapshot holding rows of a part it lacks published %v", c.name, files)
			for _, f := range files {
				for _, r := range readArrow(t, f) {
					t.Logf("%s: %v", f, r["id"])
				}
			}
		}
		if !errors.Is(next.ended, partial) {
			t.Errorf("%s: the chain ended with %v, want the read's error", c.name, next.ended)
		}
		if all, _ := filepath.Glob(filepath.Join(dir, "kitchen", "*")); !slices.Equal(all, firstFiles) {
			t.Errorf("%s: the folder holds %v, want the previous snapshot %v alone", c.name, all, firstFiles)
		}
		if s := logs.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "the previous snapshot stays the newest, whole") || !strings.Contains(s, "rows of id a1") {
			t.Errorf("%s: no WARN saying the previous snapshot is kept and why:\n%s", c.name, s)
		}
	}
}
