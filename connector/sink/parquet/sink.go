package parquet

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/source-pluggy/source-pluggy/connector/internal/columns"
	"github.com/source-pluggy/source-pluggy/connector/internal/memlimit"
	"github.com/source-pluggy/source-pluggy/connector/internal/staletemp"
	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// softLimit is the floor of the soft memory limit the sinks keep while
// they are open (package memlimit). The sink's own live heap is about 15
// MiB (two row groups of RowGroupBytes of column data, one encoding
// scratch, the zstd encoder, the open file's row group metadata), the
// read's about 15 MiB more; without the limit the heap reached 130 MiB
// before a collection on a million Pluggy transactions. With 64 MiB the
// process peaked at 82.5 MB RSS there but at 70.8 with 100,000 rows: a run
// long enough for the heap to reach the limit sits at it. With 56 MiB the
// peaks were 77.1 and 74.6 MB (+3.4%), for about 0.1 CPU s more of
// collection per million rows.
const softLimit = 56 << 20

// Defaults of Options.
const (
	DefaultRowsPerFile   = 250_000
	DefaultRowGroupRows  = 65_536
	DefaultRowGroupBytes = 4 << 20
)

// Key-value metadata written in every file's footer.
const (
	MetaStream     = "source_pluggy.stream"
	MetaSyncMode   = "source_pluggy.sync_mode"
	MetaVersion    = "source_pluggy.connector_version"
	MetaProvider   = "source_pluggy.provider"
	MetaJSONSchema = "source_pluggy.json_schema"
	MetaRunStart   = "source_pluggy.run_started_at"
)

// Compression is a file's compression codec.
type Compression string

// The codecs --parquet-compression accepts.
const (
	Zstd   Compression = "zstd"
	Snappy Compression = "snappy"
	None   Compression = "none"
)

func (c Compression) codec() (compress.Compression, error) {
	switch c {
	case Zstd, "":
		return compress.Codecs.Zstd, nil
	case Snappy:
		return compress.Codecs.Snappy, nil
	case None:
		return compress.Codecs.Uncompressed, nil
	}
	return 0, fmt.Errorf("unknown Parquet compression %q: use zstd, snappy or none", string(c))
}

// Options configures the sinks of one read.
type Options struct {
	// Dir is the root directory; each stream writes under Dir/<stream>/.
	Dir         string
	Compression Compression // default zstd
	// RowsPerFile rotates the file after that many rows. Default 250,000:
	// an open file keeps every row group's metadata in memory (about 8 MB
	// for 1,000,000 Pluggy transactions), and a first sync checkpoints at
	// each file.
	RowsPerFile int64
	// RowGroupRows and RowGroupBytes bound a row group: it is written
	// once it has RowGroupRows rows or its columns hold RowGroupBytes
	// bytes (levels and values, before encoding), whichever comes
	// first. The rows bound keeps row groups of narrow rows a size engines
	// read well; the bytes bound keeps wide or raw-heavy rows (long
	// _leftovers) from blowing the memory budget: the sink holds at most
	// two row groups, one filling while the previous one is encoded.
	// Defaults 65,536 rows and 4 MiB (8 MiB until the soft memory limit,
	// see softLimit, needed a smaller live heap; files 2.4% larger).
	RowGroupRows  int
	RowGroupBytes int
	// Version is the connector version recorded in each file.
	Version string
	// Provider names whose data the files hold (pluggy, gocardless,
	// enablebanking), recorded in each file; a stream folder whose newest
	// file holds another provider's is refused at Open (see
	// checkProvider). It is not the binary's name, which a rename moves:
	// a renamed binary goes on writing beside its earlier files.
	Provider string
	// Start is the run's start by the clock, default now. It bounds the
	// stale temporaries removed at open, and stamps the files (their names
	// and source_pluggy.run_started_at) unless a stream folder already
	// holds a file stamped at or after it: the files then take the first
	// stamp after that one (see runStamp).
	Start time.Time
}

// Sinks writes every record of every stream of one read to Parquet files.
// It implements source.Sinks; see the package doc for the guarantees.
type Sinks struct {
	opts  Options
	codec compress.Compression
	// runStart is the run's stamp (runStamp): opts.Start, or just after the
	// newest file already in a folder when the clock is behind it.
	runStart time.Time
	stamp    string // runStart in file names, yyyyMMddTHHmmssZ
	// seqs are, by stream, the greatest sequence number its folder holds
	// of stamp: the run's files take numbers after it.
	seqs map[string]int
	// behind, when runStart is not opts.Start, is the WARN that says so,
	// logged once, as the first stream opens, through the run's logger
	// (StreamInfo.RunLog): it names the folder that set the stamp, which
	// need not be that stream's.
	behind func(*slog.Logger)

	lock *dirLock // held from Open to Close
	// unholdMemory restores the memory limit (see softLimit) at Close.
	unholdMemory func()

	mu      sync.Mutex
	roots   map[string]*node // derived at Open, handed to OpenStream
	writers []*Writer
}

