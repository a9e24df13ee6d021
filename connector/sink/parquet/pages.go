package parquet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/klauspost/compress/huff0"
)

// fileWriter writes one Parquet file from the converter's columns. The
// pages are encoded here, straight from the column data: levels from the
// runs the converter counted, values as they lie, a dictionary column's
// numbers from its dictionary. arrow-go does the rest, which is the
// format's bookkeeping: compression and page headers (file.PageWriter), the
// column chunk, row group and file metadata (package metadata) and the
// statistics' comparisons (metadata.TypedStatistics; decimals' are done
// here).
//
// arrow-go's column writers took each level and value one by one again,
// into encoders whose buffers it allocated per page: on a million Pluggy
// transactions that was half of the encoding goroutine's CPU (0.8 of 1.4
// s, zstd being most of the rest) and 630 MB of allocations.
//
// The files are those arrow-go's writer makes from the same properties
// (data pages v1, PLAIN values or RLE_DICTIONARY numbers, RLE levels), with
// two differences: a column chunk of several data pages (values of more
// than DataPageSize bytes) carries its statistics in its metadata only, not
// in each page's header as well; and a chunk whose dictionary outgrows its
// page is written plain as a whole, where arrow-go switches to plain
// values in the middle of it.
type fileWriter struct {
	out    *countingWriter
	schema *schema.Schema
	props  *pq.WriterProperties
	meta   *metadata.FileMetaDataBuilder
	pager  file.PageWriter
	// stats are each leaf column's chunk statistics, reset chunk after
	// chunk; nil where the column keeps none.
	stats []metadata.TypedStatistics
	// dictFor is whether each leaf column writes its values as numbers
	// into a dictionary (the properties' choice; see writerProps).
	dictFor []bool
	// zstd is each leaf column's choice of how zstd compresses its pages
	// (see compressPage).
	zstd []zstdChoice
	// probeMin is the smallest page whose compression is chosen: zstdProbeMin
	// but in tests.
	probeMin  int
	rowGroups int16
}

// countingWriter is the file as the page writer wants it: it tells how many
// bytes were written, and keeps the first error, which arrow-go's page
// header serializer reports only in words.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *countingWriter) Tell() int64 { return c.n }

var magic = []byte("PAR1")

// newFileWriter starts a Parquet file of schema sc on w, with the key-value
// metadata kv in its footer.
func newFileWriter(w io.Writer, sc *schema.Schema, props *pq.WriterProperties, kv [][2]string) (*fileWriter, error) {
	kvmeta := metadata.NewKeyValueMetadata()
	for _, p := range kv {
		if err := kvmeta.Append(p[0], p[1]); err != nil {
			return nil, err
		}
	}
	fw := &fileWriter{
		out:      &countingWriter{w: w},
		schema:   sc,
		props:    props,
		meta:     metadata.NewFileMetadataBuilder(sc, props, kvmeta),
		stats:    make([]metadata.TypedStatistics, sc.NumColumns()),
		dictFor:  make([]bool, sc.NumColumns()),
		zstd:     make([]zstdChoice, sc.NumColumns()),
		probeMin: zstdProbeMin,
	}
	for i := range fw.stats {
		descr := sc.Column(i)
		fw.zstd[i].on = props.CompressionFor(descr.Path()) == compress.Codecs.Zstd
		// arrow-go never gives booleans a dictionary.
		fw.dictFor[i] = props.DictionaryEnabledFor(descr.Path()) && descr.PhysicalType() != pq.Types.Boolean
		if props.StatisticsEnabledFor(descr.Path()) && descr.SortOrder() != schema.SortUNKNOWN {
			fw.stats[i] = metadata.NewStatistics(descr, memory.DefaultAllocator)
		}
	}
	if _, err := fw.out.Write(magic); err != nil {
		return nil, err
	}
	return fw, nil
}

