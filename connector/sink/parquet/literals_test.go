package parquet

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

// literalsInputs are pages of the shapes a column's values take, and the
// edges of zstd's blocks and frame header fields.
func literalsInputs() map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	hexIDs := func(n int) []byte {
		var b []byte
		for len(b) < n {
			b = binary.LittleEndian.AppendUint32(b, 36)
			b = fmt.Appendf(b, "%08x-%04x-4%03x-a%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
		}
		return b[:n]
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	// Runs of random and skewed bytes, so that some blocks are stored raw
	// between Huffman-coded ones, and a later block reuses the table.
	mixed := append(append(append(hexIDs(maxBlockSize), random(maxBlockSize)...), hexIDs(maxBlockSize)...), bytes.Repeat([]byte{7}, maxBlockSize)...)
	in := map[string][]byte{
		"empty":           {},
		"one byte":        {'x'},
		"16 bytes":        hexIDs(16),
		"17 bytes":        hexIDs(17),
		"255":             hexIDs(255),
		"256":             hexIDs(256),
		"1023":            hexIDs(1023),
		"1024":            hexIDs(1024),
		"16383":           hexIDs(16383),
		"16384":           hexIDs(16384),
		"a block":         hexIDs(maxBlockSize),
		"a block and one": hexIDs(maxBlockSize + 1),
		"65791":           hexIDs(1<<16 + 255),
		"65792":           hexIDs(1<<16 + 256),
		"a window":        hexIDs(zstdWindow),
		"past the window": hexIDs(zstdWindow + 1),
		"3 MiB of ids":    hexIDs(3 << 20),
		"random":          random(300_000),
		"one value":       bytes.Repeat([]byte{0}, 200_000),
		"mixed":           mixed,
	}
	return in
}

// TestLiteralsFrame decodes appendLiteralsFrame's frames with zstd's Go
// decoder and, where the zstd command is installed, with the reference
// library, and checks which blocks they hold.
func TestLiteralsFrame(t *testing.T) {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	cli, err := exec.LookPath("zstd")
	if err != nil {
		t.Log("skipping the zstd command's decoding: it is not installed")
	}
	var h huff0.Scratch
	seen := map[string]int{}
	for name, src := range literalsInputs() {
		frame := appendLiteralsFrame([]byte("prefix"), src, &h)
		if !bytes.HasPrefix(frame, []byte("prefix")) {
			t.Fatalf("%s: the frame is not appended", name)
		}
		frame = frame[len("prefix"):]
		got, err := dec.DecodeAll(frame, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, src) {
			t.Fatalf("%s: decoded %d bytes, not the %d encoded", name, len(got), len(src))
		}
		for k, v := range frameBlocks(t, frame) {
			seen[k] += v
		}
		if cli != "" {
			cmd := exec.Command(cli, "-d", "-q", "-c")
			cmd.Stdin = bytes.NewReader(frame)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: zstd -d: %v", name, err)
			}
			if !bytes.Equal(out, src) {
				t.Fatalf("%s: zstd -d decoded %d bytes, not the %d encoded", name, len(out), len(src))
			}
		}
	}
	for _, k := range []string{"raw", "rle", "huffman", "huffman, one stream", "single segment", "window"} {
		if seen[k] == 0 {
			t.Errorf("no %s block or frame among the inputs: %v", k, seen)
		}
	}
	// Ids: Huffman coding takes them to about 4.2 bits a byte.
	ids := literalsInputs()["3 MiB of ids"]
	if n := len(appendLiteralsFrame(nil, ids, &h)); n > len(ids)*56/100 {
		t.Errorf("3 MiB of ids made %d bytes, over 56%%", n)
	}
}

// frameBlocks walks a frame's header and blocks and counts what it finds.
func frameBlocks(t *testing.T, f []byte) map[string]int {
	t.Helper()
	seen := map[string]int{}
	if binary.LittleEndian.Uint32(f) != 0xFD2FB528 {
		t.Fatal("no zstd magic")
	}
	fhd := f[4]
	i := 5
	if fhd&(1<<5) != 0 {
		seen["single segment"]++
	} else {
		seen["window"]++
		i++
	}
	i += []int{0: 0, 1: 2, 2: 4, 3: 8}[fhd>>6]
	if fhd>>6 == 0 && fhd&(1<<5) != 0 {
		i++
	}
	for {
		h := uint32(f[i]) | uint32(f[i+1])<<8 | uint32(f[i+2])<<16
		i += 3
		size := int(h >> 3)
		switch h >> 1 & 3 {
		case blockRaw:
			seen["raw"]++
		case blockRLE:
			seen["rle"]++
			size = 1
		case blockCompressed:
			if f[i]&3 != literalsCompressed {
				t.Fatalf("literals of type %d", f[i]&3)
			}
			seen["huffman"]++
			if f[i]>>2&3 == 0 {
				seen["huffman, one stream"]++
			}
			if f[i+size-1] != 0 {
				t.Fatalf("a block with sequences")
			}
		default:
			t.Fatalf("reserved block type")
		}
		i += size
		if h&1 != 0 {
			break
		}
	}
	if i != len(f) {
		t.Fatalf("%d bytes after the last block", len(f)-i)
	}
	return seen
}

