package sourcetest

import "regexp"

// lastAttr matches the last " key=value" of a LOG message, as the run's
// log handler writes it: a value that would not read as one word is a Go
// quoted string.
var lastAttr = regexp.MustCompile(`(?s)^(.*) ([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|[^ "]+)$`)

// RepeatedLogAttr returns a key the attributes at the end of a LOG message
// name more than once ("account=X account=X requisition=Y"), or "": a
// line says each attribute once, however many loggers and call sites
// added it.
func RepeatedLogAttr(msg string) string {
	seen := map[string]bool{}
	for {
		m := lastAttr.FindStringSubmatch(msg)
		if m == nil {
			return ""
		}
		if seen[m[2]] {
			return m[2]
		}
		seen[m[2]] = true
		msg = m[1]
	}
}
