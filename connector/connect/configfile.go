package connect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/source-pluggy/source-pluggy/connector/internal/flock"
	"github.com/source-pluggy/source-pluggy/connector/internal/staletemp"
)

// EditList changes the id list field of the JSON config file at path: edit
// gets the current ids and returns the new ones. Everything else in the file
// is kept: the other fields' values byte for byte (only re-indented), their
// order, and the file's permissions. A field written as one comma-separated
// string (as Actual Budget users keep item_ids) stays a string.
//
// The new file replaces the old in one rename, so a crash leaves either the
// old config or the new one, never half of either. A symlinked config is
// written through the link. changed is false, and nothing is written, when
// edit returns the same ids.
func EditList(path, field string, edit func(ids []string) []string) (changed bool, err error) {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("reading the config %s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	// A byte order mark (Windows Notepad's) is read past, as the config
	// loader does, and kept.
	bom := []byte("\uFEFF")
	hasBOM := bytes.HasPrefix(raw, bom)
	members, err := objectMembers(bytes.TrimPrefix(raw, bom))
	if err != nil {
		return false, fmt.Errorf("config %s: %w", path, err)
	}
	i := -1
	for j, m := range members {
		if m.key == field {
			i = j
		}
	}
	var old []string
	asString := false
	if i >= 0 {
		if err := json.Unmarshal(members[i].value, &old); err != nil {
			var s string
			if json.Unmarshal(members[i].value, &s) != nil {
				return false, fmt.Errorf("config %s: %s is neither a list of strings nor a comma-separated string; fix it first", path, field)
			}
			asString, old = true, splitList(s)
		}
	}
	ids := edit(append([]string(nil), old...))
	if equal(ids, old) && i >= 0 {
		return false, nil
	}
	var value []byte
	if asString {
		value, _ = json.Marshal(strings.Join(ids, ","))
	} else {
		value, _ = json.Marshal(ids)
	}
	if i >= 0 {
		members[i].value = value
	} else {
		members = append(members, member{key: field, value: value})
	}
	data := encodeObject(members)
	if hasBOM {
		data = append(bom, data...)
	}
	return true, writeAtomic(path, data, info.Mode().Perm())
}

// AddIDs is EditList adding ids that are not there yet, at the end.
func AddIDs(path, field string, ids ...string) (bool, error) {
	return EditList(path, field, func(have []string) []string {
		seen := map[string]bool{}
		for _, id := range have {
			seen[strings.ToLower(id)] = true
		}
		for _, id := range ids {
			if !seen[strings.ToLower(id)] {
				seen[strings.ToLower(id)] = true
				have = append(have, id)
			}
		}
		return have
	})
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type member struct {
	key   string
	value json.RawMessage
}

// objectMembers splits a JSON object into its members, in file order.
func objectMembers(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{key, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return out, nil
}

func encodeObject(members []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		_ = json.Compact(&b, m.value)
	}
	b.WriteByte('}')
	var out bytes.Buffer
	_ = json.Indent(&out, b.Bytes(), "", "  ")
	out.WriteByte('\n')
	return out.Bytes()
}

// writeAtomic replaces path with data: a temporary file in the same
// directory (tempPattern), given perm before any byte is written, synced,
// then renamed over path. The temporary file is locked while it is open,
// so that removeStaleTemps, which first removes those killed runs left,
// leaves it to this one.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	removeStaleTemps(path)
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_ = flock.TryLock(f) // none other can hold a file this new
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where the OS allows
		d.Close()
	}
	return nil
}

// CheckWritable reports, before anything is linked, whether EditList
// could rewrite path: it needs a new file beside it (the folder writable),
// then renames it over path.
func CheckWritable(path string) error {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		// A config piped in (--config <(sops -d …)) is read, not rewritten.
		what := "a pipe"
		switch {
		case info.IsDir():
			what = "a directory"
		case info.Mode()&os.ModeSocket != 0:
			what = "a socket"
		case info.Mode()&os.ModeDevice != 0:
			what = "a device"
		}
		return fmt.Errorf("--write cannot rewrite %s: it is not a file but %s (as a config given as <(…) is); run without --write and add the id the command prints to the config yourself", path, what)
	}
	removeStaleTemps(path)
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return fmt.Errorf("--write cannot rewrite %s: its folder %s takes no new file (%w); make the folder writable, or run without --write and add the id the command prints yourself", path, dir, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// tempPattern is os.CreateTemp's pattern for the temporary files beside
// path: "." + its name + ".tmp-", to which CreateTemp adds digits.
func tempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// removeStaleTemps removes the temporary files beside path that earlier
// writeAtomic or CheckWritable calls left when their run was killed
// between creating and renaming or removing one (see staletemp.Remove).
func removeStaleTemps(path string) {
	staletemp.Remove(filepath.Dir(path), tempPattern(path))
}
