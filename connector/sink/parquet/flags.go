package parquet

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/secret"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

// urlScheme is a URL's scheme://, which no local directory starts with.
var urlScheme = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9+.-]*)://`)

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

// Flags is the Parquet sink on read's command line (a source.SinkFlags):
// --parquet-dir turns it on, --parquet-compression picks the codec.
type Flags struct {
	// Version is the connector version recorded in each file.
	Version string
	// Provider is the provider recorded in each file (Options.Provider).
	Provider string

	fs   *pflag.FlagSet
	dir  string
	comp compressionValue
}

var _ source.SinkFlags = (*Flags)(nil)

// Flag is the flag that turns the sink on.
func (f *Flags) Flag() string { return "parquet-dir" }

// AddFlags registers the Parquet flags on read's flag set.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	f.fs, f.comp = fs, compressionValue(Zstd)
	fs.StringVar(&f.dir, "parquet-dir", "", "also write every record to Parquet files under `DIR`/<stream>/ (stdout still carries every message)")
	fs.Var(&f.comp, "parquet-compression", "Parquet compression: zstd, snappy or none (needs --parquet-dir)")
}

// Open opens the sinks of a read of streams, or returns nil without
// --parquet-dir.
func (f *Flags) Open(streams []source.Stream) (source.Sink, error) {
	if f.dir == "" {
		switch {
		case f.fs.Changed("parquet-dir"):
			return nil, source.ConfigErrorf("--parquet-dir is empty: give the directory to write Parquet files to")
		case f.fs.Changed("parquet-compression"):
			return nil, source.ConfigErrorf("--parquet-compression needs --parquet-dir")
		}
		return nil, nil
	}
	if urlScheme.MatchString(f.dir) || len(secret.URLSecrets(f.dir)) > 0 {
		// A URL here made folders named after it, "postgres:/user:PASSWORD@host…",
		// and the read wrote there and exited 0: the PostgreSQL URL meant for
		// --postgres (or an s3:// the user took for a destination) was taken
		// for a relative path. So did one written wrong, with a password
		// but no "://" (postgres:/u:PASSWORD@host/db, u:PASSWORD@host/db).
		fix := "give a local directory (the files can be copied to object storage from there)"
		if strings.HasPrefix(strings.ToLower(strings.TrimLeft(f.dir, " \t\"'")), "postgres") {
			fix = "to write to PostgreSQL, give the URL to --postgres instead"
		}
		return nil, source.ConfigErrorf("--parquet-dir %s is a URL, not a directory: the Parquet files are written to a local directory only, and this would make folders named after the URL here (with any password in it); %s. Nothing was read", secret.MaskURL(f.dir, "xxxxx"), fix)
	}
	// The run's start by the clock a test build can move
	// (source.StartTime), the same the Singer tap's table versions take.
	opts := Options{Dir: f.dir, Compression: Compression(f.comp), Version: f.Version, Provider: f.Provider, Start: source.StartTime()}
	if v := os.Getenv(RowsPerFileEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, source.ConfigErrorf("%s=%q: want a positive number of rows", RowsPerFileEnv, v)
		}
		opts.RowsPerFile = n
	}
	s, err := Open(streams, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}
