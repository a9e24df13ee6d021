package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// maxInputFile bounds config, catalog and state files: a real one is a few
// kilobytes (a state with tombstone ids a few megabytes), and a bound turns a
// wrong path (a log, a dump) into a clear error instead of a memory spike.
const maxInputFile = 64 << 20

// readInput reads a JSON input file named by flag, with the checks every input
// shares: a regular file, bounded, UTF-8. A device, socket or directory is
// refused before it is opened.
//
// A pipe is taken for --config, --catalog and --state, so that a config can
// come decrypted from a secrets tool without touching the disk
// (--config <(sops -d config.enc.json): the shell hands over /dev/fd/63, a
// pipe). It is opened without waiting for a writer: opened the usual way, a
// named pipe nobody writes to would hang the run forever; this way it reads
// as empty, which is refused. --state-file is written back, so it stays a
// regular file.
func readInput(flag, path string) ([]byte, error) {
	if path == "" {
		// --config "$CONFIG" with the variable unset: stat's error
		// ("stat : no such file or directory") named no file and no fix.
		return nil, ConfigErrorf("--%s is empty: give the path of the %s file", flag, flag)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, ConfigErrorf("cannot read --%s %s: %v", flag, path, err)
	}
	pipe := fi.Mode()&os.ModeNamedPipe != 0 && flag != "state-file"
	if !fi.Mode().IsRegular() && !pipe {
		return nil, ConfigErrorf("--%s %s is not a regular file (it is a %s); pass a JSON file", flag, path, fileKind(fi.Mode()))
	}
	var f *os.File
	if pipe {
		f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	} else {
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, ConfigErrorf("cannot read --%s %s: %v", flag, path, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxInputFile+1)); err != nil {
		return nil, ConfigErrorf("cannot read --%s %s: %v", flag, path, err)
	}
	if buf.Len() > maxInputFile {
		hint := "pass the right file"
		if flag == "state" {
			// A saved stdout is the usual state file this large: its
			// STATE lines are all --state needs.
			hint = fmt.Sprintf(`a saved stdout is: pass its STATE lines only (grep '"STATE"' %s > state.jsonl), or keep the state with --state-file`, path)
		}
		return nil, ConfigErrorf("--%s %s is larger than %d MiB; %s", flag, path, maxInputFile>>20, hint)
	}
	if pipe && buf.Len() == 0 {
		return nil, ConfigErrorf("--%s %s is a pipe nothing wrote to; pass a JSON file, or start what writes the pipe before the connector", flag, path)
	}
	if !utf8.Valid(buf.Bytes()) {
		return nil, ConfigErrorf("--%s %s is not valid UTF-8; save it as UTF-8 JSON", flag, path)
	}
	// A byte order mark, which Windows editors write at the start of a
	// UTF-8 file, is dropped (RFC 8259 §8.1 lets a parser ignore it):
	// kept, it failed as "invalid character 'ï'", naming no fix.
	return bytes.TrimPrefix(buf.Bytes(), []byte("\ufeff")), nil
}

// ReadInputFile is readInput for the Singer mode's --config, --catalog and
// --state: the same checks, the same messages.
func ReadInputFile(flag, path string) ([]byte, error) { return readInput(flag, path) }

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe (FIFO), which would block until something writes to it"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// trailing reports whether raw holds more than white space after the value
// dec has just decoded. json.Decoder.More does not do: it answers false
// before a stray "}" or "]", so {"a":1}}{ passed as one object.
func trailing(dec *json.Decoder, raw []byte) bool {
	return len(bytes.TrimSpace(raw[dec.InputOffset():])) > 0
}