var _ source.Sink = (*Sinks)(nil)

// Open prepares the sinks of a read of streams: it derives every stream's
// Parquet schema (so a schema the sink cannot map fails before anything is
// read), creates Dir/<stream>/ and removes the temporaries that crashed runs
// left there, i.e. hidden .part-*.parquet.tmp files older than opts.Start.
// Files are only created once a stream has records.
func Open(streams []source.Stream, opts Options) (*Sinks, error) {
	if opts.Dir == "" {
		return nil, errors.New("parquet: no directory")
	}
	codec, err := opts.Compression.codec()
	if err != nil {
		return nil, source.ConfigErrorf("%v", err)
	}
	if opts.RowsPerFile <= 0 {
		opts.RowsPerFile = DefaultRowsPerFile
	}
	if opts.RowGroupRows <= 0 {
		opts.RowGroupRows = DefaultRowGroupRows
	}
	if opts.RowGroupBytes <= 0 {
		opts.RowGroupBytes = DefaultRowGroupBytes
	}
	if int64(opts.RowGroupRows) > opts.RowsPerFile {
		opts.RowGroupRows = int(opts.RowsPerFile)
	}
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	s := &Sinks{opts: opts, codec: codec, roots: map[string]*node{}, seqs: map[string]int{}}
	if fi, err := os.Stat(opts.Dir); err == nil && !fi.IsDir() {
		// mkdir's "not a directory" named neither the flag nor the fix.
		return nil, source.ConfigErrorf("--parquet-dir %s is a file, not a directory; give a directory for the Parquet files (one that does not exist yet is created)", opts.Dir)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil { // bank data: the user's only
		return nil, source.ConfigErrorf("cannot create the Parquet directory %s: %v", opts.Dir, err)
	}
	if s.lock, err = lockDir(opts.Dir, opts.Start); err != nil {
		return nil, err
	}
	if err := s.openStreams(streams); err != nil {
		_ = s.lock.release() // openStreams's error is the one to report
		return nil, err
	}
	s.unholdMemory = memlimit.Hold(softLimit)
	return s, nil
}

// openStreams derives each stream's schema, prepares its folder and takes
// the run's stamp.
func (s *Sinks) openStreams(streams []source.Stream) error {
	opts := s.opts
	newest := make([]newestRun, 0, len(streams))
	for _, st := range streams {
		name := st.Name()
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
			return fmt.Errorf("parquet: stream name %q cannot be a directory name", name)
		}
		root, err := deriveRoot(st.Schema())
		if err != nil {
			return fmt.Errorf("parquet: stream %s: mapping its JSON Schema to Parquet: %w", name, err)
		}
		s.roots[name] = root
		dir := filepath.Join(opts.Dir, name)
		// Bank data: folders 0700 and files 0600, readable by the user
		// running the connector only (existing folders keep their mode).
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return source.ConfigErrorf("cannot create the Parquet directory %s: %v", dir, err)
		}
		if err := checkProvider(dir, opts.Provider); err != nil {
			return err
		}
		if err := removeStale(dir, opts.Start); err != nil {
			return fmt.Errorf("parquet: stream %s: %w", name, err)
		}
		if err := probeWritable(name, dir); err != nil {
			return err
		}
		newest = append(newest, scanNewest(dir))
	}
	start, from := runStamp(opts.Start, newest)
	s.runStart, s.stamp = start, start.UTC().Format(stampLayout)
	for i, st := range streams {
		if newest[i].stamp == s.stamp {
			s.seqs[st.Name()] = newest[i].seq
		}
	}
	if from != nil {
		s.behind = func(log *slog.Logger) {
			log.Warn("parquet: the clock is behind the newest file of a stream folder (stepped back, a VM restored from a snapshot, or another machine writing the directory): this run's files are stamped just after it, so that they read as the newest (file names, source_pluggy.run_started_at, latest() and snapshot() of docs/parquet.md)",
				slog.String("folder", from.dir), slog.String("newest_file", from.name),
				slog.String("clock", opts.Start.UTC().Format(time.RFC3339Nano)),
				slog.String("stamp", start.UTC().Format(time.RFC3339Nano)))
		}
	}
	return nil
}

