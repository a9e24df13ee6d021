package docs_test

import (
	"regexp"
	"strings"
	"testing"
)

// connectorCatalogs is the configured catalog that reads every stream of
// each connector, by the name a doc's heading gives it.
var connectorCatalogs = map[string]string{
	"source-pluggy":               "catalogs/pluggy_incremental.json",
	"source-gocardless-bank-data": "catalogs/gocardless_bank_data_incremental.json",
	"source-enablebanking":        "catalogs/enablebanking_incremental.json",
}

// docConnector is the connector a doc is about when no heading names one.
var docConnector = map[string]string{
	"docs/pluggy.md":        "source-pluggy",
	"docs/gocardless.md":    "source-gocardless-bank-data",
	"docs/enablebanking.md": "source-enablebanking",
}

var (
	headingConnector = regexp.MustCompile(`^#+ .*\b(source-pluggy|source-gocardless-bank-data|source-enablebanking)\b`)
	cursorInModes    = regexp.MustCompile("incremental \\((?:cursor )?`([^`]+)`")
	backticked       = regexp.MustCompile("`([^`]+)`")
)

// TestStreamTablesMatchTheCatalogs checks the manual's stream tables
// (a table whose first column is "stream" and that has a "primary key"
// column: streams.md's for source-pluggy and source-gocardless-bank-data,
// enablebanking.md's) against the catalog of the connector the heading
// above them names (or the doc is about): the same streams, primary keys,
// sync modes and cursors, written "full refresh, incremental (`cursor`)"
// or in a column of their own. TestREADMEStreamsMatchTheCatalogs does the
// same for the README's tables, in their one fixed shape.
func TestStreamTablesMatchTheCatalogs(t *testing.T) {
	files := docFiles(t)
	tables := 0
	for _, name := range sortedKeys(files) {
		if name == "README.md" {
			continue
		}
		lines := strings.Split(files[name], "\n")
		connector := docConnector[name]
		for i := 0; i < len(lines); i++ {
			if m := headingConnector.FindStringSubmatch(lines[i]); m != nil {
				connector = m[1]
			}
			header := tableCells(lines[i])
			if !strings.HasPrefix(lines[i], "|") || strings.TrimSpace(header[0]) != "stream" {
				continue
			}
			col := map[string]int{}
			for k, h := range header {
				h = strings.TrimSpace(h)
				switch {
				case h == "primary key":
					col["pk"] = k
				case strings.HasPrefix(h, "sync modes"):
					col["modes"] = k
				case h == "cursor":
					col["cursor"] = k
				}
			}
			if _, ok := col["pk"]; !ok {
				continue // join ids and the like: no stream's definition
			}
			file := connectorCatalogs[connector]
			if file == "" {
				t.Errorf("%s:%d: a stream table under no heading naming a connector", name, i+1)
				continue
			}
			tables++
			want := catalogStreams(t, file)
			got := map[string]bool{}
			for j := i + 2; j < len(lines) && strings.HasPrefix(lines[j], "|"); j++ {
				cells := tableCells(lines[j])
				stream := strings.Trim(strings.TrimSpace(cells[0]), "`")
				got[stream] = true
				w, ok := want[stream]
				if !ok {
					t.Errorf("%s:%d: stream %q is not in %s", name, j+1, stream, file)
					continue
				}
				if d := describeRow(cells, col); d != w {
					t.Errorf("%s:%d: %s is %q in %s, the table says %q", name, j+1, stream, w, file, d)
				}
			}
			for s := range want {
				if !got[s] {
					t.Errorf("%s:%d: the table lacks stream %q of %s", name, i+1, s, file)
				}
			}
		}
	}
	// Guard the guard: streams.md has two, enablebanking.md one.
	if tables < 3 {
		t.Errorf("only %d stream tables found in docs/", tables)
	}
}

// describeRow is a stream table's row as catalogStreams describes a
// stream: "sync modes | primary key | cursor".
func describeRow(cells []string, col map[string]int) string {
	cell := func(name string) string {
		k, ok := col[name]
		if !ok || k >= len(cells) {
			return ""
		}
		return cells[k]
	}
	var keys []string
	for _, m := range backticked.FindAllStringSubmatch(cell("pk"), -1) {
		keys = append(keys, m[1])
	}
	modesText := cell("modes")
	var modes []string
	if strings.Contains(modesText, "full_refresh") || strings.Contains(modesText, "full refresh") {
		modes = append(modes, "full_refresh")
	}
	if strings.Contains(modesText, "incremental") {
		modes = append(modes, "incremental")
	}
	cursor := ""
	if _, ok := col["cursor"]; ok {
		if m := backticked.FindStringSubmatch(cell("cursor")); m != nil {
			cursor = m[1]
		}
	} else if m := cursorInModes.FindStringSubmatch(modesText); m != nil {
		cursor = m[1]
	}
	return strings.Join(modes, ", ") + " | " + strings.Join(keys, ", ") + " | " + cursor
}
