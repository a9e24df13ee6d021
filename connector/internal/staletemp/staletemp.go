// Package staletemp removes the temporary files a writer killed outright
// (SIGKILL, an OOM kill, a power cut) left beside the file it replaces
// atomically: one created with os.CreateTemp, written, then renamed over
// the file, stays for good when the run dies between the two, one more a
// crash. connect --write's config copies and --state-file's checkpoints
// are written so.
package staletemp

import "strings"

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