// checkProvider fails when the newest file in a stream folder holds
// another provider's data than the one named: two connectors given one
// --parquet-dir would put their streams of one name (transactions,
// accounts) in one folder, files of two schemas that a query over the
// folder (read_parquet('DIR/transactions/*.parquet'), the newest-row query
// of docs/parquet.md) cannot read as one table. Only the newest file is
// read, its footer alone, so a folder of years of runs costs one small
// read; files written before the provider was recorded name none and pass.
func checkProvider(dir, provider string) error {
	if provider == "" {
		return nil
	}
	newest := ""
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil // probeWritable and the writes say what is wrong with dir
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), "part-") && strings.HasSuffix(e.Name(), ".parquet") {
			newest = max(newest, e.Name()) // part-<run's stamp>-<seq>: names sort by run (runStamp)
		}
	}
	if newest == "" {
		return nil
	}
	f, err := file.OpenParquetFile(filepath.Join(dir, newest), false)
	if err != nil {
		return nil // not a file of this sink's; it judges no folder
	}
	defer f.Close()
	v := f.MetaData().KeyValueMetadata().FindValue(MetaProvider)
	if v == nil || *v == "" || *v == provider {
		return nil
	}
	return source.ConfigErrorf("parquet: %s holds %s data (%s, its newest file, says so), and this read is of %s: one folder cannot hold two providers' files, whose schemas differ; give each connector its own --parquet-dir. Nothing was read",
		dir, *v, newest, provider)
}

// probePattern names probeWritable's file (os.CreateTemp's pattern): a
// run killed between creating and removing it leaves it, for removeStale.
const probePattern = ".probe-*.tmp"

// probeWritable fails, before anything is read, when a stream's folder
// takes no new file: the stream found out at its first file, once it had
// read (and spent a bank's daily calls on) rows it could not keep.
func probeWritable(stream, dir string) error {
	f, err := os.CreateTemp(dir, probePattern)
	if err != nil {
		// A config_error, as a --parquet-dir that cannot be locked is:
		// the directory is the user's to fix.
		var we *WriteError
		if errors.As(plainWriteError(stream, dir, err), &we) {
			we.AtOpen = true
			return &source.Error{Type: protocol.ConfigError, Err: we}
		}
		return source.ConfigErrorf("parquet: stream %s: cannot write to %s: %v; give --parquet-dir a directory this user can write to. Nothing was read", stream, dir, err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// isTemp reports whether name is one of the sink's temporary files: a
// part file's name (partName) hidden, with .tmp after it (Writer.names).
// A user's file of a name near it (.part-notes.parquet.tmp) is none.
func isTemp(name string) bool {
	part, hidden := strings.CutPrefix(name, ".")
	part, tmp := strings.CutSuffix(part, ".tmp")
	return hidden && tmp && partName.MatchString(part)
}

// removeStale deletes the temporaries in dir that crashed runs left: their
// half-written files, unpublished snapshots and probes (probeWritable's,
// empty). A temporary is never a
// visible file, so nothing a reader could see is removed. The caller holds
// the directory's lock (lockDir), which every run writing temporaries
// holds: any last modified before this run's start by the clock is a dead
// run's, whatever its age, so the run right after a killed one removes
// its. One modified after that start (the clock stepped back behind it)
// stays until a run starts after its time (see staletemp.Rule.Before);
// only a regular file of this user's goes, never a link or what it names.
func removeStale(dir string, start time.Time) error {
	match := func(name string) bool { return isTemp(name) || staletemp.Matches(name, probePattern) }
	if err := (staletemp.Rule{Match: match, Before: start, Held: true}).Remove(dir); err != nil {
		return fmt.Errorf("removing stale temporary files: %w", err)
	}
	return nil
}

// OpenStream returns the link of one stream's sink chain in front of next;
// Open must have been given the stream.
func (s *Sinks) OpenStream(info source.StreamInfo, next source.StreamSink) (source.StreamSink, error) {
	w, err := s.Stream(info.Stream, info.Mode)
	if err != nil {
		return nil, err
	}
	w.conv.warn.Log = info.Log
	if info.RunLog != nil {
		s.mu.Lock()
		behind := s.behind
		s.behind = nil // once a run
		s.mu.Unlock()
		if behind != nil {
			behind(info.RunLog) // of the run's stamp, whichever folder set it: no stream's
		}
	}
	if info.Mode == protocol.Incremental && info.State == nil && info.Log != nil {
		if n := committedFiles(w.dir); n > 0 {
			info.Log.Warn(fmt.Sprintf("%s already holds %d file(s) of earlier runs, and this incremental read has no state for the stream: it reads from start_date and writes every row again beside them (the newest-row query of docs/parquet.md keeps one of each). To read only what is new, give the read the last run's state (--state-file, or --state)",
				w.dir, n))
		}
	}
	return newLink(w, info, next), nil
}

// committedFiles counts the Parquet files of earlier runs in dir (0 when
// it cannot be read: Open has checked it).
func committedFiles(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), "part-") && strings.HasSuffix(e.Name(), ".parquet") {
			n++
		}
	}
	return n
}

