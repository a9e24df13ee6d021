// Package docs_test keeps the manual true to the binaries. It builds every
// program under cmd/ and dev/, asks each for its --help (and each command's),
// and checks README.md and docs/*.md against what they answer:
//
//   - the README's two commands: the demo runs and the test command is the
//     one .ci/run runs;
//   - every invocation of one of our binaries (in a code block or an inline
//     code span, as `source-pluggy read ...`, `./source-gocardless-bank-data ...`,
//     `go run ./cmd/fake-pluggy ...`, `tap-pluggy ...`, `docker run ...
//     source-pluggy:TAG ...`, a Kubernetes container's `args:` under an
//     `image:` named for a connector) names a command the binary has (and,
//     for `webhook`, one of its own commands) and only flags that command
//     takes;
//   - every other flag the text names (`--no-records` in a table, say) is a
//     flag of some binary;
//   - every field in a config table (`| field | ...`) is in the spec of the
//     connector the heading above it (or the doc) is about, or in some
//     connector's where none is;
//   - the README's streams-at-a-glance tables match the catalogs they name;
//   - the other way round, every flag of every program under cmd/ is named
//     in some doc;
//   - every message a table quotes under "the message says" is what some
//     format of the program prints (messages_test.go).
//
// A failure names the file, the line and the token, so a doc that drifts
// from the code fails CI instead of misleading a user.
package docs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The README's two commands, as the README must print them.
const (
	demoCommand = "go run ./cmd/fake-pluggy demo"
	testCommand = "go test -race -count=1 -timeout 30m ./..."
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// program is one built binary and what its help says it accepts.
type program struct {
	name string
	path string
	// commands maps each command of an Airbyte-style connector (or a
	// fake's demo) to its flags; nil for a program without commands (the
	// bench). A command with commands of its own (webhook) has the flags
	// of all of them here, and each one's in subcommands.
	commands map[string]map[string]bool
	// subcommands maps a command with commands of its own (webhook) to
	// them (serve, register, list, delete) and each one's flags.
	subcommands map[string]map[string]map[string]bool
	// flags are the flags of a program without commands, or of a fake
	// run to serve (without its demo command).
	flags map[string]bool
	// goFlag: the program parses with the standard flag package, which
	// takes -name and --name alike.
	goFlag bool
}

// world is every program, by the names a doc may call it.
type world struct {
	programs map[string]*program
	// taps maps a Singer tap's name (tap-pluggy) to its connector, whose
	// `singer` command it is.
	taps map[string]string
	// allFlags is every flag of every program and command.
	allFlags map[string]bool
	// specFields is every property of every connector's spec.
	specFields map[string]bool
	// specOf is each connector's own, by its name.
	specOf map[string]map[string]bool
}

var (
	buildOnce sync.Once
	built     *world
	buildErr  error
	binDir    string // where buildWorld put the binaries; removed by TestMain
)

// TestMain removes the binaries the tests built: a few hundred megabytes a
// run, which filled the disk of a machine running the tests all day.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// programs builds everything under cmd/ and dev/ once per test process.
func programs(t *testing.T) *world {
	t.Helper()
	buildOnce.Do(func() { built, buildErr = buildWorld() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func buildWorld() (*world, error) {
	root := repoRoot()
	dir, err := os.MkdirTemp("", "docs-test-bin-")
	if err != nil {
		return nil, err
	}
	binDir = dir
	var pkgs []string
	for _, parent := range []string{"cmd", "dev"} {
		entries, _ := os.ReadDir(filepath.Join(root, parent))
		for _, e := range entries {
			if _, err := os.Stat(filepath.Join(root, parent, e.Name(), "main.go")); err == nil {
				pkgs = append(pkgs, "./"+parent+"/"+e.Name())
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %v: %w\n%s", pkgs, err, out)
	}
	w := &world{programs: map[string]*program{}, taps: map[string]string{}, allFlags: map[string]bool{}, specFields: map[string]bool{}, specOf: map[string]map[string]bool{}}
	for _, pkg := range pkgs {
		name := filepath.Base(pkg)
		p := &program{name: name, path: filepath.Join(dir, name)}
		help := helpOf(ctx, p.path, "--help")
		cmds := commandsIn(help, name)
		if len(cmds) == 0 || strings.Contains(help, "Usage of "+name) {
			// Flags of its own: a program without commands, or a fake,
			// which serves with its flags and has a demo command.
			p.goFlag = strings.Contains(help, "Usage of "+name)
			p.flags = flagsIn(help)
		}
		if len(cmds) > 0 {
			p.commands = map[string]map[string]bool{}
			for _, c := range cmds {
				h := helpOf(ctx, p.path, c, "--help")
				flags := flagsIn(h)
				// A command with commands of its own: their flags count too.
				for _, sub := range commandsIn(h, name+" "+c) {
					subFlags := flagsIn(helpOf(ctx, p.path, c, sub, "--help"))
					for f := range subFlags {
						flags[f] = true
					}
					if p.subcommands == nil {
						p.subcommands = map[string]map[string]map[string]bool{}
					}
					if p.subcommands[c] == nil {
						p.subcommands[c] = map[string]map[string]bool{}
					}
					p.subcommands[c][sub] = subFlags
				}
				p.commands[c] = flags
				if c == "singer" {
					if m := regexp.MustCompile(`\btap-[a-z0-9]+`).FindString(h); m != "" {
						w.taps[m] = name
					}
				}
			}
			if _, ok := p.commands["spec"]; ok {
				own := map[string]bool{}
				if err := addSpecFields(ctx, p.path, own); err != nil {
					return nil, err
				}
				w.specOf[name] = own
				for f := range own {
					w.specFields[f] = true
				}
			}
		}
		w.programs[name] = p
		for f := range p.flags {
			w.allFlags[f] = true
		}
		for _, fs := range p.commands {
			for f := range fs {
				w.allFlags[f] = true
			}
		}
	}
	return w, nil
}

// helpOf is what bin prints, on stdout and stderr, for args.
func helpOf(ctx context.Context, bin string, args ...string) string {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // --help may exit non-zero; what it printed is what counts
	return out.String()
}

// commandsIn lists the commands a usage text shows as "  <prefix> <command>".
func commandsIn(help, prefix string) []string {
	re := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(prefix) + ` +([a-z][a-z0-9-]*)\b`)
	var cmds []string
	for _, m := range re.FindAllStringSubmatch(help, -1) {
		if !slices.Contains(cmds, m[1]) {
			cmds = append(cmds, m[1])
		}
	}
	return cmds
}

// flagsIn lists the flags a help text defines: lines that begin with one
// (pflag's "  -x, --name type" and "      --name", flag's "  -name").
func flagsIn(help string) map[string]bool {
	re := regexp.MustCompile(`(?m)^\s+(?:-[a-zA-Z], )?--?([a-z][a-z0-9-]*)\b`)
	flags := map[string]bool{"help": true, "h": true}
	for _, m := range re.FindAllStringSubmatch(help, -1) {
		flags[m[1]] = true
	}
	return flags
}

// addSpecFields adds the property names of bin's spec (nested ones too).
func addSpecFields(ctx context.Context, bin string, fields map[string]bool) error {
	out, err := exec.CommandContext(ctx, bin, "spec").Output()
	if err != nil {
		return fmt.Errorf("%s spec: %w", bin, err)
	}
	var m struct {
		Spec struct {
			ConnectionSpecification json.RawMessage `json:"connectionSpecification"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &m); err != nil {
		return fmt.Errorf("%s spec: %w", bin, err)
	}
	var walk func(raw json.RawMessage)
	walk = func(raw json.RawMessage) {
		var s struct {
			Properties map[string]json.RawMessage `json:"properties"`
			OneOf      []json.RawMessage          `json:"oneOf"`
			AnyOf      []json.RawMessage          `json:"anyOf"`
		}
		if json.Unmarshal(raw, &s) != nil {
			return
		}
		for k, v := range s.Properties {
			fields[k] = true
			walk(v)
		}
		for _, v := range append(s.OneOf, s.AnyOf...) {
			walk(v)
		}
	}
	walk(m.Spec.ConnectionSpecification)
	return nil
}

// docFiles is README.md and every docs/*.md, by path relative to the root.
func docFiles(t *testing.T) map[string]string {
	t.Helper()
	root := repoRoot()
	paths, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, p := range append([]string{filepath.Join(root, "README.md")}, paths...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		files[rel] = string(b)
	}
	return files
}

// TestDocsNameOnlyRealCommandsAndFlags is the check itself, on the real
// README.md and docs/*.md.
func TestDocsNameOnlyRealCommandsAndFlags(t *testing.T) {
	w := programs(t)
	if len(w.programs["source-pluggy"].commands["read"]) < 4 || len(w.taps) == 0 || !w.specFields["client_id"] {
		t.Fatalf("the binaries' help was not understood: source-pluggy read flags %v, taps %v", w.programs["source-pluggy"].commands["read"], w.taps)
	}
	files := docFiles(t)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	checked := 0
	for _, name := range names {
		problems, n := w.check(name, files[name])
		t.Logf("%s: %d invocations, flags and fields checked", name, n)
		checked += n
		for _, p := range problems {
			t.Error(p)
		}
	}
	// Guard the guard: a scanner that recognised nothing would pass.
	if checked < 50 {
		t.Errorf("only %d invocations and flags were checked across %d files; the scanner is not reading the docs", checked, len(files))
	}
}

// TestEveryFlagIsDocumented is the check the other way round: every flag
// of every program under cmd/ (the connectors' commands, the fakes and
// their demos) is named somewhere in README.md or docs/*.md, so a flag
// added to a binary without a word in the manual fails CI. Development
// tools under dev/ document themselves in their doc comments.
func TestEveryFlagIsDocumented(t *testing.T) {
	w := programs(t)
	var all strings.Builder
	for _, text := range docFiles(t) {
		all.WriteString(text)
		all.WriteByte('\n')
	}
	docs := all.String()
	checked := 0
	for _, name := range sortedKeys(w.programs) {
		if _, err := os.Stat(filepath.Join(repoRoot(), "cmd", name)); err != nil {
			continue
		}
		p := w.programs[name]
		sets := map[string]map[string]bool{"": p.flags}
		for c, flags := range p.commands {
			sets[c] = flags
		}
		for _, c := range sortedKeys(sets) {
			for _, f := range sortedKeys(sets[c]) {
				if f == "help" || f == "h" {
					continue
				}
				checked++
				if !regexp.MustCompile(`(^|[^A-Za-z0-9_-])--?` + regexp.QuoteMeta(f) + `\b`).MatchString(docs) {
					t.Errorf("%s: flag --%s is named in no doc; say what it does (docs/commands.md lists the commands)", strings.TrimSpace(name+" "+c), f)
				}
			}
		}
	}
	// Guard the guard: the connectors alone have dozens of flags.
	if checked < 40 {
		t.Errorf("only %d flags were checked; the help texts were not understood", checked)
	}
}

// TestCheckerCatchesWhatIsWrong feeds the checker a doc with every kind of
// mistake, so the check above cannot pass by accident.
func TestCheckerCatchesWhatIsWrong(t *testing.T) {
	w := programs(t)
	doc := strings.Join([]string{
		"# A doc", // 1
		"",        // 2
		"```sh",   // 3
		"./source-pluggy read --config c.json --catalog k.json --no-such-flag > out.jsonl", // 4
		"source-pluggy fetch --config c.json",                                              // 5
		"tap-pluggy --config c.json --discover --bogus-tap",                                // 6
		"go run ./cmd/fake-pluggy --items 2 -no-such-fake",                                 // 7
		"docker run --rm source-pluggy:0.1.0 check --config /data/c.json --bad-docker",     // 8
		"source-pluggy read --config c.json \\",                                            // 9
		"  --catalog k.json --continued-bad",                                               // 10
		"npm install --prefix x --whatever",                                                // 11: not ours, not checked
		"```",                                                                              // 12
		"",                                                                                 // 13
		"Use `--made-up-flag` with care, and `source-pluggy check --config c.json --nope`.", // 14
		"",                                      // 15
		"| field | meaning |",                   // 16
		"|---|---|",                             // 17
		"| `client_id` | fine |",                // 18
		"| `no_such_field` | not in any spec |", // 19
		"",
		"`source-pluggy read --config c.json --catalog k.json --parquet-dir pq` is right.",                    // 21
		"`go run ./cmd/fake-pluggy demo --items 2 --no-such-demo` is not.",                                    // 22
		"`go run ./cmd/fake-pluggy demo --out /tmp/d --items 1` and `go run ./cmd/fake-pluggy -items 1` are.", // 23
		"```yaml", // 24
		"      - image: registry.example.com/source-pluggy:0.1.0",             // 25
		"        args: [webhook, serve, --listen, \":8080\", --no-such-yaml]", // 26
		"        args:",                    // 27
		"          - read",                 // 28
		"          - --config=/etc/c.json", // 29
		"          - --bad-block",          // 30
		"```",                              // 31
		"",                                 // 32
		"`source-pluggy webhook serv --listen :8080`, `source-pluggy webhook list --config c.json --url https://x`", // 33
		"`source-pluggy webhook register --config c.json --url https://x --header A=B` is right.",                   // 34
		"",                               // 35
		"## source-gocardless-bank-data", // 36
		"",                               // 37
		"| field | meaning |",            // 38
		"|---|---|",                      // 39
		"| `secret_id` | fine |",         // 40
		"| `trigger_item_update` | source-pluggy's only |", // 41
	}, "\n")
	problems, _ := w.check("bad.md", doc)
	want := []string{
		`bad.md:4: "--no-such-flag"`,
		`bad.md:5: "fetch"`,
		`bad.md:6: "--bogus-tap"`,
		`bad.md:7: "-no-such-fake"`,
		`bad.md:8: "--bad-docker"`,
		`bad.md:9: "--continued-bad"`,
		`bad.md:14: "--made-up-flag"`,
		`bad.md:14: "--nope"`,
		`bad.md:19: "no_such_field"`,
		`bad.md:22: "--no-such-demo"`,
		`bad.md:26: "--no-such-yaml"`,
		`bad.md:27: "--bad-block"`,
		`bad.md:33: "serv"`,
		`bad.md:33: "--url"`,
		`bad.md:41: "trigger_item_update" is not a field of source-gocardless-bank-data's spec`,
	}
	for _, wnt := range want {
		found := false
		for _, p := range problems {
			if strings.HasPrefix(p, wnt) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem reported starting %s; got:\n%s", wnt, strings.Join(problems, "\n"))
		}
	}
	if len(problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(problems), len(want), strings.Join(problems, "\n"))
	}
}

// TestREADMECommands checks the README's two commands: the demo runs to the
// end with everything caught, and the test command is the one CI runs.
func TestREADMECommands(t *testing.T) {
	readme := docFiles(t)["README.md"]
	blocks := codeLines(readme)
	for _, c := range []string{demoCommand, testCommand} {
		if !slices.Contains(blocks, c) {
			t.Errorf("README.md has no code line %q", c)
		}
	}
	ci, err := os.ReadFile(filepath.Join(repoRoot(), ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Split(string(ci), "\n"), testCommand) {
		t.Errorf(".ci/run does not run the README's test command %q", testCommand)
	}
	if testing.Short() {
		t.Skip("runs the demo")
	}
	w := programs(t)
	fields := strings.Fields(demoCommand) // go run ./cmd/NAME ARGS...
	bin := w.programs[filepath.Base(fields[2])]
	if bin == nil {
		t.Fatalf("%q: no program %s", demoCommand, fields[2])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin.path, append(fields[3:], "--out", t.TempDir())...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", demoCommand, err, out.String())
	}
	if strings.Contains(out.String(), "MISSING") || !strings.Contains(out.String(), "found  ok") {
		t.Errorf("%s: the second sync did not catch every change:\n%s", demoCommand, out.String())
	}
}

// codeLines is every line inside the fenced code blocks of a Markdown text.
func codeLines(text string) []string {
	var lines []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			in = !in
			continue
		}
		if in {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

var (
	inlineCode = regexp.MustCompile("`([^`]+)`")
	proseFlag  = regexp.MustCompile(`(?:^|[\s(])(--[a-z][a-z0-9-]*)`)
	fieldRow   = regexp.MustCompile("^\\|\\s*`([a-z_][a-z0-9_]*)`(?:,\\s*`([a-z_][a-z0-9_]*)`)?\\s*\\|")
	flagName   = regexp.MustCompile(`^--?([a-z][a-z0-9-]*)(=.*)?$`)
	// A YAML container's image (registry.example.com/source-pluggy:0.1.0),
	// its args as a flow list or a block list, and a block list's item.
	yamlImage = regexp.MustCompile(`^\s*(?:-\s+)?image:\s*["']?(?:[^\s"':]*/)?([a-z0-9-]+):[^\s"']+`)
	yamlArgs  = regexp.MustCompile(`^\s*(?:-\s+)?args:\s*(?:\[(.*)\])?\s*$`)
	yamlItem  = regexp.MustCompile(`^\s*-\s+(.*?)\s*$`)
)

// check reports every problem in one Markdown file, and how many
// invocations and flags it checked.
func (w *world) check(file, text string) (problems []string, checked int) {
	report := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: ", file, line)+fmt.Sprintf(format, args...))
	}
	lines := strings.Split(text, "\n")
	inCode, inFieldTable := false, false
	// The connector the text is about: a field table under its heading
	// (or in its own doc) lists its spec's fields.
	connector := docConnector[file]
	var image *program // the program a YAML block's last image: runs
	for i := 0; i < len(lines); i++ {
		line, at := lines[i], i+1
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			inCode, image = !inCode, nil
			continue
		}
		if !inCode {
			if m := headingConnector.FindStringSubmatch(line); m != nil {
				connector = m[1]
			}
		}
		if inCode {
			// A Kubernetes container: its args are a command line of the
			// program its image is named for.
			if m := yamlImage.FindStringSubmatch(line); m != nil {
				image = w.programs[m[1]]
			}
			if m := yamlArgs.FindStringSubmatch(line); m != nil && image != nil {
				var items []string
				if m[1] != "" {
					items = strings.Split(m[1], ",")
				} else {
					for i+1 < len(lines) && yamlItem.MatchString(lines[i+1]) {
						i++
						items = append(items, yamlItem.FindStringSubmatch(lines[i])[1])
					}
				}
				if len(items) > 0 && !strings.HasPrefix(strings.TrimSpace(items[0]), "|") && !strings.HasPrefix(strings.TrimSpace(items[0]), ">") {
					tokens := []string{image.name}
					for _, it := range items {
						tokens = append(tokens, strings.Trim(strings.TrimSpace(it), `"'`))
					}
					checked += w.checkSegment(tokens, func(f string, a ...any) { report(at, f, a...) })
				}
				continue
			}
			// A command continued with a trailing backslash is one command.
			for strings.HasSuffix(strings.TrimSpace(line), `\`) && i+1 < len(lines) {
				i++
				line = strings.TrimSuffix(strings.TrimSpace(line), `\`) + " " + lines[i]
			}
			checked += w.checkCommand(strings.TrimSpace(line), false, func(f string, a ...any) { report(at, f, a...) })
			continue
		}
		// A config table: a header row "| field |", then rows of `name`s.
		if strings.HasPrefix(trimmed, "|") {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(strings.TrimPrefix(trimmed, "|"))), "field ") {
				inFieldTable = true
				continue
			}
			if inFieldTable {
				if m := fieldRow.FindStringSubmatch(trimmed); m != nil {
					for _, f := range m[1:] {
						if f == "" {
							continue
						}
						checked++
						switch own := w.specOf[connector]; {
						case own != nil && !own[f]:
							report(at, "%q is not a field of %s's spec (see `%s spec`)", f, connector, connector)
						case !w.specFields[f]:
							report(at, "%q is not a field of any connector's spec (see `spec`)", f)
						}
					}
				}
			}
		} else {
			inFieldTable = false
		}
		// Inline code: an invocation, or a bare flag.
		for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
			checked += w.checkCommand(m[1], true, func(f string, a ...any) { report(at, f, a...) })
		}
		// Flags in the prose itself.
		for _, m := range proseFlag.FindAllStringSubmatch(inlineCode.ReplaceAllString(line, ""), -1) {
			checked++
			if !w.allFlags[strings.TrimPrefix(m[1], "--")] {
				report(at, "%q is not a flag of any binary", m[1])
			}
		}
	}
	return problems, checked
}

// checkCommand checks one shell line or inline code span. A segment (split
// at pipes, redirections and ;, &&, ||) that invokes one of our programs
// must use a command it has and flags that command takes; with bare set, a
// span that is just flags (`--no-records`, `[--state FILE]`) must name flags
// some program takes.
func (w *world) checkCommand(line string, bare bool, report func(string, ...any)) (checked int) {
	if i := strings.Index(line, " #"); i >= 0 {
		line = line[:i]
	}
	tokens := strings.Fields(line)
	if len(tokens) == 0 || strings.HasPrefix(tokens[0], "#") {
		return 0
	}
	if bare && flagName.MatchString(cleanToken(tokens[0])) {
		// `--no-records`, `[--state FILE]`, `-compare-node`: flags alone.
		for _, tok := range tokens {
			if m := flagName.FindStringSubmatch(cleanToken(tok)); m != nil {
				checked++
				if !w.allFlags[m[1]] {
					report("%q is not a flag of any binary", cleanToken(tok))
				}
			}
		}
		return checked
	}
	var segment []string
	flush := func() {
		checked += w.checkSegment(segment, report)
		segment = nil
	}
	for _, tok := range tokens {
		switch {
		case tok == "|" || tok == "||" || tok == "&&" || tok == ";" || tok == "&":
			flush()
		case strings.HasPrefix(tok, ">") || strings.HasPrefix(tok, "<") || strings.HasPrefix(tok, "2>") || strings.HasPrefix(tok, "1>"):
			flush()
		default:
			segment = append(segment, tok)
		}
	}
	flush()
	return checked
}

// checkSegment checks one simple command, if it runs one of our programs.
func (w *world) checkSegment(tokens []string, report func(string, ...any)) (checked int) {
	for i := 0; i < len(tokens); i++ {
		prog, command, args := w.invocation(tokens, i)
		if prog == nil {
			continue
		}
		checked++
		if prog.commands == nil || command == "" && prog.flags != nil && (len(args) == 0 || strings.HasPrefix(cleanToken(args[0]), "-")) {
			// A program without commands, or one (a fake) run with its own
			// flags rather than a command.
			for _, a := range args {
				checked += w.checkFlag(prog, prog.flags, prog.name, a, report)
			}
			return checked
		}
		if command == "" {
			// `source-pluggy COMMAND ...` or a bare mention: find the command.
			for len(args) > 0 {
				a := cleanToken(args[0])
				args = args[1:]
				if a == "" || strings.HasPrefix(a, "-") {
					continue
				}
				if a == strings.ToUpper(a) || strings.HasPrefix(a, "$") {
					return checked // a placeholder: COMMAND, $cmd
				}
				command = a
				break
			}
			if command == "" {
				return checked
			}
		}
		flags, ok := prog.commands[command]
		if !ok {
			report("%q is not a command of %s (it has: %s)", command, prog.name, strings.Join(sortedKeys(prog.commands), ", "))
			return checked
		}
		if subs := prog.subcommands[command]; subs != nil && len(args) > 0 {
			// `webhook serve --listen …`: the command's own command, and
			// only its flags (`webhook list --url` is wrong though
			// register takes --url).
			sub := cleanToken(args[0])
			if sub != "" && !strings.HasPrefix(sub, "-") && sub != strings.ToUpper(sub) && !strings.HasPrefix(sub, "$") {
				checked++
				subFlags, ok := subs[sub]
				if !ok {
					report("%q is not a command of %s %s (it has: %s)", sub, prog.name, command, strings.Join(sortedKeys(subs), ", "))
					return checked
				}
				command, flags, args = command+" "+sub, subFlags, args[1:]
			}
		}
		for _, a := range args {
			checked += w.checkFlag(prog, flags, prog.name+" "+command, a, report)
		}
		return checked
	}
	return checked
}

// invocation recognises a program started at tokens[i]: the program, its
// command when the form implies one (a tap is its connector's `singer`),
// and the arguments after it.
func (w *world) invocation(tokens []string, i int) (*program, string, []string) {
	tok := strings.Trim(tokens[i], `"'`)
	rest := tokens[i+1:]
	switch {
	case tok == "go" && len(rest) >= 2 && rest[0] == "run":
		name := filepath.Base(strings.TrimSuffix(rest[1], "/"))
		if p := w.programs[name]; p != nil && (strings.HasPrefix(rest[1], "./cmd/") || strings.HasPrefix(rest[1], "./dev/")) {
			return p, "", rest[2:]
		}
		return nil, "", nil
	case tok == "docker" || tok == "podman":
		// docker run [its flags] IMAGE [args]: an image named for a
		// connector runs it, or the tap its --entrypoint names.
		if len(rest) == 0 || rest[0] != "run" {
			return nil, "", nil
		}
		entry := ""
		for j := 1; j < len(rest); j++ {
			if rest[j] == "--entrypoint" && j+1 < len(rest) {
				entry = filepath.Base(rest[j+1])
			}
			image := filepath.Base(rest[j])
			if k := strings.IndexByte(image, ':'); k > 0 {
				if p := w.programs[image[:k]]; p != nil {
					if c, ok := w.taps[entry]; ok {
						return w.programs[c], "singer", rest[j+1:]
					}
					return p, "", rest[j+1:]
				}
			}
		}
		return nil, "", nil
	}
	base := filepath.Base(tok)
	if base != tok && !strings.HasPrefix(tok, "./") && !strings.HasPrefix(tok, "/") {
		return nil, "", nil
	}
	if !startsCommand(tokens[:i]) {
		return nil, "", nil // an argument of another command: meltano select tap-pluggy --list
	}
	if c, ok := w.taps[base]; ok {
		return w.programs[c], "singer", rest
	}
	if p := w.programs[base]; p != nil {
		return p, "", rest
	}
	return nil, "", nil
}

// startsCommand says whether what precedes a word leaves it in command
// position: nothing, environment assignments, or a wrapper such as
// `/usr/bin/time -v` or `sudo`.
func startsCommand(before []string) bool {
	for _, t := range before {
		switch {
		case t == "sudo" || t == "exec" || t == "env" || t == "nohup" || t == "time" || t == "/usr/bin/time" || t == "-v":
		case strings.Contains(t, "=") && !strings.HasPrefix(t, "-"):
		default:
			return false
		}
	}
	return true
}

// checkFlag checks one argument, if it is a flag.
func (w *world) checkFlag(p *program, flags map[string]bool, what, arg string, report func(string, ...any)) int {
	a := cleanToken(arg)
	m := flagName.FindStringSubmatch(a)
	if m == nil {
		return 0
	}
	if !p.goFlag && !strings.HasPrefix(a, "--") {
		report("%q: %s takes flags as --name", a, what)
		return 1
	}
	if !flags[m[1]] {
		report("%q is not a flag of %s (its flags: %s)", a, what, strings.Join(sortedKeys(flags), ", "))
	}
	return 1
}

// cleanToken strips the brackets, quotes and punctuation a doc wraps an
// argument in: [--state FILE], "--flag", --flag, --flag).
func cleanToken(tok string) string {
	return strings.TrimRight(strings.TrimLeft(tok, `["'(`), `]"'),.;:`)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestREADMEStreamsMatchTheCatalogs checks the README's "streams at a
// glance" tables against the catalogs they name (catalogs/*.json, which
// TestCatalogFiles keeps equal to what discover prints): the same streams,
// sync modes, primary keys and cursors, and a table for every connector.
func TestREADMEStreamsMatchTheCatalogs(t *testing.T) {
	readme := docFiles(t)["README.md"]
	catalogRef := regexp.MustCompile("`(catalogs/[a-z_]+\\.json)`")
	lines := strings.Split(readme, "\n")
	named := map[string]bool{} // the catalogs a table was checked against
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "| stream | sync modes | primary key | cursor |") {
			continue
		}
		// The catalog is named in the paragraph just above the table.
		file := ""
		for j := i - 1; j >= 0 && j >= i-3; j-- {
			if m := catalogRef.FindStringSubmatch(lines[j]); m != nil {
				file = m[1]
				break
			}
		}
		if file == "" {
			t.Errorf("README.md:%d: a streams table without a `catalogs/...json` named above it", i+1)
			continue
		}
		named[file] = true
		want := catalogStreams(t, file)
		got := map[string]string{}
		for j := i + 2; j < len(lines) && strings.HasPrefix(lines[j], "|"); j++ {
			cells := strings.Split(strings.Trim(lines[j], "|"), "|")
			if len(cells) != 4 {
				t.Errorf("README.md:%d: want 4 cells, got %q", j+1, lines[j])
				continue
			}
			for k := range cells {
				cells[k] = strings.Join(strings.Fields(strings.ReplaceAll(cells[k], "`", "")), " ")
			}
			got[cells[0]] = strings.Join(cells[1:], " | ")
			if w, ok := want[cells[0]]; !ok {
				t.Errorf("README.md:%d: stream %q is not in %s", j+1, cells[0], file)
			} else if w != got[cells[0]] {
				t.Errorf("README.md:%d: %s is %q in %s, the README says %q", j+1, cells[0], w, file, got[cells[0]])
			}
		}
		for name := range want {
			if _, ok := got[name]; !ok {
				t.Errorf("README.md:%d: the table lacks stream %q of %s", i+1, name, file)
			}
		}
	}
	// Every connector has its table, not a sentence nothing checks.
	for _, file := range connectorCatalogs {
		if !named[file] {
			t.Errorf("README.md has no streams-at-a-glance table for %s", file)
		}
	}
}

// catalogStreams reads a configured catalog as the README's tables show
// it: stream name → "sync modes | primary key | cursor".
func catalogStreams(t *testing.T, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), file))
	if err != nil {
		t.Fatal(err)
	}
	var cat struct {
		Streams []struct {
			Stream struct {
				Name                string     `json:"name"`
				SupportedSyncModes  []string   `json:"supported_sync_modes"`
				SourceDefinedPK     [][]string `json:"source_defined_primary_key"`
				DefaultCursorField  []string   `json:"default_cursor_field"`
				SourceDefinedCursor bool       `json:"source_defined_cursor"`
			} `json:"stream"`
			PrimaryKey  [][]string `json:"primary_key"`
			CursorField []string   `json:"cursor_field"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	out := map[string]string{}
	for _, s := range cat.Streams {
		pk := s.PrimaryKey
		if len(pk) == 0 {
			pk = s.Stream.SourceDefinedPK
		}
		var keys []string
		for _, k := range pk {
			keys = append(keys, strings.Join(k, "."))
		}
		cursor := s.CursorField
		if len(cursor) == 0 && slices.Contains(s.Stream.SupportedSyncModes, "incremental") {
			cursor = s.Stream.DefaultCursorField
		}
		out[s.Stream.Name] = strings.Join(s.Stream.SupportedSyncModes, ", ") + " | " + strings.Join(keys, ", ") + " | " + strings.Join(cursor, ".")
	}
	return out
}
