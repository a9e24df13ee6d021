package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzWriteMembers: an object written by WriteMembers is what
// encoding/json makes of the same members as a map, byte for byte, keys
// with HTML characters, control characters or invalid UTF-8 included, and
// head and tail go around it as they are.
func FuzzWriteMembers(f *testing.F) {
	f.Add("a", "b<&>", "\xff\x00é")
	f.Add("", "a", "\u2028")
	f.Fuzz(func(t *testing.T, k1, k2, k3 string) {
		m := map[string]json.RawMessage{}
		for i, k := range []string{k1, k2, k3} {
			m[k] = json.RawMessage(`{"n":` + string(rune('0'+i)) + `}`)
		}
		want, err := json.Marshal(map[string]any{"accounts": m})
		if err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		// encoding/json sorts a map's keys as Go strings, not as their
		// encodings.
		slices.Sort(keys)
		members := make([]Member, len(keys))
		for i, k := range keys {
			members[i] = Member{Key: k, Value: m[k]}
		}
		var got bytes.Buffer
		if err := WriteMembers(&got, []byte(`{"accounts":`), members, []byte(`}`)); err != nil {
			t.Fatal(err)
		}
		if got.String() != string(want) {
			t.Errorf("WriteMembers wrote\n%s\nencoding/json\n%s", got.Bytes(), want)
		}
	})
}

// failAfter fails its n-th write.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n--; f.n == 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// TestWriteMembersFails: whichever write fails, its error is WriteMembers'.
func TestWriteMembersFails(t *testing.T) {
	members := []Member{{"a", []byte("1")}, {"b", []byte("2")}}
	for n := 1; n <= 5; n++ {
		err := WriteMembers(&failAfter{n: n}, []byte("{"), members, []byte("}"))
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("write %d failing: WriteMembers returned %v", n, err)
		}
	}
	if err := WriteMembers(&failAfter{n: 6}, []byte("{"), members, []byte("}")); err != nil {
		t.Errorf("five writes: %v", err)
	}
}