// loadConfig reads, normalises and validates a config against the source's
// spec. Keys starting with "_" are dropped first, as Airbyte's acceptance
// tests do; keys the spec does not know are reported in warnings (they are
// most often a typo of an optional field) but do not fail the run, since the
// protocol asks sources to tolerate unknown keys.
func loadConfig(src Source, path string, secrets *secret.Redactor, keys configKeys) (cfg json.RawMessage, warnings []string, err error) {
	// For the commands that parse their own flags (connect, webhook): a
	// URL given as the path is quoted by readInput's refusal.
	AddURLSecrets(secrets, path)
	raw, err := readInput("config", path)
	if err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, nil, ConfigErrorf("config %s must be a JSON object: %v", path, describeJSONError(err))
	}
	if trailing(dec, raw) {
		return nil, nil, ConfigErrorf("config %s has data after its JSON object; a config file holds one object", path)
	}
	if k := duplicateKey(raw); k != "" {
		return nil, nil, ConfigErrorf("config %s holds the field %q twice; remove one of them (JSON readers differ on which one wins)", path, k)
	}
	for k := range obj {
		if strings.HasPrefix(k, "_") {
			delete(obj, k)
		}
	}
	// Secrets are registered before validation, whose messages may quote values.
	registerSecrets(src.Spec().ConnectionSpecification, obj, secrets)
	if n, ok := src.(ConfigNormalizer); ok {
		n.NormalizeConfig(obj)
	}
	spec := src.Spec().ConnectionSpecification
	if err := validateConfig(spec, obj); err != nil {
		return nil, nil, err
	}
	warnings = ignoreUnknownKeys(spec, obj, keys)
	cfg, err = json.Marshal(obj)
	if err != nil {
		return nil, nil, SystemErrorf("re-encoding config: %v", err)
	}
	return cfg, warnings, nil
}

