package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// fakeProc is the fake Pluggy API running as its own process (see the
// package comment for why).
type fakeProc struct {
	cmd *exec.Cmd
	announce
}

type announce struct {
	BaseURL      string   `json:"base_url"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	ItemIDs      []string `json:"item_ids"`
}

type fakeStats struct {
	Total   int            `json:"total"`
	ByRoute map[string]int `json:"by_route"`
}

func startFake(ctx context.Context, bin string, args []string, stderr io.Writer) (*fakeProc, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &fakeProc{cmd: cmd}
	if err := json.NewDecoder(out).Decode(&f.announce); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("reading fake-pluggy's announcement: %w", err)
	}
	return f, nil
}

func (f *fakeProc) stop() {
	_ = f.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = f.cmd.Process.Kill()
		<-done
	}
}

func (f *fakeProc) admin(ctx context.Context, method, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, f.BaseURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fake %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if v == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// cpu is the fake's CPU time so far (Linux only; 0 elsewhere), so a report
// can say how much of the machine the fake took.
func (f *fakeProc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", f.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the whole line, in clock ticks (100 Hz).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func (f *fakeProc) resetStats(ctx context.Context) error {
	return f.admin(ctx, http.MethodPost, "/__fake/stats/reset", nil)
}

func (f *fakeProc) stats(ctx context.Context) (fakeStats, error) {
	var s fakeStats
	err := f.admin(ctx, http.MethodGet, "/__fake/stats", &s)
	return s, err
}
