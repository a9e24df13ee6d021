package docs_test

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// mdLink is a Markdown link or image: [text](target), the target without a
// title.
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// TestLinksResolve: every link in README.md and docs/*.md to a file of the
// repository names one that exists, and every #anchor a heading of the
// file it points into (as GitHub makes a heading's anchor). A section
// renamed or a file moved then fails here, not in a reader's browser.
func TestLinksResolve(t *testing.T) {
	files := docFiles(t)
	root := repoRoot()
	anchors := map[string]map[string]bool{} // by file, relative to root
	anchorsOf := func(rel string) (map[string]bool, error) {
		if a, ok := anchors[rel]; ok {
			return a, nil
		}
		text, ok := files[rel]
		if !ok {
			b, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				return nil, err
			}
			text = string(b)
		}
		anchors[rel] = headingAnchors(text)
		return anchors[rel], nil
	}
	for rel, text := range files {
		inFence := false
		for i, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inFence = !inFence
			}
			if inFence {
				continue
			}
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue // another host: not checked offline
				}
				file, anchor, _ := strings.Cut(target, "#")
				dest := rel
				if file != "" {
					dest = path.Clean(path.Join(path.Dir(filepath.ToSlash(rel)), file))
					if _, err := os.Stat(filepath.Join(root, dest)); err != nil {
						t.Errorf("%s:%d: link to %s: no such file in the repository", rel, i+1, target)
						continue
					}
				}
				if anchor == "" || !strings.HasSuffix(dest, ".md") {
					continue
				}
				a, err := anchorsOf(filepath.FromSlash(dest))
				if err != nil {
					t.Errorf("%s:%d: link to %s: %v", rel, i+1, target, err)
					continue
				}
				if !a[anchor] {
					t.Errorf("%s:%d: link to %s: %s has no heading with anchor #%s", rel, i+1, target, dest, anchor)
				}
			}
		}
	}
}

// headingAnchors returns the anchors GitHub gives a Markdown file's
// headings: lower case, punctuation dropped, spaces as hyphens, a repeated
// one numbered from -1.
func headingAnchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	inFence := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

func TestHeadingAnchors(t *testing.T) {
	a := headingAnchors("# Top\n## Now: Parquet pages straight from the JSON\n```sh\n# not a heading\n```\n## `--parquet-dir` and friends\n## Top\n### 1,000 rows – fast")
	for _, want := range []string{"top", "now-parquet-pages-straight-from-the-json", "--parquet-dir-and-friends", "top-1", "1000-rows--fast"} {
		if !a[want] {
			t.Errorf("no anchor %q in %v", want, a)
		}
	}
	if a["not-a-heading"] {
		t.Error("a comment in a code block is not a heading")
	}
}