// Stream is OpenStream returning the concrete type.
func (s *Sinks) Stream(st source.Stream, mode protocol.SyncMode) (*Writer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := st.Name()
	root, ok := s.roots[name]
	if !ok {
		return nil, fmt.Errorf("parquet: stream %s was not opened", name)
	}
	delete(s.roots, name) // a node tree is converted along by one writer
	sc, err := root.parquetSchema()
	if err != nil {
		return nil, fmt.Errorf("parquet: stream %s: %w", name, err)
	}
	w := &Writer{
		sinks:  s,
		stream: name,
		dir:    filepath.Join(s.opts.Dir, name),
		schema: schema.NewSchema(sc),
		meta: [][2]string{
			{MetaStream, name},
			{MetaSyncMode, string(mode)},
			{MetaVersion, s.opts.Version},
			{MetaProvider, s.opts.Provider},
			{MetaRunStart, s.runStart.UTC().Format(time.RFC3339Nano)},
			{MetaJSONSchema, string(st.Schema())},
		},
		props:       pq.NewWriterProperties(writerProps(s, st, root)...),
		fullRefresh: mode == protocol.FullRefresh,
		seq:         s.seqs[name], // the run's names sort after the folder's
	}
	w.conv.root = root
	w.conv.warn = &columns.Warner{}
	for i := range w.batches {
		// the stream's leaves, then _leftovers and _changes
		cols := append(root.leaves(), newColumn(pBytes, 1, 0), newColumn(pBytes, 1, 0))
		for j := range cols {
			if cols[j].phys == pBytes && cols[j].maxRep == 0 && w.props.DictionaryEnabledFor(w.schema.Column(j).ColumnPath().String()) {
				cols[j].dict = newDictionary()
			}
		}
		w.batches[i] = cols
	}
	w.conv.cols = w.batches[0]
	s.writers = append(s.writers, w)
	return w, nil
}

// zstdLevel is the zstd level of --parquet-compression zstd: 1, zstd's
// fastest. On a million Pluggy transactions its files were 0.4% larger
// than with arrow-go's default level 3 (whose deeper match search finds
// little more in pages of values already dictionary- and RLE-encoded), for
// about 15% less of the sink's CPU.
const zstdLevel = 1

// writerProps are a stream's Parquet writer properties: the codec, and a
// dictionary only for the columns whose values repeat.
//
// A dictionary pays off for strings of few distinct values (categories,
// types, currency codes, account ids): each value is stored once per row
// group and the rows hold small indices. Columns of mostly distinct values
// get none: primary keys, timestamps (to the second or finer), numbers
// (amounts, balances), JSON text and the _leftovers and _changes columns.
// For them a dictionary is hashed value by value only to be abandoned or to
// store every value once plus an index; measured on a million Pluggy
// transactions, leaving it off them made the files 6% smaller and the sink
// 7% cheaper in CPU than a dictionary on every column. Strings too can be
// mostly distinct (reference numbers, document numbers): such a column
// drops its dictionary for the rest of the file after one row group (see
// column.mostlyDistinct).
func writerProps(s *Sinks, st source.Stream, root *node) []pq.WriterProperty {
	props := []pq.WriterProperty{
		pq.WithCompression(s.codec),
	}
	if s.codec == compress.Codecs.Zstd {
		props = append(props, pq.WithCompressionLevel(zstdLevel))
	}
	for _, path := range plainColumns(root) {
		props = append(props, pq.WithDictionaryFor(path, false))
	}
	for _, key := range st.PrimaryKey() {
		if len(key) == 1 {
			if i, ok := root.byName[key[0]]; ok && root.children[i].kind == kString {
				props = append(props, pq.WithDictionaryFor(key[0], false))
			}
		}
	}
	return props
}

// plainColumns returns the Parquet column paths (dotted, as Parquet names a
// leaf: struct.field, list.list.element.field) of the columns written
// without a dictionary, by kind: see writerProps.
func plainColumns(root *node) []string {
	paths := []string{columns.Leftovers, columns.Changes}
	var walk func(n *node, prefix string)
	walk = func(n *node, prefix string) {
		for _, c := range n.children {
			path := prefix + c.name
			switch c.kind {
			case kTimestamp, kDecimal, kInt, kJSON:
				paths = append(paths, path)
			case kLenient:
				paths = append(paths, path+ParsedSuffix)
			case kStruct:
				walk(c, path+".")
			case kList:
				walk(c.elem, path+".list.element.")
			}
		}
	}
	walk(root, "")
	return paths
}

