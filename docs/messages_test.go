package docs_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// A quoted message is a backticked span of at least minMessageWords words
// in a table column headed "the message says" (postgres.md's bad inputs):
// the text the user sees, with … where the doc leaves part out. Shorter
// spans are names, not messages. The tables of faults (reliability.md's
// "how the connector reacts") are not checked: their messages are put
// together at run time from several constants ("HTTP %d" and a body's
// summary, "no answer within %s" and ", the time one attempt may take"),
// which no single format below matches, so a check there would be noise.
const minMessageWords = 5

// messageColumn recognises the header of a table column that quotes what
// the binaries print.
var messageColumn = regexp.MustCompile(`(?i)^the message says$`)

// maxValueLen bounds the text a format verb (%s, %q, %v, %d) may stand for
// in a quoted message: a URL, a name, the server's own words in
// parentheses. Unbounded, a verb would swallow any text and every quote
// would match "%s: %s".
const maxValueLen = 160

// minLiteralShare is the least part of a quoted fragment that the matched
// format's own words must cover, the rest being values. The quotes in the
// table today share 0.31 or more (a user's name and the server's reason
// in parentheses are most of `refused user "u" (password authentication
// failed`); the same quotes reworded share 0.2 or less with any format
// (TestMessageCheckCatchesARewording).
const minLiteralShare = 0.25

// TestQuotedMessagesAreWhatTheBinariesPrint checks every quoted message
// (see minMessageWords) against the text of the program: each fragment of
// it (split at …) must be a substring of what some string constant of a
// non-test .go file prints, its format verbs standing for values of up to
// maxValueLen bytes, with at least minLiteralShare of the fragment the
// format's own text. So a message reworded in the code (a flag renamed,
// "fix the password" become "check the password") fails here until the
// doc quotes the new text, while the doc may still show real values (a
// masked URL, a user "u") and cut what it does not need with ….
//
// A message the program assembles from several constants ("…, the time
// one attempt may take" appended to "no answer within %s") matches through
// a verb's room for the rest, or the doc puts … where the pieces join.
func TestQuotedMessagesAreWhatTheBinariesPrint(t *testing.T) {
	formats := programFormats(t)
	checked := 0
	for _, name := range sortedKeys(docFiles(t)) {
		for _, q := range quotedMessages(docFiles(t)[name]) {
			for _, frag := range strings.Split(q.text, "…") {
				frag = strings.TrimSpace(frag)
				if len(frag) < 3 {
					continue
				}
				checked++
				if share, _ := bestMatch(formats, frag); share < minLiteralShare {
					t.Errorf("%s:%d: %q is not what any message of the program says (the nearest shares %.2f of its text); quote the message as the code prints it now", name, q.line, frag, share)
				}
			}
		}
	}
	// Guard the guard: the tables quote dozens of messages.
	if checked < 20 {
		t.Errorf("only %d fragments of quoted messages were checked; the tables were not recognised", checked)
	}
}

// TestMessageCheckCatchesARewording feeds the check a quote of a real
// message with its words changed, and the real quote beside it.
func TestMessageCheckCatchesARewording(t *testing.T) {
	formats := programFormats(t)
	for _, c := range []struct {
		frag string
		ok   bool
	}{
		{`PostgreSQL at postgres://u:xxxxx@host:5432/db refused user "u" (password authentication failed for user "u"); fix the user or password in --postgres`, true},
		{`PostgreSQL at postgres://u:xxxxx@host:5432/db refused user "u" (password authentication failed for user "u"); check the user and the password given to --pg-url`, false},
		{`cannot reach PostgreSQL at postgres://u:xxxxx@host:5432/db; check the host and port in --postgres and that the server is running`, true},
		{`PostgreSQL server at postgres://u:xxxxx@host:5432/db is unreachable; make sure the server is up and listening on that port`, false},
		{`config.lookback_days: 1000 is more than 365, the most it takes: give a whole number from 0 to 365`, true},
		{`config.lookback_days: 1000 exceeds the maximum of 365; use a value between 0 and 365`, false},
	} {
		share, best := bestMatch(formats, c.frag)
		if (share >= minLiteralShare) != c.ok {
			t.Errorf("%q: share %.2f (nearest format %q), want a match: %v", c.frag, share, best, c.ok)
		}
	}
}

// quotedMessage is one quoted message and the line it is on.
type quotedMessage struct {
	line int
	text string
}

// quotedMessages finds the quoted messages of a Markdown text: the spans
// of minMessageWords words or more in the message columns of its tables.
func quotedMessages(text string) []quotedMessage {
	var out []quotedMessage
	lines := strings.Split(text, "\n")
	var cols []bool // the columns of the current table that quote messages
	inFence := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(l, "|") {
			cols = nil
			continue
		}
		cells := tableCells(l)
		if i+1 < len(lines) && regexp.MustCompile(`^\|[-| :]+\|\s*$`).MatchString(lines[i+1]) {
			cols = make([]bool, len(cells))
			for k, c := range cells {
				cols[k] = messageColumn.MatchString(strings.TrimSpace(c))
			}
			continue
		}
		for k, c := range cells {
			if k >= len(cols) || !cols[k] {
				continue
			}
			for _, m := range inlineCode.FindAllStringSubmatch(c, -1) {
				if len(strings.Fields(m[1])) >= minMessageWords {
					out = append(out, quotedMessage{line: i + 1, text: m[1]})
				}
			}
		}
	}
	return out
}

