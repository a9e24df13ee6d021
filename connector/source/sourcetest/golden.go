package sourcetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// A Golden is the readable summary of whole runs of a connector, for a
// golden test: what a user would check by eye after a sync (each stream's
// statuses, how many records and tombstones, which keys, what was logged,
// the errors, the exit code and where the next run resumes), with what
// differs from run to run (timestamps, dates relative to today, ports,
// temp paths, durations) masked, so two runs of the same scenario give the
// same bytes and a change in behaviour shows as a diff.
type Golden struct {
	b        strings.Builder
	masks    []literal
	patterns []pattern
	runs     int
	seen     map[string]map[string]bool // each stream's keys in earlier runs
	// MaxKeys is how many primary keys a stream lists in full; past it,
	// the summary lists the first and last few, and a digest of them all
	// so that a change in the middle still shows. Default 20.
	MaxKeys int
}

type literal struct{ old, new string }

type pattern struct {
	re  *regexp.Regexp
	new string
}

// NewGolden starts a summary with a header (what the scenario is: the
// fake's options, the change between the runs).
func NewGolden(header string) *Golden {
	g := &Golden{seen: map[string]map[string]bool{}}
	for _, line := range strings.Split(strings.TrimSpace(header), "\n") {
		g.b.WriteString("# " + line + "\n")
	}
	return g
}

// AwayFromMidnight waits out the last minute of a UTC day before a golden
// scenario starts. The fakes date their rows from the clock and the reads
// window by it, so a scenario that crossed midnight between its fake and
// its reads could ask for other days and summarise differently, failing
// for no fault of the code. The wait is logged.
func AwayFromMidnight(t testing.TB) {
	t.Helper()
	if wait := untilPastMidnight(time.Now(), time.Minute); wait > 0 {
		t.Logf("waiting %v for UTC midnight to pass: the scenario's dates come from the clock", wait)
		time.Sleep(wait)
	}
}

// untilPastMidnight is how long to wait at now so that the next margin
// does not cross a UTC midnight: zero when it does not, else until a
// second past midnight.
func untilPastMidnight(now time.Time, margin time.Duration) time.Duration {
	now = now.UTC()
	next := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	if left := next.Sub(now); left < margin {
		return left + time.Second
	}
	return 0
}

// Mask replaces every occurrence of old (a run-dependent value the
// patterns do not catch: the fake's URL, a generated id) with placeholder
// in what follows. Literals are replaced before the patterns.
func (g *Golden) Mask(old, placeholder string) {
	if old != "" {
		g.masks = append(g.masks, literal{old, placeholder})
	}
}

// MaskPattern replaces every match of the regular expression expr with
// replacement (as regexp.ReplaceAllString, so $1 may keep a group) in what
// follows, after the literals and before the built-in patterns: for
// values the scenario makes that change with the day, such as a hash of
// a dated row. A primary key it changes is annotated with whether an
// earlier run emitted the same key, since the summary no longer shows it.
func (g *Golden) MaskPattern(expr, replacement string) {
	g.patterns = append(g.patterns, pattern{regexp.MustCompile(expr), replacement})
}

// Note adds a line between runs (what changed at the fake, say).
func (g *Golden) Note(format string, args ...any) {
	fmt.Fprintf(&g.b, "\n%s\n", g.mask(fmt.Sprintf(format, args...)))
}

// String is the summary so far.
func (g *Golden) String() string { return g.b.String() }

var (
	// timestampPattern: RFC 3339 and the other date-time forms APIs and Go
	// print (a space for the T, no zone, " +0000 UTC").
	timestampPattern = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?( ?(Z|[+-]\d{2}:?\d{2}))?( UTC)?`)
	datePattern      = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`)
	// compactDatePattern: YYYYMMDD inside an id (a bank's positional
	// reference "20250612-3"), only when it is a date near today.
	compactDatePattern = regexp.MustCompile(`\b(19|20)\d{6}`)
	durationPattern    = regexp.MustCompile(`\b(\d+(\.\d+)?(h|ms|µs|us|ns|m|s))+\b`)
	portPattern        = regexp.MustCompile(`\b(127\.0\.0\.1|localhost|\[::1\]):\d+`)
	tempPattern        = regexp.MustCompile(regexp.QuoteMeta(os.TempDir()) + `/[^\s"',;)]+`)
)

// near reports whether the date s (layout) lies within five years of
// today: a date the data or the clock made, where one far off (a
// start_date of 2000-01-01, a state in 2999) is the test's own and kept.
func near(s, layout string) bool {
	d, err := time.Parse(layout, s)
	if err != nil {
		return false
	}
	diff := time.Since(d)
	return diff < 5*365*24*time.Hour && diff > -5*365*24*time.Hour
}