// Close commits every stream's open file and releases the columns. The
// error joins every stream's.
func (s *Sinks) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, w := range s.writers {
		errs = append(errs, w.close())
	}
	s.writers = nil
	errs = append(errs, s.lock.release())
	if s.unholdMemory != nil {
		s.unholdMemory()
	}
	return errors.Join(errs...)
}

// Writer is one stream's sink: it buffers a row group in its leaf columns,
// streams row groups into a hidden temporary file and publishes the file
// under its final name once the footer is on disk. It is not safe for
// concurrent use: the runtime calls it under the stream's output lock.
type Writer struct {
	sinks  *Sinks
	stream string
	dir    string
	schema *schema.Schema
	meta   [][2]string
	props  *pq.WriterProperties
	conv   converter
	seq    int
	// fullRefresh: each run's files are the stream's whole snapshot, so a
	// run that reads no row still commits a file (with none): see
	// EndSnapshot.
	fullRefresh bool
	// batches are the two row groups' columns: one filling (conv.cols),
	// the other being encoded.
	batches [2][]column
	filling int

	// The file being written; fw is nil between files.
	file      *os.File
	buf       *bufio.Writer
	fw        *fileWriter
	tmp       string
	fileRows  int64
	batchRows int
	// sinceSized counts the rows and JSON bytes appended since the batch's
	// size was last measured against RowGroupBytes.
	sinceSizedRows, sinceSizedBytes int

	// encoding is set while a row group is encoded and written by its own
	// goroutine, which sends its outcome on encoded. Only that goroutine
	// touches fw and buf meanwhile.
	encoding bool
	encoded  chan error
	scratch  scratch // the encoding goroutine's

	err       error // sticky: after a failure every call returns it
	committed []string
	// staged are a full-refresh stream's files finished this run (footer
	// written, file synced) and still under their hidden temporary names.
	// The newest run's files of such a stream are its snapshot, so they
	// are published together once the stream is read to its end
	// (PublishSnapshot), and removed if it is not: a read that fails
	// half-way must not leave half a snapshot as the newest.
	staged []stagedFile
}

// stagedFile is a finished file of a snapshot, not yet published: its
// temporary name and its sequence number.
type stagedFile struct {
	tmp string
	seq int
}

// Files returns the paths of the files committed so far.
func (w *Writer) Files() []string { return w.committed }

// Write appends one record. committed is true when the record completed a
// file, which is now durable under its final name with every earlier record.
//
// A value its typed column cannot hold exactly (one that would need
// rounding, a timestamp that is not RFC 3339, an object where the schema
// says array) does not fail the write: the column is null in that row, the
// value is kept verbatim in _leftovers and the change noted in _changes
// (see package columns). Only a record that is not a JSON object fails it;
// the sink then stops: the file in progress is deleted, and its records
// are read again next run, because the state that covers them was never
// emitted.
func (w *Writer) Write(data []byte) (committed bool, err error) {
	return w.WriteRow(jsonrow.Of(data))
}

// WriteRow is Write of a row: its added fields go to their columns as if
// they were members of its object, without the row being copied.
func (w *Writer) WriteRow(row jsonrow.Row) (committed bool, err error) {
	if w.err != nil {
		return false, w.err
	}
	if w.fw == nil {
		if err := w.openFile(); err != nil {
			return false, w.fail(fmt.Errorf("parquet: stream %s: %w", w.stream, err))
		}
	}
	if err := w.conv.record(row); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			fe.Stream = w.stream
		} else {
			err = fmt.Errorf("parquet: stream %s: record is not a JSON object the sink can read: %w", w.stream, err)
		}
		return false, w.fail(err)
	}
	w.batchRows++
	w.fileRows++
	if w.batchFull(len(row.Raw)) {
		if err := w.flushBatch(); err != nil {
			return false, w.fail(err)
		}
	}
	if w.fileRows >= w.sinks.opts.RowsPerFile {
		if err := w.commitFile(); err != nil {
			return false, w.fail(err)
		}
		return !w.fullRefresh, nil // a snapshot's file is only staged
	}
	return false, nil
}

// commitsWith reports whether the next row written completes the file in
// progress, so that WriteRow commits it.
func (w *Writer) commitsWith() bool { return w.fileRows+1 >= w.sinks.opts.RowsPerFile }

// Commit publishes the file in progress, if it has rows; a full-refresh
// stream's is staged for PublishSnapshot instead.
func (w *Writer) Commit() error {
	if w.err != nil {
		return w.err
	}
	if w.fw == nil {
		return nil
	}
	if err := w.commitFile(); err != nil {
		return w.fail(err)
	}
	return nil
}