// writeRowGroup writes cols, which hold rows rows, as the file's next row
// group.
func (fw *fileWriter) writeRowGroup(cols []column, rows int, sc *scratch) error {
	if len(cols) != fw.schema.NumColumns() {
		return fmt.Errorf("%d columns for a schema of %d", len(cols), fw.schema.NumColumns())
	}
	rg := fw.meta.AppendRowGroup()
	for i := range cols {
		cc := rg.NextColumnChunk()
		if err := fw.writeChunk(&cols[i], cc, i, sc); err != nil {
			return fmt.Errorf("column %s: %w", cc.Descr().Path(), fw.cause(err))
		}
	}
	rg.SetNumRows(rows)
	if err := rg.Finish(0, fw.rowGroups); err != nil {
		return err
	}
	fw.rowGroups++
	return fw.out.err
}

// cause is err, or the file's write error where there was one: the page
// writer loses it in the page header's serializer.
func (fw *fileWriter) cause(err error) error {
	if fw.out.err != nil && !errors.Is(err, fw.out.err) {
		return fw.out.err
	}
	return err
}

// close writes the footer: the file metadata, its length and the magic.
func (fw *fileWriter) close() error {
	fmd, err := fw.meta.Finish()
	if err != nil {
		return err
	}
	n, err := fmd.WriteTo(fw.out, nil)
	if err != nil {
		return fw.cause(err)
	}
	if err := binary.Write(fw.out, binary.LittleEndian, uint32(n)); err != nil {
		return err
	}
	_, err = fw.out.Write(magic)
	return err
}

// writeChunk writes column i of the row group as the chunk cc: its
// dictionary page if it keeps a dictionary, then its data pages, then the
// chunk's metadata.
func (fw *fileWriter) writeChunk(c *column, cc *metadata.ColumnChunkMetaDataBuilder, i int, sc *scratch) error {
	descr := cc.Descr()
	path := descr.Path()
	codec, level := fw.props.CompressionFor(path), fw.props.CompressionLevelFor(path)
	if fw.pager == nil {
		pager, err := file.NewPageWriter(fw.out, codec, level, cc, fw.rowGroups, int16(i), memory.DefaultAllocator, false, nil, nil)
		if err != nil {
			return err
		}
		fw.pager = pager
	} else if err := fw.pager.Reset(fw.out, codec, level, cc, fw.rowGroups, int16(i), nil, nil); err != nil {
		return err
	}

	ch := chunk{col: c, entries: c.entries(), sc: sc}
	ch.setValues(fw.dictFor[i], func(dictBytes, distinct, values, plainBytes int) bool {
		return fw.keepsDict(path, dictBytes, distinct, values, plainBytes)
	})
	defer func() { clear(sc.ba) }() // no pointers into a row group kept past it

	var stats metadata.EncodedStatistics
	if st := fw.stats[i]; st != nil {
		var err error
		if stats, err = ch.statistics(st); err != nil {
			return err
		}
		stats.ApplyStatSizeLimits(int(fw.props.MaxStatsSizeFor(path)))
		stats.Signed = descr.SortOrder() == schema.SortSIGNED
		if ch.entries > 0 && stats.IsSet() {
			cc.SetStats(stats)
		}
	}

	if ch.dict {
		sc.page = ch.dictionaryPage(sc.page[:0])
		page := file.NewDictionaryPage(memory.NewBufferBytes(sc.page), int32(ch.distinct()), fw.props.DictionaryPageEncoding())
		_, err := fw.pager.WriteDictionaryPage(page)
		page.Release()
		if err != nil {
			return err
		}
	}

	encoding := pq.Encodings.Plain
	if ch.dict {
		encoding = fw.props.DictionaryIndexEncoding()
	}
	pages := ch.pages(int(fw.props.DataPageSize()))
	if pages > 1 {
		stats = metadata.EncodedStatistics{} // the chunk's are not the pages'
	}
	for p, a, va := 0, 0, 0; p == 0 || a < ch.entries; p++ {
		b := ch.pageEnd(a, p, pages)
		vb := va + ch.valuesIn(a, b)
		sc.page = ch.encode(sc.page[:0], a, b, va, vb)
		data := sc.page
		if fw.pager.HasCompressor() {
			data = fw.compressPage(i, ch.dict, sc)
		}
		page := file.NewDataPageV1WithConfig(memory.NewBufferBytes(data), pq.Encodings.RLE, pq.Encodings.RLE, file.DataPageConfig{
			Num:              int32(b - a),
			Encoding:         encoding,
			UncompressedSize: int32(len(sc.page)),
			Stats:            stats,
			FirstRowIndex:    int64(ch.rowsBefore(a)),
		})
		_, err := fw.pager.WriteDataPage(page)
		page.Release()
		if err != nil {
			return err
		}
		a, va = b, vb
	}
	return fw.pager.Close(ch.dict, false)
}