func (g *Golden) mask(s string) string {
	for _, l := range g.masks {
		s = strings.ReplaceAll(s, l.old, l.new)
	}
	for _, p := range g.patterns {
		s = p.re.ReplaceAllString(s, p.new)
	}
	s = tempPattern.ReplaceAllString(s, "<tmp>")
	s = portPattern.ReplaceAllString(s, "$1:<port>")
	s = timestampPattern.ReplaceAllStringFunc(s, func(m string) string {
		if near(m[:10], time.DateOnly) {
			return "<time>"
		}
		return m
	})
	s = datePattern.ReplaceAllStringFunc(s, func(m string) string {
		if near(m, time.DateOnly) {
			return "<date>"
		}
		return m
	})
	s = compactDatePattern.ReplaceAllStringFunc(s, func(m string) string {
		if near(m, "20060102") {
			return "<yyyymmdd>"
		}
		return m
	})
	return durationPattern.ReplaceAllString(s, "<duration>")
}

// Run adds one read's summary: its exit code, then for each stream of the
// configured catalog at catalogPath, in its order (and any other stream
// the run mentions, after them): its STREAM_STATUS sequence, its records,
// tombstones (records with a non-null _ab_cdc_deleted_at) and primary
// keys (sorted), what was logged while it was read (sorted: accounts are
// read concurrently), its ERROR traces and its final state, pretty-printed.
// Logs and errors outside any stream close the run's summary.
func (g *Golden) Run(t testing.TB, title string, r *Result, catalogPath string) {
	t.Helper()
	raw, err := os.ReadFile(catalogPath)
	Must(t, err, "catalog")
	var cat protocol.ConfiguredCatalog
	Must(t, json.Unmarshal(raw, &cat), "catalog")
	var order []string
	keys := map[string][][]string{}
	for _, s := range cat.Streams {
		order = append(order, s.Stream.Name)
		keys[s.Stream.Name] = s.PrimaryKey
		if len(s.PrimaryKey) == 0 {
			keys[s.Stream.Name] = s.Stream.SourceDefinedPrimaryKey
		}
	}

	type streamSummary struct {
		statuses          []string
		records           []json.RawMessage
		logs, errs        []string
		state             json.RawMessage
		hasState, touched bool
	}
	streams := map[string]*streamSummary{}
	of := func(name string) *streamSummary {
		s := streams[name]
		if s == nil {
			s = &streamSummary{}
			streams[name] = s
			if !slices.Contains(order, name) {
				order = append(order, name)
			}
		}
		s.touched = true
		return s
	}
	var runLogs, runErrs []string
	current := "" // the stream between its STARTED and its last status
	for _, m := range r.Messages {
		switch {
		case m.Record != nil:
			s := of(m.Record.Stream)
			s.records = append(s.records, m.Record.Data)
		case m.State != nil && m.State.Stream != nil:
			s := of(m.State.Stream.StreamDescriptor.Name)
			s.state, s.hasState = m.State.Stream.StreamState, true
		case m.State != nil:
			runLogs = append(runLogs, fmt.Sprintf("STATE of type %s (not STREAM)", m.State.Type))
		case m.Log != nil:
			line := string(m.Log.Level) + " " + g.mask(m.Log.Message)
			if current != "" {
				of(current).logs = append(of(current).logs, line)
			} else {
				runLogs = append(runLogs, line)
			}
		case m.Trace != nil && m.Trace.StreamStatus != nil:
			ss := m.Trace.StreamStatus
			name := ss.StreamDescriptor.Name
			st := string(ss.Status)
			for _, reason := range ss.Reasons {
				st += "(" + reason.Type + ")"
			}
			of(name).statuses = append(of(name).statuses, st)
			switch ss.Status {
			case protocol.Started:
				current = name
			case protocol.Complete, protocol.Incomplete:
				if current == name {
					current = ""
				}
			}
		case m.Trace != nil && m.Trace.Error != nil:
			e := m.Trace.Error
			line := fmt.Sprintf("%s: %s", e.FailureType, g.mask(e.Message))
			if e.StreamDescriptor != nil && e.StreamDescriptor.Name != "" {
				of(e.StreamDescriptor.Name).errs = append(of(e.StreamDescriptor.Name).errs, line)
			} else {
				runErrs = append(runErrs, line)
			}
		case m.Trace != nil && m.Trace.Estimate != nil:
			// Left out: one per part read, a progress hint the
			// estimate tests check (TestEstimatesCountTheRecords), not
			// part of what a read delivers.
		case m.Trace != nil:
			runLogs = append(runLogs, fmt.Sprintf("TRACE %s", m.Trace.Type))
		default:
			runLogs = append(runLogs, fmt.Sprintf("unexpected %s message", m.Type))
		}
	}

	g.runs++
	fmt.Fprintf(&g.b, "\n=== %s ===\n", title)
	fmt.Fprintf(&g.b, "exit code: %d\n", r.Code)
	for _, name := range order {
		s := streams[name]
		fmt.Fprintf(&g.b, "\n--- stream %s ---\n", name)
		if s == nil || !s.touched {
			g.b.WriteString("not mentioned\n")
			continue
		}
		fmt.Fprintf(&g.b, "statuses: %s\n", strings.Join(s.statuses, " "))
		g.records(t, name, s.records, keys[name])
		g.list("logs", s.logs, true)
		g.list("errors", s.errs, false)
		if !s.hasState {
			g.b.WriteString("final state: none\n")
		} else {
			g.b.WriteString("final state:\n")
			g.b.WriteString(indent(g.mask(pretty(t, s.state)), "  "))
		}
	}
	g.b.WriteString("\n--- outside any stream ---\n")
	g.list("logs", runLogs, false)
	g.list("errors", runErrs, false)
}