// EndSnapshot commits a file with no rows for a full-refresh stream that
// read to its end without a row and committed no file this run: the
// newest run's files of such a stream are its snapshot, and an empty
// snapshot (the last pending row booked) must replace the previous one
// rather than leave its rows looking current.
func (w *Writer) EndSnapshot() error {
	if w.err != nil || !w.fullRefresh || w.fw != nil || len(w.committed)+len(w.staged) > 0 {
		return w.err
	}
	if err := w.openFile(); err != nil {
		return w.fail(fmt.Errorf("parquet: stream %s: %w", w.stream, err))
	}
	if err := w.commitFile(); err != nil {
		return w.fail(err)
	}
	return nil
}

// PublishSnapshot gives a full-refresh stream's staged files their final
// names, then syncs the directory: the stream was read to its end, so they
// are its whole snapshot. Commit the file in progress first. Where one
// cannot be linked (a full disk, an I/O error), those linked before it are
// removed again (unpublish), so that the previous snapshot stays the
// newest, whole: published, they read as the newest run's whole snapshot,
// lacking the rows of the files after them (a partial snapshot's carried
// rows are in its last files). A crash while it links a snapshot of
// several files (over RowsPerFile rows) can leave some of them published.
func (w *Writer) PublishSnapshot() error {
	if w.err != nil || len(w.staged) == 0 {
		return w.err
	}
	var published []string
	for len(w.staged) > 0 {
		f := w.staged[0]
		final, err := w.publish(f.tmp, f.seq)
		if err != nil {
			err = fmt.Errorf("parquet: stream %s: publishing %s: %w", w.stream, f.tmp, err)
			return w.fail(errors.Join(err, w.unpublish(published)))
		}
		w.staged = w.staged[1:]
		published = append(published, final)
	}
	w.committed = append(w.committed, published...)
	if err := syncDir(w.dir); err != nil {
		return w.fail(fmt.Errorf("parquet: stream %s: syncing the directory %s: %w", w.stream, w.dir, err))
	}
	return nil
}

// unpublish removes the files of a snapshot that PublishSnapshot could not
// publish whole, and syncs the directory. Those it cannot remove stay
// published (and committed), which its error says.
func (w *Writer) unpublish(files []string) error {
	var errs []error
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			w.committed = append(w.committed, f)
			errs = append(errs, fmt.Errorf("so the snapshot is half published: removing %s: %w", f, err))
		}
	}
	if len(files) > 0 {
		if err := syncDir(w.dir); err != nil {
			errs = append(errs, fmt.Errorf("syncing the directory %s after removing the files published: %w", w.dir, err))
		}
	}
	return errors.Join(errs...)
}

// DiscardSnapshot removes a full-refresh stream's file in progress and its
// staged files, and ends the writer: its read failed, and the previous
// run's snapshot stays the newest (as the PostgreSQL sink keeps its
// previous set). Nothing is lost: the next run reads the whole stream
// again.
func (w *Writer) DiscardSnapshot() {
	if !w.fullRefresh {
		return
	}
	_ = w.wait()
	if w.file != nil {
		w.file.Close()
		os.Remove(w.tmp)
	}
	w.file, w.buf, w.fw, w.tmp = nil, nil, nil, ""
	w.removeStaged()
	if w.err == nil {
		w.err = fmt.Errorf("parquet: stream %s: the snapshot was discarded", w.stream)
	}
}

// removeStaged removes the staged files, which no one reads.
func (w *Writer) removeStaged() {
	for _, f := range w.staged {
		os.Remove(f.tmp)
	}
	w.staged = nil
}

func (w *Writer) close() error {
	var err error
	if w.fullRefresh {
		// A snapshot not published by now was not read to its end.
		w.DiscardSnapshot()
	} else if w.err == nil { // a failed writer's error went out with its stream
		err = w.Commit()
	}
	w.batches = [2][]column{}
	w.conv.cols = nil
	w.scratch = scratch{}
	if w.err == nil {
		w.err = fmt.Errorf("parquet: stream %s: the sinks are closed", w.stream)
	}
	return err
}

// fail makes err sticky and deletes the file in progress.
func (w *Writer) fail(err error) error {
	err = plainWriteError(w.stream, w.dir, err)
	w.err = err
	_ = w.wait() // the row group being written uses the file; err is the one to report
	if w.file != nil {
		w.file.Close()
		os.Remove(w.tmp)
	}
	w.removeStaged()
	w.file, w.buf, w.fw = nil, nil, nil
	w.batches = [2][]column{}
	w.conv.cols = nil
	w.scratch = scratch{}
	return err
}

