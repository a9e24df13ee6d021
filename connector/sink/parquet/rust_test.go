package parquet

// The files are read here by the two Rust Parquet implementations most
// users' tools are built on: arrow-rs's parquet crate (DataFusion, delta-rs,
// every arrow-rs tool), through the npm package parquet-wasm, and polars'
// own reader, through nodejs-polars. Both hand their Arrow data to
// apache-arrow (JavaScript) as Arrow IPC, from which rustReadersScript
// takes every value in the canonical form of readback_test.go.
//
// checkFiles has both read every file it checks, when they are installed;
// the tests are skipped with a logged reason unless
// PARQUET_RS_NODE_MODULES names a node_modules directory holding
// parquet-wasm and apache-arrow (and nodejs-polars for polars: where it
// is missing, polars is skipped, logged):
//
//	npm install --prefix /tmp/parquet-rs parquet-wasm apache-arrow nodejs-polars@0.26.1 nodejs-polars-linux-x64-gnu@0.26.1
//	PARQUET_RS_NODE_MODULES=/tmp/parquet-rs/node_modules go test ./connector/sink/parquet -run 'Rust|Pages|Property' -v
//
// (npm leaves out nodejs-polars' native package, an optional dependency,
// on some machines; naming it, of the same version, installs it.) .ci/run
// installs them so.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// rustModulesEnv names the node_modules directory holding the Rust readers.
const rustModulesEnv = "PARQUET_RS_NODE_MODULES"

// rustModules returns PARQUET_RS_NODE_MODULES where the Rust readers can
// run (the variable set and node installed), and "" after logging why not.
func rustModules(t testing.TB) string {
	t.Helper()
	modules := os.Getenv(rustModulesEnv)
	if modules == "" {
		t.Logf("arrow-rs and polars skipped: %s is not set (see the top of rust_test.go)", rustModulesEnv)
		return ""
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Log("arrow-rs and polars skipped: no node")
		return ""
	}
	return modules
}