// compressPage compresses the page in sc, of leaf column i, whose values
// are dictionary numbers if dict. A zstd column's large pages are frames
// of literals only (appendLiteralsFrame) while zstd's match search saves
// them less than a sixteenth: with the search zstd takes three times as
// long as Huffman coding alone, and in columns of random text (ids) the
// search finds almost nothing.
// Which one a column gets is measured on its first large page of each
// file, every zstdProbe-th after it, and whenever its pages change from
// dictionary numbers to values or back: both are made then, and the
// smaller one written.
func (fw *fileWriter) compressPage(i int, dict bool, sc *scratch) []byte {
	sc.compressed.Reset()
	c := &fw.zstd[i]
	if !c.on || len(sc.page) < fw.probeMin {
		return fw.pager.Compress(&sc.compressed, sc.page)
	}
	probe := c.pages%zstdProbe == 0 || dict != c.dict
	c.pages++
	if !probe {
		if c.literals {
			sc.literals = appendLiteralsFrame(sc.literals[:0], sc.page, &sc.huff)
			return sc.literals
		}
		return fw.pager.Compress(&sc.compressed, sc.page)
	}
	matched := fw.pager.Compress(&sc.compressed, sc.page)
	sc.literals = appendLiteralsFrame(sc.literals[:0], sc.page, &sc.huff)
	c.literals = len(sc.literals)-len(sc.literals)/16 <= len(matched)
	c.dict = dict
	if len(sc.literals) < len(matched) {
		return sc.literals
	}
	return matched
}

// A zstd column's choice is measured again every zstdProbe-th page of at
// least zstdProbeMin bytes; smaller pages are all zstd's, which is then
// quick, and too small to tell the two apart.
const (
	zstdProbe    = 16
	zstdProbeMin = 64 << 10
)

// zstdChoice is a zstd column's choice for its pages (see compressPage).
type zstdChoice struct {
	on       bool // the column is compressed with zstd
	literals bool // in frames of literals only
	dict     bool // measured on dictionary numbers
	pages    int  // large pages compressed in this file
}

// keepsDict reports whether a column chunk of values, distinct of them,
// writes them as numbers into their dictionary (dictBytes bytes, encoded
// plain). It does unless the dictionary outgrew its page, or the column is
// stored uncompressed and the dictionary saves no space: the numbers,
// bit-packed, and the dictionary take no fewer bytes than the values
// written plain (plainBytes). These are arrow-go's and parquet-mr's tests
// for keeping a dictionary. Otherwise the values are written plain.
func (fw *fileWriter) keepsDict(path string, dictBytes, distinct, values, plainBytes int) bool {
	props := fw.props
	if distinct == 0 || int64(dictBytes) > props.DictionaryPageSizeLimit() {
		return false
	}
	if !props.DictionaryCostFallbackEnabledFor(path) {
		return true
	}
	width := bits.Len(uint(distinct - 1))
	return dictBytes+(values*width+7)/8 < plainBytes
}

// chunk is one column chunk being encoded: entries levels, values of them
// non-null.
type chunk struct {
	col     *column
	sc      *scratch
	entries int
	values  int
	// dict is set when the values are written as numbers into a
	// dictionary: idx, of width bits, numbers in the column's own
	// dictionary (bytes), or in sc.dict or sc.dict32, built as the
	// chunk is written.
	dict  bool
	bytes *dictionary
	idx   []int32
	width int
}

