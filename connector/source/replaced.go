package source

import (
	"bytes"

	"github.com/source-pluggy/source-pluggy/connector/jsonrow"
)

// replacedText notes the rows of one stream that hold text in which the
// HTTP client replaced invalid UTF-8 with U+FFFD. Rows are cut from an
// answer by each provider in its own way (slices of the body, copies made
// by encoding/json), so a row cannot tell which answer it came from; what
// it keeps is the JSON string itself. So the client's offsets are turned
// into the string literals that hold them (quotes and escapes as
// written), and a row holding one of those literals gets a change for
// each such string, at its path. A U+FFFD the API sent itself, in any
// other string, is not noted. Only a stream whose answers had invalid
// bytes has a replacedText, so the usual row pays one nil check.
type replacedText struct {
	lits map[string]bool
	size int  // bytes of lits
	all  bool // over maxReplacedText: every string holding U+FFFD counts
}

// maxReplacedText bounds the literals one stream remembers. A server
// sending invalid bytes in every string of every page would otherwise
// grow it with the read; past the bound every string holding U+FFFD is
// taken for a replaced one, which over-notes rather than forgets.
const maxReplacedText = 4 << 20

var fffd = []byte("\uFFFD")

func (r *replacedText) add(lits [][]byte) {
	for _, l := range lits {
		if r.all {
			return
		}
		if r.lits[string(l)] {
			continue
		}
		if r.size+len(l) > maxReplacedText {
			r.all, r.lits = true, nil
			return
		}
		r.lits[string(l)] = true
		r.size += len(l)
	}
}

// changes returns row's changes with one for each string of its Raw that
// holds replaced text.
func (r *replacedText) changes(row jsonrow.Row) []jsonrow.Change {
	if !bytes.Contains(row.Raw, fffd) {
		return row.Changes
	}
	paths, err := jsonrow.StringPaths(row.Raw, func(lit []byte) bool {
		return bytes.Contains(lit, fffd) && (r.all || r.lits[string(lit)])
	})
	if err != nil {
		return row.Changes // not JSON: the outputs say so, nothing to note
	}
	out := row.Changes[:len(row.Changes):len(row.Changes)]
	for _, p := range paths {
		out = append(out, jsonrow.Change{Field: p, Change: jsonrow.ChangeReplaced, Reason: jsonrow.ReasonInvalidUTF8})
	}
	return out
}

// replacedLiterals returns the JSON string literals of body (quotes
// included) that hold one of the offsets at, which are sorted. An offset
// outside every string (the answer was no JSON there) is skipped.
func replacedLiterals(body []byte, at []int) [][]byte {
	var out [][]byte
	k := 0
	for i := 0; i < len(body) && k < len(at); i++ {
		if body[i] != '"' {
			continue
		}
		start := i
		for i++; i < len(body) && body[i] != '"'; i++ {
			if body[i] == '\\' {
				i++
			}
		}
		end := min(i+1, len(body))
		for k < len(at) && at[k] < start {
			k++
		}
		if k < len(at) && at[k] < end {
			out = append(out, body[start:end])
			for k < len(at) && at[k] < end {
				k++
			}
		}
	}
	return out
}
