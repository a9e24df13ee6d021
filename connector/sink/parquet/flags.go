package parquet

import (
	"errors"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/source"
)

// RowsPerFileEnv overrides Options.RowsPerFile for the binaries. It exists
// for tests that need many small files (crash tests); users keep the default.
const RowsPerFileEnv = "SOURCE_PLUGGY_PARQUET_ROWS_PER_FILE"

// compressionValue is --parquet-compression: a bad value is a usage error
// when the flags are parsed.
type compressionValue Compression

func (c *compressionValue) String() string { return string(*c) }
func (c *compressionValue) Type() string   { return "codec" }
func (c *compressionValue) Set(s string) error {
	if s == "" {
		return errors.New("want zstd, snappy or none")
	}
	if _, err := Compression(s).codec(); err != nil {
		return err
	}
	*c = compressionValue(s)
	return nil
}

// Flags registers read's Parquet flags on fs and returns the function that
// opens the sinks they select, for source.Runner.SinkFlags:
//
//	r.SinkFlags = func(fs *pflag.FlagSet) func([]source.Stream) (source.Sinks, bool, error) {
//		return parquet.Flags(fs, source.Version)
//	}
//
// The opener returns nil sinks without --parquet-dir, and whether RECORD
// messages are to be left off stdout (--no-records).
func Flags(fs *pflag.FlagSet, version string) func([]source.Stream) (source.Sinks, bool, error) {
	var dir string
	var noRecords bool
	comp := compressionValue(Zstd)
	fs.StringVar(&dir, "parquet-dir", "", "also write every record to Parquet files under `DIR`/<stream>/ (stdout still carries every message)")
	fs.Var(&comp, "parquet-compression", "Parquet compression: zstd, snappy or none (needs --parquet-dir)")
	fs.BoolVar(&noRecords, "no-records", false, "print no RECORD messages on stdout, only STATE, TRACE and LOG (needs --parquet-dir)")
	return func(streams []source.Stream) (source.Sinks, bool, error) {
		if dir == "" {
			switch {
			case fs.Changed("parquet-dir"):
				return nil, false, source.ConfigErrorf("--parquet-dir is empty: give the directory to write Parquet files to")
			case noRecords:
				return nil, false, source.ConfigErrorf("--no-records needs --parquet-dir: without Parquet files the records would go nowhere")
			case fs.Changed("parquet-compression"):
				return nil, false, source.ConfigErrorf("--parquet-compression needs --parquet-dir")
			}
			return nil, false, nil
		}
		opts := Options{Dir: dir, Compression: Compression(comp), Version: version}
		if v := os.Getenv(RowsPerFileEnv); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return nil, false, source.ConfigErrorf("%s=%q: want a positive number of rows", RowsPerFileEnv, v)
			}
			opts.RowsPerFile = n
		}
		s, err := Open(streams, opts)
		if err != nil {
			return nil, false, err
		}
		return s, noRecords, nil
	}
}