func FuzzLiteralsFrame(f *testing.F) {
	for _, src := range literalsInputs() {
		if len(src) < 1<<18 {
			f.Add(src)
		}
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		f.Fatal(err)
	}
	var h huff0.Scratch
	f.Fuzz(func(t *testing.T, src []byte) {
		frame := appendLiteralsFrame(nil, src, &h)
		got, err := dec.DecodeAll(frame, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, src) {
			t.Fatalf("decoded %d bytes, not the %d encoded", len(got), len(src))
		}
		frameBlocks(t, frame)
	})
}

// TestCompressPageChoosesPerColumn writes a column of random ids and one of
// repeated text: the ids' pages are zstd literals, little over half their
// size, and the text's are zstd's, which its matches make several times
// smaller. Both read back, with arrow-go, and with DuckDB (whose zstd is the
// reference library) where DUCKDB_NODE_MODULES is set, and arrow-rs and
// polars (Rust's zstd crate, over the reference library) where
// PARQUET_RS_NODE_MODULES is.
func TestCompressPageChoosesPerColumn(t *testing.T) {
	opt := pq.Repetitions.Optional
	var fields []schema.Node
	for _, name := range []string{"id", "text"} {
		n, err := schema.NewPrimitiveNodeLogical(name, opt, schema.StringLogicalType{}, pq.Types.ByteArray, -1, -1)
		if err != nil {
			t.Fatal(err)
		}
		fields = append(fields, n)
	}
	root, err := schema.NewGroupNode("schema", pq.Repetitions.Required, fields, -1)
	if err != nil {
		t.Fatal(err)
	}
	sc := schema.NewSchema(root)
	props := pq.NewWriterProperties(pq.WithCompression(compress.Codecs.Zstd), pq.WithCompressionLevel(zstdLevel),
		pq.WithDictionaryDefault(false))

	const rows = 60_000 // two pages of ids
	r := rand.New(rand.NewPCG(3, 4))
	cols := []column{newColumn(pBytes, 1, 0), newColumn(pBytes, 1, 0)}
	var ids, texts [][]byte
	for i := range rows {
		id := fmt.Appendf(nil, "%08x-%04x-4%03x-a%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
		text := fmt.Appendf(nil, "PIX ENVIADO %s SILVA %d", []string{"JOSE", "MARIA", "ANTONIO"}[i%3], i%50)
		cols[0].appendBytes(id, 0)
		cols[1].appendBytes(text, 0)
		ids, texts = append(ids, id), append(texts, text)
	}
	var buf bytes.Buffer
	fw, err := newFileWriter(&buf, sc, props, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.writeRowGroup(cols, rows, &scratch{}); err != nil {
		t.Fatal(err)
	}
	if err := fw.close(); err != nil {
		t.Fatal(err)
	}
	if !fw.zstd[0].literals || fw.zstd[1].literals {
		t.Errorf("literals chosen for id %v, for text %v; want true, false", fw.zstd[0].literals, fw.zstd[1].literals)
	}
	if fw.zstd[0].pages < 2 {
		t.Errorf("%d pages of ids, want 2 or more", fw.zstd[0].pages)
	}
	checkDuckDBReadsStrings(t, buf.Bytes(), ids, texts)
	checkRustReadsStrings(t, buf.Bytes(), ids, texts)

	rd, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][][]byte{ids, texts} {
		cr, err := rd.RowGroup(0).Column(i)
		if err != nil {
			t.Fatal(err)
		}
		def := make([]int16, rows)
		got, _, err := readBytes[pq.ByteArray](cr.(*file.ByteArrayColumnChunkReader), rows, def, make([]int16, rows))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("column %d reads back different values", i)
		}
		cc, err := rd.MetaData().RowGroup(0).ColumnChunk(i)
		if err != nil {
			t.Fatal(err)
		}
		ratio := float64(cc.TotalCompressedSize()) / float64(cc.TotalUncompressedSize())
		t.Logf("column %d: %d bytes compressed to %d (%.2f)", i, cc.TotalUncompressedSize(), cc.TotalCompressedSize(), ratio)
		if limit := []float64{0.56, 0.25}[i]; ratio > limit {
			t.Errorf("column %d compressed to %.2f of its size, want at most %.2f", i, ratio, limit)
		}
	}
}

// checkDuckDBReadsStrings has DuckDB read a file of two string columns, id
// and text, and compares digests of their values, in file order.
func checkDuckDBReadsStrings(t *testing.T, data []byte, ids, texts [][]byte) {
	t.Helper()
	modules := duckdbModules(t)
	if modules == "" {
		return
	}
	path := filepath.Join(t.TempDir(), "choice.parquet")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := duckdb(t, modules, `select count(*)::varchar,
		md5(string_agg(id, ',' order by file_row_number)), md5(string_agg(text, ',' order by file_row_number))
		from read_parquet('`+path+`', file_row_number = true)`)
	digest := func(vs [][]byte) string { return fmt.Sprintf("%x", md5.Sum(bytes.Join(vs, []byte(",")))) }
	want := []any{strconv.Itoa(len(ids)), digest(ids), digest(texts)}
	if len(r.Rows) != 1 || !slices.Equal(r.Rows[0], want) {
		t.Fatalf("DuckDB %s read %v, want %v", r.Version, r.Rows, want)
	}
	t.Logf("DuckDB %s read the %d rows", r.Version, len(ids))
}