// names returns the final and temporary names of file number seq.
func (w *Writer) names(seq int) (final, tmp string) {
	name := "part-" + w.sinks.stamp + "-" + seqText(seq) + ".parquet"
	return filepath.Join(w.dir, name), filepath.Join(w.dir, "."+name+".tmp")
}

// openFile creates the next hidden temporary file and starts a Parquet
// writer on it. Sequence numbers already taken, by this run or by another
// stamped in the same second, are skipped.
func (w *Writer) openFile() error {
	for {
		w.seq++
		final, tmp := w.names(w.seq)
		if _, err := os.Lstat(final); err == nil {
			continue
		}
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // bank data: the user's only
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		w.file, w.tmp = f, tmp
		break
	}
	// The writer gets a bufio.Writer, not the *os.File: it closes a sink
	// that is an io.Closer, and the file must be synced first.
	w.buf = bufio.NewWriterSize(w.file, 1<<20)
	fw, err := newFileWriter(w.buf, w.schema, w.props, w.meta)
	if err != nil {
		return err
	}
	w.fw = fw
	w.fileRows, w.batchRows = 0, 0
	// Each file tries every dictionary again: a column's values may
	// repeat more in other accounts' rows. No row group is in flight
	// (commitFile waited), so both batches are empty.
	for _, cols := range w.batches {
		for i := range cols {
			cols[i].restoreDict()
		}
	}
	return nil
}

// Row groups are measured against RowGroupBytes every sizeEveryRows rows,
// or sooner once the rows appended since the last measure carried
// 1/sizeEveryFraction of the budget in JSON text (a few very wide rows).
const (
	sizeEveryRows     = 256
	sizeEveryFraction = 16
)

// batchFull reports whether the batch, which just took a row of rawLen
// bytes of JSON, is a full row group: RowGroupRows rows, or RowGroupBytes
// bytes in its columns.
func (w *Writer) batchFull(rawLen int) bool {
	opts := &w.sinks.opts
	if w.batchRows >= opts.RowGroupRows {
		return true
	}
	w.sinceSizedRows++
	w.sinceSizedBytes += rawLen
	if w.sinceSizedRows < sizeEveryRows && w.sinceSizedBytes < opts.RowGroupBytes/sizeEveryFraction {
		return false
	}
	w.sinceSizedRows, w.sinceSizedBytes = 0, 0
	return w.conv.size() >= opts.RowGroupBytes
}

// flushBatch hands the buffered rows to a goroutine that encodes,
// compresses and writes them as one row group, while the caller goes on
// filling the next batch: the read's goroutine converts, the second core
// encodes. The hand-off is bounded: a batch waits for the previous row
// group to be written before it is handed off, so at most two batches are
// in memory (one encoding, one filling) however fast records come.
func (w *Writer) flushBatch() error {
	w.conv.flushNulls()
	cols, rows := w.conv.cols, w.batchRows
	w.batchRows, w.sinceSizedRows, w.sinceSizedBytes = 0, 0, 0
	if err := w.wait(); err != nil {
		return err
	}
	// The previous row group is written: its columns take the next rows,
	// without a dictionary where this one's values were mostly distinct.
	w.filling ^= 1
	w.conv.cols = w.batches[w.filling]
	for i := range cols {
		// cols[i].dropped: this batch was plain already (the file's
		// columns stay plain once one row group made them so).
		if (cols[i].mostlyDistinct() || cols[i].dropped != nil) && w.conv.cols[i].dict != nil {
			w.conv.cols[i].dropDict()
		}
	}
	if w.encoded == nil {
		w.encoded = make(chan error, 1)
	}
	w.encoding = true
	go func(fw *fileWriter) { w.encoded <- writeRowGroup(fw, cols, rows, &w.scratch) }(w.fw)
	return nil
}

// writeRowGroup encodes, compresses and writes cols, which hold rows rows,
// as fw's next row group, then empties them for reuse.
func writeRowGroup(fw *fileWriter, cols []column, rows int, sc *scratch) error {
	defer func() {
		for i := range cols {
			cols[i].reset()
		}
	}()
	return fw.writeRowGroup(cols, rows, sc)
}

// wait waits for the row group being written, if any, and returns its
// error.
func (w *Writer) wait() error {
	if !w.encoding {
		return nil
	}
	w.encoding = false
	if err := <-w.encoded; err != nil {
		return fmt.Errorf("parquet: stream %s: writing a row group: %w", w.stream, err)
	}
	return nil
}

