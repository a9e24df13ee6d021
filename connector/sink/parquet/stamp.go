package parquet

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
)

// stampLayout is the run's start in file names, to the second.
const stampLayout = "20060102T150405Z"

// partName is a file name of the sink's: part-<stamp>-<seq>.parquet.
var partName = regexp.MustCompile(`^part-(\d{8}T\d{6}Z)-(\d+)\.parquet$`)

// maxShortSeq is the greatest file number seqText writes in five digits.
const maxShortSeq = 99999

// seqText is file number n as a name gives it: five digits up to 99999,
// then 99999 followed by n in ten digits (100000 is 999990000100000),
// which sorts after every five-digit number and in order among its own.
// n's own digits sorted 100000 before 99999, and latest() of
// docs/parquet.md, which orders by file name, kept file 99999's rows over
// later ones. A folder gets that many files in one second with a small
// SOURCE_PLUGGY_PARQUET_ROWS_PER_FILE (a row a file over a long history),
// or over many runs numbered on in the second of a file stamped ahead of
// the clock (runStamp). Ten digits hold more files than a file system
// does.
func seqText(n int) string {
	if n <= maxShortSeq {
		return fmt.Sprintf("%05d", n)
	}
	return fmt.Sprintf("%d%010d", maxShortSeq, n)
}

// parseSeq reads a file number seqText wrote; another number (more digits
// than five, as versions before seqText wrote past 99999) is itself.
func parseSeq(s string) (int, error) {
	if rest, ok := strings.CutPrefix(s, strconv.Itoa(maxShortSeq)); ok && len(rest) == 10 {
		if n, err := strconv.Atoi(rest); err == nil && n > maxShortSeq {
			return n, nil
		}
	}
	return strconv.Atoi(s)
}

// newestRun is what a stream folder's newest file (the greatest name) says
// of the run that wrote it.
type newestRun struct {
	dir, name string
	stamp     string // of its name
	seq       int    // the greatest sequence number of that stamp
	// need is the earliest stamp a new run's files can take and still be
	// read as the newest: its name's second (the sequence number breaks a
	// tie of names), and just after its source_pluggy.run_started_at. Zero
	// when the folder holds no file of the sink's.
	need time.Time
}

// scanNewest reads the name of dir's newest file and its footer's
// source_pluggy.run_started_at. The footer of that one file is read: files
// this sink wrote take a stamp after every one already there (see
// runStamp), so the greatest name holds the greatest run_started_at. (Two
// runs of versions before that, in one second with the clock stepped back
// between them, can disagree; a later run's stamp is then after the one
// whose name sorts last.)
func scanNewest(dir string) newestRun {
	n := newestRun{dir: dir}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return n // probeWritable and the writes say what is wrong with dir
	}
	for _, e := range entries {
		m := partName.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		seq, err := parseSeq(m[2])
		if err != nil {
			continue
		}
		switch {
		case m[1] > n.stamp:
			n.name, n.stamp, n.seq = e.Name(), m[1], seq
		case m[1] == n.stamp && seq > n.seq:
			n.name, n.seq = e.Name(), seq
		}
	}
	if n.name == "" {
		return n
	}
	n.need, _ = time.Parse(stampLayout, n.stamp)
	if f, err := file.OpenParquetFile(filepath.Join(dir, n.name), false); err == nil {
		if v := f.MetaData().KeyValueMetadata().FindValue(MetaRunStart); v != nil {
			if at, err := time.Parse(time.RFC3339Nano, *v); err == nil {
				// A reader keeps microseconds (DuckDB's timestamptz),
				// rounding or truncating the rest: the next
				// microsecond after either is after it for every reader.
				n.need = laterOf(n.need, at.Round(time.Microsecond).Add(time.Microsecond))
			}
		}
		f.Close()
	}
	return n
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// runStamp returns the stamp of this run's files, its names and
// source_pluggy.run_started_at: the clock's start, unless a stream folder
// of the run already holds a file stamped at or after it (the clock stepped
// back: NTP, a VM restored from a snapshot, a container with a wrong clock,
// a second machine writing the directory). Every reader orders runs by
// those stamps (latest() by file name, snapshot() by run_started_at, the
// newest file's provider at Open), so a run stamped before the previous one
// would read as older: the previous run's snapshot would stay current (an
// account deleted since with it) and its rows would win over this run's
// updates and tombstones. The run then takes the first stamp after the
// newest there (the PostgreSQL sink, which replaces a table's rows as it
// writes them, depends on no clock for this). from is the folder that set
// it, nil when the clock's start stands.
//
// The stamp is one for the whole run, the latest any of its folders needs,
// not one per stream: a user joins streams of one run (its accounts'
// snapshot to its transactions, or every stream by run_started_at), and
// one run stamped differently in two folders would read as two runs. A
// folder behind another then gets a stamp further ahead than it needed,
// which orders it the same.
func runStamp(clock time.Time, folders []newestRun) (stamp time.Time, from *newestRun) {
	stamp = clock
	for i := range folders {
		f := &folders[i]
		// clock, as a reader truncating it to the microsecond sees it, is
		// not after the newest: take the stamp after that.
		if !f.need.IsZero() && f.need.After(stamp.Truncate(time.Microsecond)) {
			stamp, from = f.need, f
		}
	}
	return stamp, from
}