// records writes the count of records and tombstones and the sorted
// primary keys of one stream's records.
func (g *Golden) records(t testing.TB, stream string, records []json.RawMessage, pk [][]string) {
	t.Helper()
	var all, dead []string
	for _, raw := range records {
		var row map[string]json.RawMessage
		Must(t, json.Unmarshal(raw, &row), "record")
		k := keyOf(row, pk)
		all = append(all, k)
		if d, ok := row["_ab_cdc_deleted_at"]; ok && string(d) != "null" {
			dead = append(dead, k)
		}
	}
	distinct := map[string]bool{}
	for _, k := range all {
		distinct[k] = true
	}
	fmt.Fprintf(&g.b, "records: %d (%d distinct keys)\n", len(all), len(distinct))
	fmt.Fprintf(&g.b, "tombstones: %d\n", len(dead))
	if len(pk) == 0 {
		g.b.WriteString("keys: the stream has no primary key\n")
		return
	}
	g.keys("keys "+pkName(pk), stream, all)
	if len(dead) > 0 {
		g.keys("tombstone keys", stream, dead)
	}
	if g.seen[stream] == nil {
		g.seen[stream] = map[string]bool{}
	}
	for _, k := range all {
		g.seen[stream][k] = true
	}
}

func pkName(pk [][]string) string {
	parts := make([]string, len(pk))
	for i, p := range pk {
		parts[i] = strings.Join(p, ".")
	}
	return "(" + strings.Join(parts, " | ") + ")"
}

// keyOf is a record's primary key: its fields' values joined with " | ",
// strings unquoted, missing fields as <missing>.
func keyOf(row map[string]json.RawMessage, pk [][]string) string {
	parts := make([]string, len(pk))
	for i, path := range pk {
		v, ok := json.RawMessage(nil), false
		cur := row
		for j, field := range path {
			v, ok = cur[field]
			if !ok || j == len(path)-1 {
				break
			}
			cur = nil
			if json.Unmarshal(v, &cur) != nil {
				ok = false
				break
			}
		}
		var s string
		switch {
		case !ok:
			parts[i] = "<missing>"
		case json.Unmarshal(v, &s) == nil:
			parts[i] = s
		default:
			parts[i] = string(v)
		}
	}
	return strings.Join(parts, " | ")
}

// keys writes a sorted list of keys, masked; after the first run a key
// the masks changed says whether an earlier run of the stream emitted it.
func (g *Golden) keys(label, stream string, raw []string) {
	keys := make([]string, len(raw))
	for i, k := range raw {
		keys[i] = g.mask(k)
		if keys[i] != k && g.runs > 1 {
			if g.seen[stream][k] {
				keys[i] += "  (also in an earlier run)"
			} else {
				keys[i] += "  (not in an earlier run)"
			}
		}
	}
	sort.Strings(keys)
	limit := g.MaxKeys
	if limit <= 0 {
		limit = 20
	}
	if len(keys) <= limit {
		fmt.Fprintf(&g.b, "%s, sorted:\n", label)
		for _, k := range keys {
			g.b.WriteString("  " + k + "\n")
		}
		return
	}
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	fmt.Fprintf(&g.b, "%s, sorted (%d; first and last 5; sha256 of all %s):\n", label, len(keys), hex.EncodeToString(sum[:8]))
	for _, k := range keys[:5] {
		g.b.WriteString("  " + k + "\n")
	}
	fmt.Fprintf(&g.b, "  … %d more …\n", len(keys)-10)
	for _, k := range keys[len(keys)-5:] {
		g.b.WriteString("  " + k + "\n")
	}
}