// setValues lays out the chunk's values to be written: as numbers into a
// dictionary where the column has one and keep approves it, else plain. A
// column with a dictionary enabled (writeDict) but none of its own, a
// string in a list or a date, gets one here; one with its own
// dictionary but of mostly distinct values (column.dropped) does not.
func (ch *chunk) setValues(writeDict bool, keep func(dictBytes, distinct, values, plainBytes int) bool) {
	c, sc := ch.col, ch.sc
	sc.ba = sc.ba[:0]
	switch {
	case c.dict != nil:
		plain := 4 * len(c.idx)
		for _, i := range c.idx {
			plain += int(c.dict.offs[i+1] - c.dict.offs[i])
		}
		if keep(c.dict.dataSize(), c.dict.len(), len(c.idx), plain) {
			ch.useDict(c.dict, c.idx, c.dict.len())
			return
		}
		for _, i := range c.idx {
			sc.ba = append(sc.ba, c.dict.value(i))
		}
		ch.values = len(sc.ba)
	case c.phys == pBytes:
		// A value is never nil, which statistics take for no value:
		// "" is one.
		b, start := c.bytes, 0
		if b == nil {
			b = []byte{}
		}
		for _, end := range c.ends {
			sc.ba = append(sc.ba, b[start:end:end])
			start = end
		}
		ch.values = len(sc.ba)
		if !writeDict || c.dropped != nil {
			return
		}
		d := sc.dict
		if d == nil {
			d = newDictionary()
			sc.dict = d
		}
		d.reset()
		sc.idx = sc.idx[:0]
		for _, v := range sc.ba {
			sc.idx = append(sc.idx, d.intern(v))
		}
		if keep(d.dataSize(), d.len(), len(sc.idx), len(c.bytes)+4*len(c.ends)) {
			ch.useDict(d, sc.idx, d.len())
		}
	case c.phys == pInt32:
		ch.values = len(c.i32)
		if !writeDict {
			return
		}
		if sc.dict32 == nil {
			sc.dict32 = map[int32]int32{}
		}
		clear(sc.dict32)
		sc.i32, sc.idx = sc.i32[:0], sc.idx[:0]
		last, n := int32(0), int32(-1)
		for _, v := range c.i32 {
			if n < 0 || v != last {
				var ok bool
				if n, ok = sc.dict32[v]; !ok {
					n = int32(len(sc.i32))
					sc.i32 = append(sc.i32, v)
					sc.dict32[v] = n
				}
				last = v
			}
			sc.idx = append(sc.idx, n)
		}
		if keep(4*len(sc.i32), len(sc.i32), len(sc.idx), 4*len(c.i32)) {
			ch.useDict(nil, sc.idx, len(sc.i32))
		}
	case c.phys == pFixed16:
		ch.values = len(c.bytes) / 16
	case c.phys == pInt64:
		ch.values = len(c.i64)
	case c.phys == pBool:
		ch.values = len(c.bools)
	}
}

// useDict makes the chunk write its values as idx, numbers into a
// dictionary of distinct values: bytes', or sc.i32.
func (ch *chunk) useDict(bytes *dictionary, idx []int32, distinct int) {
	ch.dict, ch.bytes, ch.idx, ch.values = true, bytes, idx, len(idx)
	ch.width = 1 // as arrow-go writes a dictionary of one value
	if distinct > 1 {
		ch.width = bits.Len32(uint32(distinct - 1))
	}
}

// distinct is the number of values in the chunk's dictionary.
func (ch *chunk) distinct() int {
	if ch.bytes != nil {
		return ch.bytes.len()
	}
	return len(ch.sc.i32)
}