func validateConfig(spec json.RawMessage, obj map[string]any) error {
	sch, err := CompileSchema("spec.json", spec)
	if err != nil {
		return SystemErrorf("the connector's own spec is invalid: %v", err)
	}
	// Round-trip through the validator's own decoder so numbers are typed
	// the way it expects.
	b, _ := json.Marshal(obj)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return SystemErrorf("re-decoding config: %v", err)
	}
	var doc any
	_ = json.Unmarshal(spec, &doc)
	root, _ := doc.(map[string]any)
	unreadable := unreadableNumbers("config", nil, inst, root, root) // the validator would crash on them
	var problems []string
	for _, path := range slices.Sorted(maps.Keys(unreadable)) {
		problems = append(problems, unreadable[path])
	}
	if err := sch.Validate(inst); err != nil {
		for _, p := range explain("config", err, doc, obj) {
			// Of a number taken out, the validator judged the 0 put in.
			if path, _, _ := strings.Cut(p, ": "); unreadable[path] == "" {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		return InvalidConfigf("%s", joinProblems(problems))
	}
	return nil
}

// configKeys are the config keys outside the spec that a run knows: those
// its caller reads itself (own), and those another mode of the binary
// reads (elsewhere; see Runner.Elsewhere).
type configKeys struct {
	own       []string
	elsewhere map[string]string
}

// ignoreUnknownKeys deletes from obj every key that is not a property of
// spec, and returns a warning for each one its caller does not read
// itself. Deleted, so that what the warning calls ignored is: sources
// decode the config with encoding/json, whose field match ignores case,
// and took "LOOKBACK_DAYS": 100000 or "Max_Concurrency": 1000 (warned
// about as not a setting, "did you mean lookback_days?") for the field
// itself, with none of the checks the schema makes of it. Keys a caller
// reads itself (the Singer tap's) it reads from the file, not from the
// config a source gets.
func ignoreUnknownKeys(spec json.RawMessage, obj map[string]any, keys configKeys) []string {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(spec, &s) != nil {
		return nil
	}
	known := make([]string, 0, len(s.Properties)+len(keys.own))
	for p := range s.Properties {
		known = append(known, p)
	}
	// The caller's own keys are settings of this command too (the Singer
	// tap's --about lists them).
	for _, k := range keys.own {
		if _, dup := s.Properties[k]; !dup {
			known = append(known, k)
		}
	}
	sort.Strings(known)
	var out []string
	for k := range obj {
		_, setting := s.Properties[k]
		if !setting {
			delete(obj, k) // safe while ranging over obj
		}
		if reader, ok := keys.elsewhere[k]; ok && !slices.Contains(keys.own, k) {
			out = append(out, fmt.Sprintf("config field %q is read by %s only; this command ignores it", k, reader))
			continue
		}
		if !setting && !slices.Contains(keys.own, k) {
			guess := ""
			if near := nearest(k, slices.Concat(known, slices.Collect(maps.Keys(keys.elsewhere)))); len(near) > 0 {
				guess = fmt.Sprintf(" (did you mean %s?)", strings.Join(near, " or "))
			}
			out = append(out, fmt.Sprintf("config field %q is not a setting of this connector and is ignored%s; known fields: %s", k, guess, strings.Join(known, ", ")))
		}
	}
	sort.Strings(out)
	return out
}

// nearest are the names among candidates that key most likely misspells
// (see nameDistance), the closest first; none when no name is close.
func nearest(key string, candidates []string) []string {
	best, out := -1, []string(nil)
	for _, c := range candidates {
		d := nameDistance(key, c)
		switch {
		case d < 0 || c == key || slices.Contains(out, c):
		case best < 0 || d < best:
			best, out = d, []string{c}
		case d == best:
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

// nameDistance says how far a config key is from a field name, or -1 when
// it is too far to be a misspelling of it. Case, "_" and "-" do not count
// (sessionIds, session-ids and Session_IDs are session_ids), nor does a
// plural for a singular (session_id, categories/category); beyond that, the
// edit distance (a swap of two neighbours is one edit) may be 2, or 1 for
// a name of 4 letters or fewer.
func nameDistance(key, name string) int {
	a, b := squash(key), squash(name)
	if a == b || singular(a) == singular(b) {
		return 0
	}
	limit := 2
	if min(len(a), len(b)) <= 4 {
		limit = 1
	}
	if d := editDistance(a, b); d <= limit {
		return d
	}
	return -1
}

func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

func singular(s string) string {
	switch {
	case strings.HasSuffix(s, "ies"):
		return strings.TrimSuffix(s, "ies") + "y"
	case strings.HasSuffix(s, "ss"):
		return s
	}
	return strings.TrimSuffix(s, "s")
}

// editDistance is the optimal string alignment distance of a and b: the
// inserts, deletes, substitutions and swaps of adjacent letters that make
// one the other.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}

func describeJSONError(err error) string {
	if err == nil {
		return "got null"
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%s: got a JSON %s", te.Field, te.Value)
		}
		return fmt.Sprintf("got a JSON %s", te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		// A decoder's words for input that stops mid-value.
		return "its JSON ends early: the file is cut short"
	case errors.Is(err, io.EOF):
		// An empty file (or one of white space, or a byte order mark
		// alone) was "EOF", which named no fix.
		return "the file holds no JSON value (it is empty)"
	}
	return err.Error()
}

// LoadConfig reads, normalises and validates the config at path the way
// check, discover and read do, for a provider's own commands (source-pluggy
// webhook register, say). Its secrets are added to secrets; warnings about
// unknown keys are dropped.
func LoadConfig(src Source, path string, secrets *secret.Redactor) (json.RawMessage, error) {
	cfg, _, err := loadConfig(src, path, secrets, configKeys{})
	return cfg, err
}

// UserMessage is err as the protocol's commands print it to a user.
func UserMessage(err error) string { return userMessage(err) }

// StartDateAfter is the config error for a start_date after today, or nil:
// a first sync from a future date reads nothing, and the state it leaves
// starts every account there, so the history before it would never be
// read. today is the API's date where the connector knows it; the error
// says the default instead (the last defaultDays days).
func StartDateAfter(startDate string, start, today time.Time, defaultDays int) error {
	if !start.After(today) {
		return nil
	}
	return InvalidConfigf("config.start_date: %s is after today (%s, UTC); set a date in the past, or leave it out to read the last %d days", startDate, today.Format(time.DateOnly), defaultDays)
}

// duplicateKey returns the path of the first object key that appears
// twice in one object of raw (which must be valid JSON), or "". encoding/json
// keeps the last of two equal keys without a word, so a config holding
// "client_secret" twice (one pasted over an old one, say) would run with
// whichever came last; a config is short and hand-edited, so that is worth
// an error rather than a guess. Values are never named: they may be secrets.
func duplicateKey(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var walk func(path string) string
	walk = func(path string) string {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return ""
				}
				k, _ := kt.(string)
				p := k
				if path != "" {
					p = path + "." + k
				}
				if seen[k] {
					return p
				}
				seen[k] = true
				if d := walk(p); d != "" {
					return d
				}
			}
			_, _ = dec.Token() // '}'
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if d := walk(fmt.Sprintf("%s[%d]", path, i)); d != "" {
					return d
				}
			}
			_, _ = dec.Token() // ']'
		}
		return ""
	}
	return walk("")
}
