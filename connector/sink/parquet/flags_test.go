package parquet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

func parseFlags(t *testing.T, args ...string) (func([]source.Stream) (source.Sink, error), error) {
	t.Helper()
	fs := pflag.NewFlagSet("read", pflag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	f := &Flags{Version: "1.2.3"}
	f.AddFlags(fs)
	return f.Open, fs.Parse(args)
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	streams := []source.Stream{kitchen(t)}

	open, err := parseFlags(t)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := open(streams); s != nil || err != nil {
		t.Errorf("no flags: %v %v, want no sink", s, err)
	}

	open, err = parseFlags(t, "--parquet-dir", dir, "--parquet-compression", "snappy")
	if err != nil {
		t.Fatal(err)
	}
	s, err := open(streams)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	sinks := s.(*Sinks)
	if sinks.opts.Compression != Snappy || sinks.opts.Version != "1.2.3" || sinks.opts.RowsPerFile != DefaultRowsPerFile {
		t.Errorf("options %+v", sinks.opts)
	}
	if _, err := os.Stat(filepath.Join(dir, "kitchen")); err != nil {
		t.Errorf("stream directory not created: %v", err)
	}
	if _, err := s.OpenStream(source.StreamInfo{Stream: kitchen(t), Mode: protocol.FullRefresh}, nil); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}

	// A directory whose name holds ':' and '@' is no URL written wrong
	// (its "user" holds a /): it was refused as one.
	odd := filepath.Join(t.TempDir(), "team:x@2026")
	open, _ = parseFlags(t, "--parquet-dir", odd)
	if s, err := open(streams); err != nil {
		t.Errorf("--parquet-dir %s: %v, want it taken as a directory", odd, err)
	} else if err := s.Close(); err != nil {
		t.Error(err)
	}

	t.Setenv(RowsPerFileEnv, "10")
	open, _ = parseFlags(t, "--parquet-dir", dir)
	if s, err := open(streams); err != nil || s.(*Sinks).opts.RowsPerFile != 10 || s.(*Sinks).opts.Compression != Zstd {
		t.Errorf("%s=10: %v", RowsPerFileEnv, err)
	}
	t.Setenv(RowsPerFileEnv, "ten")
	if _, err := open(streams); !isConfigError(err) || !strings.Contains(err.Error(), RowsPerFileEnv) {
		t.Errorf("%s=ten: %v", RowsPerFileEnv, err)
	}
}

func isConfigError(err error) bool {
	var e *source.Error
	return errors.As(err, &e) && e.Type == protocol.ConfigError
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--parquet-compression", "lz4"},
		{"--parquet-compression", ""},
		{"--parquet-compression=gzip", "--parquet-dir", "x"},
	} {
		if _, err := parseFlags(t, args...); err == nil || !strings.Contains(err.Error(), "zstd, snappy or none") {
			t.Errorf("%v: parse error %v", args, err)
		}
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--parquet-dir", ""}, "--parquet-dir is empty"},
		{[]string{"--parquet-compression", "none"}, "--parquet-compression needs --parquet-dir"},
	} {
		open, err := parseFlags(t, c.args...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := open(nil); !isConfigError(err) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: %v, want a config error saying %q", c.args, err, c.msg)
		}
	}
	// A file where the directory should be said "mkdir …: not a
	// directory", naming neither the flag nor the fix; the file is left
	// as it is.
	file := filepath.Join(t.TempDir(), "out.parquet")
	if err := os.WriteFile(file, []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	open, err := parseFlags(t, "--parquet-dir", file)
	if err != nil {
		t.Fatal(err)
	}
	want := "--parquet-dir " + file + " is a file, not a directory; give a directory for the Parquet files"
	if _, err := open(nil); !isConfigError(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("--parquet-dir on a file: %v, want a config error saying %q", err, want)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "kept" {
		t.Errorf("the file became %q (%v)", b, err)
	}
}