// tableCells splits a table row at its unescaped pipes.
func tableCells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimSuffix(strings.TrimPrefix(row, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteByte('|')
			i++
		case row[i] == '|':
			cells = append(cells, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	return append(cells, cur.String())
}

// format is a string constant of the program, cut at its format verbs:
// the text between them, in order (one more than there are verbs).
type format struct {
	text  string
	parts []string
}

var (
	formatsOnce sync.Once
	formatsAll  []format
	formatsErr  error
	fmtVerb     = regexp.MustCompile(`%[-+# 0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[a-zA-Z]`)
)

// programFormats is every string constant of the non-test .go files, with
// constant concatenations ("a " + "b") joined, as formats.
func programFormats(t *testing.T) []format {
	t.Helper()
	formatsOnce.Do(func() { formatsAll, formatsErr = loadFormats(repoRoot()) })
	if formatsErr != nil {
		t.Fatal(formatsErr)
	}
	return formatsAll
}

func loadFormats(root string) ([]format, error) {
	fset := token.NewFileSet()
	seen := map[string]bool{}
	var out []format
	add := func(s string) {
		if len(s) < 8 || seen[s] {
			return
		}
		seen[s] = true
		var parts []string
		for _, p := range fmtVerb.Split(strings.ReplaceAll(s, "%%", "\x00"), -1) {
			parts = append(parts, strings.ReplaceAll(p, "\x00", "%"))
		}
		out = append(out, format{text: s, parts: parts})
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if e, ok := n.(ast.Expr); ok {
				if s, ok := constString(e); ok {
					add(s)
					if _, bin := e.(*ast.BinaryExpr); bin {
						return false // its pieces are in the whole
					}
				}
			}
			return true
		})
		return nil
	})
	return out, err
}

// constString folds a string literal, or a + of them, to its value.
func constString(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.ParenExpr:
		return constString(e.X)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		x, ok := constString(e.X)
		if !ok {
			return "", false
		}
		y, ok := constString(e.Y)
		return x + y, ok
	}
	return "", false
}

// bestMatch is the largest share of frag that a format's own text covers
// where frag is a substring of what the format prints, and that format.
func bestMatch(formats []format, frag string) (float64, string) {
	windows := map[string]bool{}
	for i := 0; i+window <= len(frag); i++ {
		windows[frag[i:i+window]] = true
	}
	best, which := 0, ""
	for _, f := range formats {
		if !related(f, windows, frag) {
			continue
		}
		if n := literalCover(f.parts, frag); n > best {
			best, which = n, f.text
		}
	}
	return float64(best) / float64(len(frag)), which
}

// related is a cheap filter before literalCover: the format's own text
// and the fragment share a run of window bytes, or the fragment is shorter
// and inside it.
func related(f format, windows map[string]bool, frag string) bool {
	for _, p := range f.parts {
		if len(frag) < window && strings.Contains(p, frag) {
			return true
		}
		for i := 0; i+window <= len(p); i++ {
			if windows[p[i:i+window]] {
				return true
			}
		}
	}
	return false
}

// window is the length of the runs related compares.
const window = 8

// literalCover is the most bytes of frag the parts' text can cover, where
// frag is a substring of parts[0] v parts[1] v … parts[n] with each v any
// text of at most maxValueLen bytes; -1 if it is no such substring.
func literalCover(parts []string, frag string) int {
	// The elements: each byte of the parts, with a verb (-1) between parts.
	var el []int
	for k, p := range parts {
		if k > 0 {
			el = append(el, -1)
		}
		for i := 0; i < len(p); i++ {
			el = append(el, int(p[i]))
		}
	}
	n, m := len(frag), len(el)
	const unknown = -2
	memo := make([]int, (n+1)*(m+1))
	for i := range memo {
		memo[i] = unknown
	}
	var best func(i, j int) int
	best = func(i, j int) int {
		if i == n {
			return 0
		}
		if j == m {
			return -1
		}
		k := i*(m+1) + j
		if memo[k] != unknown {
			return memo[k]
		}
		r := -1
		if el[j] >= 0 {
			if int(frag[i]) == el[j] {
				if b := best(i+1, j+1); b >= 0 {
					r = b + 1
				}
			}
		} else {
			for l := 0; l <= maxValueLen && i+l <= n; l++ {
				if i+l == n {
					r = max(r, 0)
					break
				}
				if b := best(i+l, j+1); b > r {
					r = b
				}
			}
		}
		memo[k] = r
		return r
	}
	out := -1
	for j := 0; j < m; j++ {
		out = max(out, best(0, j))
	}
	return out
}