// list writes a labelled list, "none" when empty, sorted if asked.
func (g *Golden) list(label string, lines []string, sorted bool) {
	if len(lines) == 0 {
		fmt.Fprintf(&g.b, "%s: none\n", label)
		return
	}
	if sorted {
		lines = slices.Clone(lines)
		sort.Strings(lines)
		label += " (sorted)"
	}
	fmt.Fprintf(&g.b, "%s:\n", label)
	for _, l := range lines {
		g.b.WriteString(indent(l, "  "))
	}
}

// pretty indents a JSON value with its object keys sorted and its numbers
// as written.
func pretty(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 {
		return "(empty)"
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	Must(t, dec.Decode(&v), "state")
	b, err := json.MarshalIndent(v, "", "  ")
	Must(t, err, "state")
	return string(b)
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + line + "\n")
	}
	return b.String()
}

// CheckGolden compares got with the golden file at path (relative to the
// test's package directory, testdata/golden/… by convention). With update
// it writes got there instead. On a mismatch the test fails with the
// first differing lines, as a unified diff, and rerun: the command that
// rewrites the file when the change is intended.
func CheckGolden(t testing.TB, path, got string, update bool, rerun string) {
	t.Helper()
	if update {
		Must(t, os.MkdirAll(filepath.Dir(path), 0o755), "golden dir")
		Must(t, os.WriteFile(path, []byte(got), 0o644), "golden file")
		t.Logf("wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s: %v\nif this is a new scenario, create it with: %s", path, err, rerun)
	}
	if string(want) == got {
		return
	}
	t.Errorf("the run's summary differs from %s (- golden, + this run):\n%s\nIf the change is intended, rewrite the golden file with:\n  %s",
		path, Diff(string(want), got, 3, 40), rerun)
}

// Diff is a unified diff of a and b by lines: hunks of changed lines,
// with context lines of unchanged text around each, and at most limit
// changed lines in all before it stops.
func Diff(a, b string, context, limit int) string {
	ops := diffLines(strings.Split(a, "\n"), strings.Split(b, "\n"))
	var out strings.Builder
	shown := 0
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk: from context lines before this change to context lines
		// after the last change no more than 2*context lines from the next.
		start := max(0, i-context)
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j + 1
			} else if j-end >= 2*context {
				break
			}
		}
		end = min(len(ops), end+context)
		fmt.Fprintf(&out, "@@ -%d +%d @@\n", ops[start].a+1, ops[start].b+1)
		for _, op := range ops[start:end] {
			if op.kind != ' ' {
				if shown == limit {
					out.WriteString("… more differences not shown\n")
					return out.String()
				}
				shown++
			}
			out.WriteString(string(op.kind) + " " + op.line + "\n")
		}
		i = end
	}
	return out.String()
}

// diffOp is one line of a diff: kept (' '), only in a ('-') or only in b
// ('+'), with the line numbers (from 0) it is at in a and b.
type diffOp struct {
	kind byte
	line string
	a, b int
}

// diffLines lines a and b up by a longest common subsequence of their
// lines. Past a few million line pairs between the common head and tail,
// it calls the whole middle changed rather than take the time.
func diffLines(a, b []string) []diffOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	am, bm := a[pre:len(a)-suf], b[pre:len(b)-suf]
	var ops []diffOp
	for i := range pre {
		ops = append(ops, diffOp{' ', a[i], i, i})
	}
	n, m := len(am), len(bm)
	if n*m > 4_000_000 {
		for i, l := range am {
			ops = append(ops, diffOp{'-', l, pre + i, pre})
		}
		for j, l := range bm {
			ops = append(ops, diffOp{'+', l, pre + n, pre + j})
		}
	} else {
		// lcs[i][j]: the longest common subsequence of am[i:] and bm[j:].
		lcs := make([][]int32, n+1)
		for i := range lcs {
			lcs[i] = make([]int32, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if am[i] == bm[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && am[i] == bm[j]:
				ops = append(ops, diffOp{' ', am[i], pre + i, pre + j})
				i, j = i+1, j+1
			case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
				ops = append(ops, diffOp{'-', am[i], pre + i, pre + j})
				i++
			default:
				ops = append(ops, diffOp{'+', bm[j], pre + i, pre + j})
				j++
			}
		}
	}
	for k := range suf {
		ops = append(ops, diffOp{' ', a[len(a)-suf+k], len(a) - suf + k, len(b) - suf + k})
	}
	return ops
}
