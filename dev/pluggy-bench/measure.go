package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runConnector runs `source-pluggy read` with the catalog (by default the
// transactions stream, incremental, so states are part of the output) and
// counts its stdout. It returns the run's result and the last state of each
// stream, as a --state file.
//
// extra are more read flags (--postgres ... --no-records); records are then
// counted from the STATEs' recordCount, which covers records left off
// stdout.
func runConnector(ctx context.Context, bin, dir, catalogFile string, cfg map[string]any, state []byte, extra ...string) (result, []byte, error) {
	args, err := readArgs(dir, catalogFile, cfg, state, extra...)
	if err != nil {
		return result{}, nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, nil, err
	}
	c, err := count(pipe)
	werr := cmd.Wait()
	elapsed := time.Since(start)
	if err != nil {
		return result{}, nil, err
	}
	if werr != nil {
		return result{}, nil, fmt.Errorf("source-pluggy read: %w\n%s\n%s", werr, stderr.Bytes(), c.lastError)
	}
	if c.records == 0 {
		c.records = c.stateCounted // --no-records
	}
	r := resultOf(cmd.ProcessState, c, elapsed)
	if len(c.lastState) == 0 {
		return r, nil, errors.New("source-pluggy read emitted no STATE")
	}
	st, err := stateFile(c.lastState)
	return r, st, err
}

// readArgs writes the config, catalog and state files of a read into dir
// and returns the read's arguments.
func readArgs(dir, catalogFile string, cfg map[string]any, state []byte, extra ...string) ([]string, error) {
	cfgPath := filepath.Join(dir, "config.json")
	catPath := catalogFile
	if err := writeJSON(cfgPath, cfg); err != nil {
		return nil, err
	}
	if catPath == "" {
		catPath = filepath.Join(dir, "catalog.json")
		if err := os.WriteFile(catPath, []byte(transactionsCatalog), 0o600); err != nil {
			return nil, err
		}
	}
	args := []string{"read", "--config", cfgPath, "--catalog", catPath}
	if state != nil {
		p := filepath.Join(dir, "state.json")
		if err := os.WriteFile(p, state, 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--state", p)
	}
	return append(args, extra...), nil
}

func resultOf(ps *os.ProcessState, c counts, elapsed time.Duration) result {
	r := result{Records: c.records, States: c.states, Bytes: c.bytes, Seconds: elapsed.Seconds()}
	r.RecordsPerS = float64(c.records) / r.Seconds
	r.MBPerS = float64(c.bytes) / 1e6 / r.Seconds
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSKiB = ru.Maxrss // KiB on Linux
	}
	r.CPUSeconds = (ps.UserTime() + ps.SystemTime()).Seconds()
	return r
}

// transactionsCatalog reads transactions incrementally: RECORDs and
// STATEs, as a scheduled sync does.
const transactionsCatalog = `{"streams":[{"stream":{"name":"transactions","json_schema":{},"supported_sync_modes":["full_refresh","incremental"],"source_defined_cursor":true,"default_cursor_field":["createdAt"],"source_defined_primary_key":[["id"]]},"sync_mode":"incremental","destination_sync_mode":"append_dedup","cursor_field":["createdAt"],"primary_key":[["id"]]}]}`

type counts struct {
	records, states, bytes int64
	stateCounted           int64             // the sum of the STATEs' sourceStats.recordCount
	lastState              map[string][]byte // the last STATE line of each stream
	lastError              []byte
}

// count reads the protocol stream: RECORD lines are recognised by their
// prefix, which is all this loop can afford at a million lines.
func count(r io.Reader) (counts, error) {
	c := counts{lastState: map[string][]byte{}}
	br := bufio.NewReaderSize(r, 1<<20)
	recordPrefix := []byte(`{"type":"RECORD"`)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			line, err = longLine(br, line) // a large STATE
		}
		c.bytes += int64(len(line))
		switch {
		case bytes.HasPrefix(line, recordPrefix):
			c.records++
		case bytes.Contains(line, []byte(`"type":"STATE"`)):
			c.states++
			c.stateCounted += recordCount(line)
			name := stateStream(line)
			c.lastState[name] = append(c.lastState[name][:0], line...)
		case bytes.Contains(line, []byte(`"type":"ERROR"`)):
			c.lastError = append(c.lastError[:0], line...)
		}
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		if err != nil {
			return c, err
		}
	}
}

// longLine finishes a line longer than br's buffer, of which ReadSlice
// returned head (valid only until the next read, so it is copied first).
func longLine(br *bufio.Reader, head []byte) ([]byte, error) {
	line := append([]byte(nil), head...)
	rest, err := br.ReadBytes('\n')
	return append(line, rest...), err
}

// stateStream is the stream a STATE line is about, read without decoding
// a state that may be megabytes.
func stateStream(line []byte) string {
	const key = `"stream_descriptor":{"name":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// recordCount is a STATE line's sourceStats.recordCount, read without
// decoding the state.
func recordCount(line []byte) int64 {
	const key = `"recordCount":`
	i := bytes.LastIndex(line, []byte(key))
	if i < 0 {
		return 0
	}
	rest := line[i+len(key):]
	j := 0
	for j < len(rest) && (rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
		j++
	}
	n, _ := strconv.ParseFloat(string(rest[:j]), 64)
	return int64(n)
}

// stateFile turns the last STATE message of each stream into a --state
// file.
func stateFile(lines map[string][]byte) ([]byte, error) {
	var states []json.RawMessage
	for _, line := range lines {
		var m struct {
			State json.RawMessage `json:"state"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("decoding a STATE: %w", err)
		}
		states = append(states, m.State)
	}
	return json.Marshal(states)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// runNode reads every account with the official SDK through
// node/fetch_all.mjs and counts the JSON lines it prints.
func runNode(ctx context.Context, dir string, f *fakeProc) (result, error) {
	script := filepath.Join(dir, "fetch_all.mjs")
	if _, err := exec.LookPath("node"); err != nil {
		return result{}, errors.New("node is not installed; install Node.js 18+ and run: npm install --prefix " + dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "pluggy-sdk")); err != nil {
		return result{}, errors.New("pluggy-sdk is not installed; run: npm install --prefix " + dir)
	}
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Env = append(os.Environ(),
		"PLUGGY_API_URL="+f.BaseURL,
		"PLUGGY_CLIENT_ID="+f.ClientID,
		"PLUGGY_CLIENT_SECRET="+f.ClientSecret,
		"PLUGGY_ITEM_IDS="+strings.Join(f.ItemIDs, ","),
	)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	var c counts
	br := bufio.NewReaderSize(pipe, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			line, err = longLine(br, line) // a large STATE
		}
		c.bytes += int64(len(line))
		if len(line) > 1 {
			c.records++
		}
		if err != nil {
			break
		}
	}
	werr := cmd.Wait()
	elapsed := time.Since(start)
	if werr != nil {
		return result{}, fmt.Errorf("node fetch_all.mjs: %w\n%s", werr, errBuf.Bytes())
	}
	return resultOf(cmd.ProcessState, c, elapsed), nil
}

// loadAverage is /proc/loadavg's 1-minute figure: other work on the
// machine shows in every number this tool prints.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