// rustReadersScript reads each file of the request with arrow-rs, then
// polars, and writes JSON lines: a file's head (its reader, key-value
// metadata, row count and row groups, or the reader's error), then with
// rows set each row, or with digest set each column's null count and the
// SHA-256 of its values (columnDigests); and polars' counts of the rows where each of the
// file's filters holds. Values are in readback_test.go's canonical form,
// checked against the types the sink writes (a timestamp in another unit
// or zone, a date that is not in days, is an error), except that an
// INT64 is {"\u0000int": "<digits>"}, which JSON numbers cannot carry.
const rustReadersScript = `
const fs = require('fs');
const crypto = require('crypto');
const arrow = require('apache-arrow');
const { readParquet, ParquetFile } = require('parquet-wasm');
let pl;
try { pl = require('nodejs-polars'); } catch (e) { pl = String(e.message || e).split('\n')[0]; }

function canonDec(n, scale) {
  let neg = n < 0n;
  if (neg) n = -n;
  const s = n.toString().padStart(scale + 1, '0');
  const int = s.slice(0, s.length - scale), frac = s.slice(s.length - scale).replace(/0+$/, '');
  return 'dec:' + (neg ? '-' : '') + int + (frac ? '.' + frac : '');
}
function canonTS(us) {
  let ms = us / 1000n, rem = us % 1000n;
  if (rem < 0n) { rem += 1000n; ms -= 1n; }
  const d = new Date(Number(ms));
  if (isNaN(d)) throw new Error('timestamp out of range: ' + us);
  return 'ts:' + d.toISOString().slice(0, 23) + String(rem).padStart(3, '0') + 'Z';
}
const views = new WeakMap();
// value is the value at row i of data.
function value(data, i) {
  const j = data.offset + i;
  if (data.nullCount !== 0 && data.nullBitmap && data.nullBitmap.length && ((data.nullBitmap[j >> 3] >> (j & 7)) & 1) === 0) return null;
  const t = data.type;
  switch (t.typeId) {
    case arrow.Type.Utf8: case arrow.Type.LargeUtf8: {
      const o = data.valueOffsets, a = Number(o[j]), b = Number(o[j + 1]);
      return Buffer.from(data.values.buffer, data.values.byteOffset + a, b - a).toString('utf8');
    }
    case arrow.Type.Utf8View: { // polars' strings
      let v = views.get(data);
      if (!v) { v = arrow.makeVector(data); views.set(data, v); }
      return v.get(i);
    }
    case arrow.Type.Bool:
      return ((data.values[j >> 3] >> (j & 7)) & 1) === 1;
    case arrow.Type.Int:
      if (t.bitWidth !== 64 || !t.isSigned) throw new Error('an integer column of type ' + t + ', want Int64');
      return { '\u0000int': data.values[j].toString() };
    case arrow.Type.Date:
      if (t.unit !== arrow.DateUnit.DAY) throw new Error('a date column of type ' + t + ', want days');
      return 'date:' + new Date(data.values[j] * 86400000).toISOString().slice(0, 10);
    case arrow.Type.Timestamp:
      if (t.unit !== arrow.TimeUnit.MICROSECOND || !['UTC', '+00:00'].includes(t.timezone)) throw new Error('a timestamp column of type ' + t + ', want microseconds in UTC');
      return canonTS(BigInt(data.values[j]));
    case arrow.Type.Decimal: {
      if (t.precision !== 38) throw new Error('a decimal column of type ' + t + ', want precision 38');
      const words = t.bitWidth / 32, w = data.values, k = j * words;
      let n = 0n;
      for (let q = words - 1; q >= 0; q--) n = (n << 32n) | BigInt(w[k + q] >>> 0);
      if (n >> BigInt(t.bitWidth - 1)) n -= 1n << BigInt(t.bitWidth);
      return canonDec(n, t.scale);
    }
    case arrow.Type.Struct: { // its children are sliced with it
      const m = {};
      t.children.forEach((f, c) => { m[f.name] = value(data.children[c], i); });
      return m;
    }
    case arrow.Type.List: case arrow.Type.LargeList: {
      const o = data.valueOffsets, out = [];
      for (let k = Number(o[j]); k < Number(o[j + 1]); k++) out.push(value(data.children[0], k));
      return out;
    }
  }
  throw new Error('unexpected Arrow type ' + t);
}

// encode is a value's bytes for a column's digest, as digestValue makes
// them in Go: a tag, then for text its UTF-8 length and bytes, for a list
// its length and elements, for a struct its fields in name order.
function encode(v) {
  if (v === null) return 'n';
  if (v === true) return 't';
  if (v === false) return 'f';
  if (typeof v === 'string') return 's' + Buffer.byteLength(v) + ':' + v;
  if (Array.isArray(v)) return 'l' + v.length + ':' + v.map(encode).join('');
  if ('\u0000int' in v) return 'i' + v['\u0000int'] + ';';
  return 'm' + Object.keys(v).sort().map(k => 's' + Buffer.byteLength(k) + ':' + k + encode(v[k])).join('') + ';';
}

// count is how many rows of path polars finds where f holds (see
// polarsFilter): it reads only the row groups whose statistics say some
// may.
function count(path, f) {
  let lit;
  switch (f.kind) {
    case 'string': lit = pl.lit(f.value); break;
    case 'int': lit = pl.lit(BigInt(f.value)).cast(pl.Int64); break;
    case 'decimal': lit = pl.lit(f.value).cast(pl.Decimal(38, f.scale)); break;
    case 'timestamp': {
      const ms = BigInt(Date.parse(f.value.slice(0, 23) + 'Z')), us = BigInt(f.value.slice(23, 26));
      lit = pl.lit(ms * 1000n + us).cast(pl.Datetime('us', 'UTC'));
      break;
    }
    case 'date': lit = pl.lit(Date.parse(f.value) / 86400000).cast(pl.Date); break;
    default: throw new Error('filter of kind ' + f.kind);
  }
  const col = pl.col(f.column), cond = f.op === 'le' ? col.lessThanEquals(lit) : col.greaterThanEquals(lit);
  return Number(pl.scanParquet(path).filter(cond).select(pl.len().alias('n')).collectSync().getColumn('n').get(0));
}

async function read(reader, path, bytes) {
  if (reader === 'arrow-rs') {
    const md = (await ParquetFile.fromFile(new Blob([bytes]))).metadata(), fmd = md.fileMetadata();
    const head = { kv: Object.fromEntries(fmd.keyValueMetadata()), num_rows: fmd.numRows(), row_groups: md.numRowGroups() };
    return [head, arrow.tableFromIPC(readParquet(bytes).intoIPCStream())];
  }
  const df = pl.readParquet(path);
  return [{ num_rows: df.height }, arrow.tableFromIPC(df.writeIPC())];
}

(async () => {
  const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  req.filters = req.filters || {};
  const out = fs.openSync(process.argv[3], 'w');
  const emit = o => fs.writeSync(out, JSON.stringify(o) + '\n');
  emit({ polars_missing: typeof pl === 'string' ? pl : '' });
  for (const path of req.files) {
    const bytes = new Uint8Array(fs.readFileSync(path));
    for (const reader of ['arrow-rs', 'polars']) {
      if (reader === 'polars' && typeof pl === 'string') continue;
      process.stderr.write(reader + ' reads ' + path + '\n');
      try {
        const [head, tbl] = await read(reader, path, bytes);
        Object.assign(head, { reader, file: path });
        const cols = tbl.schema.fields.map((f, c) => [f.name, c]);
        if (reader === 'polars') head.counts = (req.filters[path] || []).map(f => count(path, f));
        if (req.digest) {
          head.digest = {};
          for (const [name, c] of cols) {
            const h = crypto.createHash('sha256');
            let nulls = 0;
            for (const batch of tbl.batches) {
              const data = batch.data.children[c];
              for (let i = 0; i < batch.numRows; i++) {
                const v = value(data, i);
                if (v === null) nulls++;
                h.update(encode(v));
              }
            }
            head.digest[name] = nulls + ' ' + h.digest('hex');
          }
          emit(head);
          continue;
        }
        const rows = [];
        for (const batch of tbl.batches) {
          for (let i = 0; i < batch.numRows; i++) {
            const row = {};
            for (const [name, c] of cols) row[name] = value(batch.data.children[c], i);
            rows.push(row);
          }
        }
        head.rows = rows;
        emit(head);
      } catch (e) {
        emit({ reader, file: path, error: String(e && e.message || e) });
      }
    }
  }
  fs.closeSync(out);
  process.stderr.write('done\n');
  // polars' threads can keep a finished process from ending
  // (pola-rs/polars#6538): end it here.
  process.exit(0);
})().catch(e => { console.error(e); process.exit(1); });
`

