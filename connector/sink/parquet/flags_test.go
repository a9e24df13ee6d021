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

func parseFlags(t *testing.T, args ...string) (func([]source.Stream) (source.Sinks, bool, error), error) {
	t.Helper()
	fs := pflag.NewFlagSet("read", pflag.ContinueOnError)
	fs.SetOutput(&strings.Builder{})
	open := Flags(fs, "1.2.3")
	return open, fs.Parse(args)
}

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	streams := []source.Stream{kitchen(t)}

	open, err := parseFlags(t)
	if err != nil {
		t.Fatal(err)
	}
	if s, skip, err := open(streams); s != nil || skip || err != nil {
		t.Errorf("no flags: %v %v %v, want no sinks", s, skip, err)
	}

	open, err = parseFlags(t, "--parquet-dir", dir, "--no-records", "--parquet-compression", "snappy")
	if err != nil {
		t.Fatal(err)
	}
	s, skip, err := open(streams)
	if err != nil || !skip {
		t.Fatalf("open: %v %v", skip, err)
	}
	sinks := s.(*Sinks)
	if sinks.opts.Compression != Snappy || sinks.opts.Version != "1.2.3" || sinks.opts.RowsPerFile != DefaultRowsPerFile {
		t.Errorf("options %+v", sinks.opts)
	}
	if _, err := os.Stat(filepath.Join(dir, "kitchen")); err != nil {
		t.Errorf("stream directory not created: %v", err)
	}
	if _, err := s.OpenStream(kitchen(t), protocol.FullRefresh); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}

	t.Setenv(RowsPerFileEnv, "10")
	open, _ = parseFlags(t, "--parquet-dir", dir)
	if s, _, err := open(streams); err != nil || s.(*Sinks).opts.RowsPerFile != 10 || s.(*Sinks).opts.Compression != Zstd {
		t.Errorf("%s=10: %v", RowsPerFileEnv, err)
	}
	t.Setenv(RowsPerFileEnv, "ten")
	if _, _, err := open(streams); !isConfigError(err) || !strings.Contains(err.Error(), RowsPerFileEnv) {
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
		{[]string{"--no-records"}, "--no-records needs --parquet-dir"},
		{[]string{"--parquet-dir", ""}, "--parquet-dir is empty"},
		{[]string{"--parquet-compression", "none"}, "--parquet-compression needs --parquet-dir"},
	} {
		open, err := parseFlags(t, c.args...)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := open(nil); !isConfigError(err) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: %v, want a config error saying %q", c.args, err, c.msg)
		}
	}
}