// dictionaryPage appends the chunk's dictionary to dst, encoded plain.
func (ch *chunk) dictionaryPage(dst []byte) []byte {
	if ch.bytes == nil {
		for _, v := range ch.sc.i32 {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		}
		return dst
	}
	for n := range int32(ch.bytes.len()) {
		v := ch.bytes.value(n)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// statistics updates st, reset first, with the chunk's values and returns
// them encoded. A dictionary's statistics are its distinct values', every
// one of which a row of the chunk holds (a value taken back is taken out of
// it).
func (ch *chunk) statistics(st metadata.TypedStatistics) (metadata.EncodedStatistics, error) {
	st.Reset()
	c, sc := ch.col, ch.sc
	nulls := int64(ch.entries - ch.values)
	ok := true
	switch s := st.(type) {
	case *metadata.ByteArrayStatistics:
		// Update, not UpdateFromArrow: that one skips empty strings as
		// if they were nulls (arrow-go v18.8.0), so "" would never be the
		// minimum.
		if !ch.dict || ch.bytes != c.dict { // sc.ba holds the values (setValues)
			s.Update(sc.ba, nulls)
			break
		}
		d := ch.bytes
		for n := range int32(d.len()) {
			sc.ba = append(sc.ba, d.value(n))
		}
		s.Update(sc.ba, nulls)
		s.IncNumValues(int64(ch.values - d.len()))
		clear(sc.ba)
		sc.ba = sc.ba[:0]
	case *metadata.Int64Statistics:
		s.Update(c.i64, nulls)
	case *metadata.Int32Statistics:
		s.Update(c.i32, nulls)
	case *metadata.BooleanStatistics:
		s.Update(c.bools, nulls)
	case *metadata.FixedLenByteArrayStatistics:
		// Decimals, compared here as the 128-bit integers they are:
		// arrow-go's Update compares them as signed byte strings of any
		// length, at three times the cost.
		s.IncNulls(nulls)
		s.IncNumValues(int64(ch.values))
		if lo, hi, ok := decimalRange(c.bytes); ok {
			s.SetMinMax(c.bytes[lo:lo+16:lo+16], c.bytes[hi:hi+16:hi+16])
		}
	default:
		ok = false
	}
	if !ok {
		return metadata.EncodedStatistics{}, fmt.Errorf("statistics %T for a column of %d", st, c.phys)
	}
	return st.Encode()
}

// decimalRange returns where the least and the greatest of the 16-byte
// big-endian two's complement integers back to back in b start; ok is false
// when b holds none.
func decimalRange(b []byte) (lo, hi int, ok bool) {
	if len(b) < 16 {
		return 0, 0, false
	}
	less := func(i, j int) bool {
		x, y := int64(binary.BigEndian.Uint64(b[i:])), int64(binary.BigEndian.Uint64(b[j:]))
		return x < y || x == y && binary.BigEndian.Uint64(b[i+8:]) < binary.BigEndian.Uint64(b[j+8:])
	}
	for i := 16; i+16 <= len(b); i += 16 {
		if less(i, lo) {
			lo = i
		}
		if less(hi, i) {
			hi = i
		}
	}
	return lo, hi, true
}

// size is about the bytes of the chunk's pages before compression.
func (ch *chunk) size() int {
	c := ch.col
	levels := ch.entries / 4 // runs of levels take much less
	switch {
	case ch.dict:
		return levels + (ch.values*ch.width+7)/8
	case c.phys == pBytes:
		n := 4 * len(ch.sc.ba)
		for _, v := range ch.sc.ba {
			n += len(v)
		}
		return levels + n
	case c.phys == pFixed16:
		return levels + len(c.bytes)
	case c.phys == pInt64:
		return levels + 8*len(c.i64)
	case c.phys == pInt32:
		return levels + 4*len(c.i32)
	}
	return levels + len(c.bools)/8
}

// pages is how many data pages the chunk takes to keep them about
// pageSize bytes each before compression: one, unless its values are
// large (a row group has at most RowGroupBytes of them, spread over all
// its columns).
func (ch *chunk) pages(pageSize int) int {
	n := (ch.size() + pageSize - 1) / pageSize
	return max(1, min(n, ch.entries))
}

// pageEnd is where page p of pages that starts at entry a ends: the
// entries shared evenly, a page of a repeated column ending where a row
// does (so a long row may leave fewer pages).
func (ch *chunk) pageEnd(a, p, pages int) int {
	if p >= pages-1 {
		return ch.entries
	}
	b := min(ch.entries, max(a+1, ch.entries*(p+1)/pages))
	if ch.col.maxRep > 0 {
		for b < ch.entries && ch.col.rep[b] != 0 {
			b++
		}
	}
	return b
}

// valuesIn counts the non-null values among entries [a, b).
func (ch *chunk) valuesIn(a, b int) int {
	c := ch.col
	if a == 0 && b == ch.entries {
		return ch.values
	}
	n := 0
	stored := len(c.def)
	for _, l := range c.def[min(a, stored):min(b, stored)] {
		if l == c.maxDef {
			n++
		}
	}
	if c.runLevel == c.maxDef {
		n += max(0, b-max(a, stored))
	}
	return n
}

// rowsBefore counts the rows that start before entry a.
func (ch *chunk) rowsBefore(a int) int {
	if ch.col.maxRep == 0 {
		return a
	}
	n := 0
	for _, r := range ch.col.rep[:a] {
		if r == 0 {
			n++
		}
	}
	return n
}

// encode appends a data page (v1) of entries [a, b), values [va, vb), to
// dst: its repetition and definition levels, each as a length and hybrid
// runs, then its values.
func (ch *chunk) encode(dst []byte, a, b, va, vb int) []byte {
	c, h := ch.col, &ch.sc.hybrid
	if c.maxRep > 0 {
		at := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		h.start(dst, bits.Len16(uint16(c.maxRep)))
		runs(h, c.rep[a:b])
		dst = h.finish()
		binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	if c.maxDef > 0 {
		at := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		h.start(dst, bits.Len16(uint16(c.maxDef)))
		stored := len(c.def)
		runs(h, c.def[min(a, stored):min(b, stored)])
		if n := b - max(a, stored); n > 0 {
			h.run(uint32(c.runLevel), n)
		}
		dst = h.finish()
		binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	switch {
	case ch.dict:
		dst = append(dst, byte(ch.width))
		h.start(dst, ch.width)
		runs(h, ch.idx[va:vb])
		dst = h.finish()
	case c.phys == pBytes:
		for _, v := range ch.sc.ba[va:vb] {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
			dst = append(dst, v...)
		}
	case c.phys == pFixed16:
		dst = append(dst, c.bytes[16*va:16*vb]...)
	case c.phys == pInt64:
		for _, v := range c.i64[va:vb] {
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		}
	case c.phys == pInt32:
		for _, v := range c.i32[va:vb] {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		}
	case c.phys == pBool:
		var acc byte
		for i, v := range c.bools[va:vb] {
			if v {
				acc |= 1 << (i % 8)
			}
			if i%8 == 7 {
				dst = append(dst, acc)
				acc = 0
			}
		}
		if (vb-va)%8 != 0 {
			dst = append(dst, acc)
		}
	}
	return dst
}

// scratch is the encoding goroutine's working memory, which one writer's
// columns, written one after another, share: one set per column held as
// much again as the row group's values (6.6 MB of the 34 MB live heap on
// Pluggy transactions), and the collector ran that much more often under
// the soft memory limit.
type scratch struct {
	ba         []pq.ByteArray // a string column's values
	page       []byte         // the page being encoded
	compressed bytes.Buffer   // and compressed by the codec
	literals   []byte         // or into a frame of zstd literals
	huff       huff0.Scratch  // which Huffman codes
	hybrid     hybrid
	// The dictionary of a column that has none of its own (see
	// chunk.setValues): idx numbers values into dict or into dict32,
	// whose distinct values i32 holds.
	dict   *dictionary
	dict32 map[int32]int32
	i32    []int32
	idx    []int32
}