// commitFile writes the footer, syncs the file, and links it under its
// final name (never replacing a file), then syncs the directory. Only then
// is it visible and counted as committed.
func (w *Writer) commitFile() error {
	if w.batchRows > 0 {
		if err := w.flushBatch(); err != nil {
			return err
		}
	}
	if err := w.wait(); err != nil {
		return err
	}
	wrap := func(what string, err error) error {
		return fmt.Errorf("parquet: stream %s: %s %s: %w", w.stream, what, w.tmp, err)
	}
	if err := w.fw.close(); err != nil {
		return wrap("writing the footer of", err)
	}
	if err := w.buf.Flush(); err != nil {
		return wrap("writing", err)
	}
	if err := w.file.Sync(); err != nil {
		return wrap("syncing", err)
	}
	if err := w.file.Close(); err != nil {
		return wrap("closing", err)
	}
	w.file = nil
	if w.fullRefresh {
		w.staged = append(w.staged, stagedFile{tmp: w.tmp, seq: w.seq})
		w.fw, w.buf, w.tmp = nil, nil, ""
		w.fileRows = 0
		return nil
	}
	final, err := w.publish(w.tmp, w.seq)
	if err != nil {
		return wrap("publishing", err)
	}
	if err := syncDir(w.dir); err != nil {
		return wrap("syncing the directory of", err)
	}
	w.committed = append(w.committed, final)
	w.fw, w.buf, w.tmp = nil, nil, ""
	w.fileRows = 0
	return nil
}

// publish gives the synced temporary its final name. A hard link fails
// rather than replace a file that appeared meanwhile (then the next sequence
// number is tried); on file systems without hard links it falls back to a
// rename after checking the name is free.
func (w *Writer) publish(tmp string, seq int) (string, error) {
	for ; ; seq++ {
		// The run's later files take numbers after this one's.
		w.seq = max(w.seq, seq)
		final, _ := w.names(seq)
		err := os.Link(tmp, final)
		if err == nil {
			if err := os.Remove(tmp); err != nil {
				return "", err
			}
			return final, nil
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if _, serr := os.Lstat(final); serr == nil {
			continue
		}
		if rerr := os.Rename(tmp, final); rerr != nil {
			return "", rerr
		}
		return final, nil
	}
}

// syncDir makes a directory entry change durable. File systems that cannot
// sync a directory (EINVAL) are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) {
		err = nil
	}
	return errors.Join(err, d.Close())
}

// WriteError is a failure of the file system under the sink, named plainly:
// a full disk reads "the disk is full", not the Parquet library's
// "unknown error type: … no space left on device".
type WriteError struct {
	Stream, Dir string
	Cause       string // what happened, in words
	Fix         string
	Err         error // the error as the sink met it
	// AtOpen says the sink met it opening, before anything was read
	// (probeWritable).
	AtOpen bool
}

func (e *WriteError) Error() string {
	detail := ""
	var pe *fs.PathError
	var errno syscall.Errno
	switch {
	case errors.As(e.Err, &pe):
		detail = fmt.Sprintf(" (%s %s: %v)", pe.Op, pe.Path, pe.Err)
	case errors.As(e.Err, &errno):
		detail = fmt.Sprintf(" (%v)", errno)
	}
	outcome := "Nothing is lost: records in no committed file are read again next run"
	if e.AtOpen {
		outcome = "Nothing was read"
	}
	return fmt.Sprintf("parquet: stream %s: cannot write to %s: %s%s; %s. %s",
		e.Stream, e.Dir, e.Cause, detail, e.Fix, outcome)
}

func (e *WriteError) Unwrap() error { return e.Err }

// plainWriteError returns err as a *WriteError when its cause is a known
// condition of the file system, else err.
func plainWriteError(stream, dir string, err error) error {
	var we *WriteError
	if errors.As(err, &we) {
		return err
	}
	e := &WriteError{Stream: stream, Dir: dir, Err: err}
	switch {
	case errors.Is(err, syscall.ENOSPC):
		e.Cause, e.Fix = "the disk is full (no space left on device)", "free space on it, or give --parquet-dir a directory on another disk"
	case errors.Is(err, syscall.EDQUOT):
		e.Cause, e.Fix = "the disk quota is used up", "raise the quota or free space, or give --parquet-dir another directory"
	case errors.Is(err, syscall.EROFS):
		e.Cause, e.Fix = "the file system is read-only", "give --parquet-dir a writable directory"
	case errors.Is(err, fs.ErrPermission):
		e.Cause, e.Fix = "permission denied", "let this user write to the directory, or give --parquet-dir another one"
	case errors.Is(err, syscall.EIO):
		e.Cause, e.Fix = "an input/output error of the disk", "check the disk"
	case errors.Is(err, syscall.EFBIG):
		e.Cause, e.Fix = "the file is larger than the system allows", "lower SOURCE_PLUGGY_PARQUET_ROWS_PER_FILE or raise the file size limit"
	default:
		return err
	}
	return e
}