// rustFile is what one Rust reader read of one file.
type rustFile struct {
	Reader    string            `json:"reader"`
	File      string            `json:"file"`
	Error     string            `json:"error"`
	KV        map[string]string `json:"kv"`
	NumRows   int64             `json:"num_rows"`
	RowGroups int               `json:"row_groups"`
	Digest    map[string]string `json:"digest"`
	Rows      []map[string]any  `json:"rows"`
	// Counts are polars' counts of rows where each of the file's
	// filters holds.
	Counts []int `json:"counts"`
}

// rustRead is what the Rust readers read of some files, in their order.
type rustRead struct {
	// PolarsMissing says why polars did not read them ("" if it did).
	PolarsMissing string
	Files         []rustFile
}

// polarsFilter is a filter polars runs on a file: Column Op ("le" or
// "ge") Value, the value given as its canonical form's text (canonText)
// and the column's kind (filterKind); Want is the count of rows expected.
type polarsFilter struct {
	Column string `json:"column"`
	Kind   string `json:"kind"`
	Scale  int    `json:"scale"`
	Op     string `json:"op"`
	Value  string `json:"value"`
	Want   int    `json:"-"`
}

// readRust has arrow-rs and polars read files; with digest set, each
// column's values are hashed rather than returned (rustFile.Digest).
// filters are the polarsFilters to count on each file. A reader's
// refusal is in its rustFile's Error.
func readRust(t testing.TB, modules string, files []string, digest bool, filters map[string][]polarsFilter) rustRead {
	t.Helper()
	dir := t.TempDir()
	script, input, output := filepath.Join(dir, "read.cjs"), filepath.Join(dir, "files.json"), filepath.Join(dir, "out.jsonl")
	req, _ := json.Marshal(map[string]any{"files": files, "digest": digest, "filters": filters})
	if err := os.WriteFile(script, []byte(rustReadersScript), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(input, req, 0o644); err != nil {
		t.Fatal(err)
	}
	runNode(t, modules, script, input, output)
	f, err := os.Open(output)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var res rustRead
	dec := json.NewDecoder(bufio.NewReader(f))
	dec.UseNumber()
	var first struct {
		PolarsMissing string `json:"polars_missing"`
	}
	if err := dec.Decode(&first); err != nil {
		t.Fatalf("arrow-rs and polars: %v", err)
	}
	res.PolarsMissing = first.PolarsMissing
	for dec.More() {
		var rf rustFile
		if err := dec.Decode(&rf); err != nil {
			t.Fatalf("arrow-rs and polars: %v", err)
		}
		for i, row := range rf.Rows {
			rf.Rows[i] = fromRust(t, row).(map[string]any)
		}
		res.Files = append(res.Files, rf)
	}
	return res
}

// nodeTimeout bounds one run of a reader script. A polars read hung for
// ten minutes once in CI (polars has known pool deadlocks, such as
// pola-rs/polars#21616), taking the whole package to go test's timeout
// with nothing said. A script that runs out of it is killed and run once
// more: a hang of the reader's own, which comes and goes, passes the
// second time, and one our file causes hangs again and fails the test
// with the step it hung in. The slowest script, a 150,000-row file read
// by both engines, takes seconds.
const nodeTimeout = 2 * time.Minute

// runNode runs a script with node, the modules on its path, and returns
// what it printed; it fails the test if the script fails, or twice does
// not end within nodeTimeout.
func runNode(t testing.TB, modules, script string, args ...string) []byte {
	t.Helper()
	return runNodeWithin(t, nodeTimeout, modules, script, args...)
}

// runNodeWithin is runNode with timeout for nodeTimeout.
func runNodeWithin(t testing.TB, timeout time.Duration, modules, script string, args ...string) []byte {
	t.Helper()
	for attempt := 1; ; attempt++ {
		out, stderr, hung, err := runNodeOnce(t, timeout, modules, script, args...)
		if hung && attempt == 1 {
			t.Logf("node %s: no end after %v, killed and run again; the last step it began is the last line here:\n%s", filepath.Base(script), timeout, stderr)
			continue
		}
		if hung {
			t.Fatalf("node %s: no end after %v, twice; the last step it began is the last line here:\n%s", filepath.Base(script), timeout, stderr)
		}
		if err != nil {
			t.Fatalf("node %s: %v\n%s", filepath.Base(script), err, stderr)
		}
		return out
	}
}

// runNodeOnce is one run of runNodeWithin's: hung when it was killed at
// timeout.
func runNodeOnce(t testing.TB, timeout time.Duration, modules, script string, args ...string) (out []byte, stderr string, hung bool, err error) {
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.WaitDelay = 5 * time.Second
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	out, err = cmd.Output()
	return out, errBuf.String(), ctx.Err() != nil, err
}

// TestRunNodeRunsAHungScriptAgain: a script that hangs the first time it
// runs and not the second (as a reader's own deadlock does) passes,
// killed once, where the test hung to go test's timeout.
func TestRunNodeRunsAHungScriptAgain(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	dir := t.TempDir()
	script, marker := filepath.Join(dir, "hang-once.cjs"), filepath.Join(dir, "ran")
	const js = `const fs = require('fs');
if (!fs.existsSync(process.argv[2])) { fs.writeFileSync(process.argv[2], ''); setInterval(() => {}, 1000); }
else { process.stdout.write('second'); }
`
	if err := os.WriteFile(script, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := runNodeWithin(t, 2*time.Second, "", script, marker); string(out) != "second" {
		t.Fatalf("printed %q, want the second run's %q", out, "second")
	}
}

// fromRust turns the script's INT64s into int64.
func fromRust(t testing.TB, v any) any {
	switch v := v.(type) {
	case map[string]any:
		if n, ok := v["\x00int"].(string); ok && len(v) == 1 {
			var i int64
			if _, err := fmt.Sscan(n, &i); err != nil {
				t.Fatalf("INT64 %q: %v", n, err)
			}
			return i
		}
		for k, e := range v {
			v[k] = fromRust(t, e)
		}
	case []any:
		for k, e := range v {
			v[k] = fromRust(t, e)
		}
	}
	return v
}

// checkRust has arrow-rs and polars read files, and checks what they read
// (checkRustRead). It does nothing where they are not installed.
func checkRust(t testing.TB, files []string, want []map[string]any) {
	t.Helper()
	modules := rustModules(t)
	if modules == "" || len(files) == 0 {
		return
	}
	res := readRust(t, modules, files, false, nil)
	if res.PolarsMissing != "" {
		t.Logf("polars skipped: nodejs-polars cannot be loaded: %s", res.PolarsMissing)
	}
	checkRustRead(t, res, files, want)
}

// checkRustRead compares every value arrow-rs and polars read of files
// (among others in res) with want, and each file's key-value metadata, as
// arrow-rs reads it, with arrow-go's.
func checkRustRead(t testing.TB, res rustRead, files []string, want []map[string]any) {
	t.Helper()
	got := map[string][]map[string]any{}
	for _, rf := range res.Files {
		if !slices.Contains(files, rf.File) {
			continue
		}
		if rf.Error != "" {
			t.Errorf("%s refuses %s: %s", rf.Reader, rf.File, rf.Error)
			continue
		}
		if int(rf.NumRows) != len(rf.Rows) {
			t.Errorf("%s: %s says %d rows, read %d", rf.Reader, rf.File, rf.NumRows, len(rf.Rows))
		}
		got[rf.Reader] = append(got[rf.Reader], rf.Rows...)
		if rf.Reader != "arrow-rs" {
			continue
		}
		kv := fileMeta(t, rf.File).KeyValueMetadata()
		for i, k := range kv.Keys() {
			if rf.KV[k] != kv.Values()[i] {
				t.Errorf("arrow-rs: %s: metadata %s = %.80q, arrow-go reads %.80q", rf.File, k, rf.KV[k], kv.Values()[i])
			}
		}
		if len(rf.KV) != len(kv.Keys()) {
			t.Errorf("arrow-rs: %s: %d metadata keys, arrow-go reads %d", rf.File, len(rf.KV), len(kv.Keys()))
		}
	}
	compareRows(t, "arrow-rs", want, got["arrow-rs"])
	if res.PolarsMissing == "" {
		compareRows(t, "polars", want, got["polars"])
	}
}

// checkRustReadsStrings has arrow-rs and polars read a file of two string
// columns, id and text, and compares their values, in file order.
func checkRustReadsStrings(t *testing.T, data []byte, ids, texts [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "choice.parquet")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := make([]map[string]any, len(ids))
	for i := range ids {
		want[i] = map[string]any{"id": string(ids[i]), "text": string(texts[i])}
	}
	checkRust(t, []string{path}, want)
}

// columnDigests is what rustFile.Digest says of rows: each column's null
// count and the SHA-256 of its values, encoded one after another by
// digestValue.
func columnDigests(rows []map[string]any) map[string]string {
	hashes, nulls := map[string]hash.Hash{}, map[string]int{}
	var buf []byte
	for _, row := range rows {
		for k, v := range row {
			h := hashes[k]
			if h == nil {
				h = sha256.New()
				hashes[k] = h
			}
			if v == nil {
				nulls[k]++
			}
			buf = digestValue(buf[:0], v)
			h.Write(buf)
		}
	}
	out := map[string]string{}
	for k, h := range hashes {
		out[k] = fmt.Sprintf("%d %x", nulls[k], h.Sum(nil))
	}
	return out
}

// digestValue appends v, a canonical value, encoded as rustReadersScript's
// encode does.
func digestValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 'n')
	case bool:
		if v {
			return append(b, 't')
		}
		return append(b, 'f')
	case string:
		return append(fmt.Appendf(b, "s%d:", len(v)), v...)
	case int64:
		return fmt.Appendf(b, "i%d;", v)
	case []any:
		b = fmt.Appendf(b, "l%d:", len(v))
		for _, e := range v {
			b = digestValue(b, e)
		}
		return b
	case map[string]any:
		b = append(b, 'm')
		for _, k := range slices.Sorted(maps.Keys(v)) {
			b = digestValue(b, k)
			b = digestValue(b, v[k])
		}
		return append(b, ';')
	}
	panic(fmt.Sprintf("digestValue: %T", v))
}
