// Package staletemp removes the temporary files a writer killed outright
// (SIGKILL, an OOM kill, a power cut) left beside the file it replaces
// atomically: one created with os.CreateTemp, written, then renamed over
// the file, stays for good when the run dies between the two, one more a
// crash. connect --write's config copies and --state-file's checkpoints
// are written so, and the Parquet sink's files are written as hidden
// temporaries it links to their names.
package staletemp

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// processStart is when this run began: a temporary file modified since
// is never taken for a stale one (the default of Rule.Before).
var processStart = time.Now()

// staleAge is how long ago a temporary file must have been modified to be
// taken for a stale one, unless the caller holds the lock every writer
// takes (Rule.Held): a writer renames or removes its file within
// milliseconds of its last write, and holds its lock until it closes it,
// just before.
const staleAge = time.Minute

// Rule says which files of a directory are temporaries that killed runs
// left there. Only a file that is certainly such a leftover goes: named
// so (Match), a regular file (not a link) of this user's, last modified
// before the run began (Before), and not locked; without Held, also
// modified over staleAge ago, and nothing at all where file locks do not
// exist (a temporary another run is writing could not be told from one a
// killed run left).
type Rule struct {
	// Match reports whether a name is exactly one the writer gives its
	// temporaries: a user's file of a name near it stays.
	Match func(name string) bool
	// Before is when the run began by the clock, zero for when this
	// process started: a file modified at or after it is never stale. A
	// clock stepped back behind a killed run's temporaries keeps them
	// until it passes their time again, at a later run: they are hidden
	// and harmless meanwhile, where taking a file of a time to come for a
	// stale one could take a live writer's.
	Before time.Time
	// Held says the caller holds the lock that every writer of such files
	// takes before it creates one and keeps until it has renamed or
	// removed it (the Parquet sink's --parquet-dir lock), and that locks
	// exist (flock.Supported) or one run at a time is the user's rule (no
	// writer can be at work): a file modified before Before is then stale
	// whatever its age, so the run right after a killed one removes its
	// temporaries.
	Held bool
}

// Remove removes from dir the files r takes for temporaries killed runs
// left (see Rule). It fails only when dir cannot be read; a file it
// cannot remove stays (the caller's own writes say what is wrong with
// dir).
func (r Rule) Remove(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	before := r.Before
	if before.IsZero() {
		before = processStart
	}
	for _, e := range entries {
		if e.Type().IsRegular() && r.Match(e.Name()) {
			removeIfStale(filepath.Join(dir, e.Name()), before, r.Held)
		}
	}
	return nil
}

// Remove removes from dir the temporary files that killed runs left,
// those named by one of patterns (os.CreateTemp's, see Matches), by the
// Rule without Held: each would otherwise stay there for good (a hidden
// copy of a config, its secrets included, or of a state). A run writing
// the same file at this moment keeps its temporary: either it holds a lock
// on the temporary until it closes it (connect's writes), or the caller
// holds first the lock every writer of the file takes (a --state-file's
// FILE.lock), and the kernel drops either when its holder dies. Errors
// are ignored: the write goes on either way.
func Remove(dir string, patterns ...string) {
	_ = Rule{Match: func(name string) bool {
		for _, p := range patterns {
			if Matches(name, p) {
				return true
			}
		}
		return false
	}}.Remove(dir)
}

// Matches reports whether name is one os.CreateTemp makes from pattern:
// the pattern's text before its last "*" (or the whole pattern, without
// one), the decimal digits CreateTemp puts in, then the text after it.
// A name with anything else in place of the digits (a user's
// ".config.json.tmp-backup") is not one.
func Matches(name, pattern string) bool {
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	if len(name) < len(prefix)+len(suffix) || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return false
	}
	digits := name[len(prefix) : len(name)-len(suffix)]
	if digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
