package jsonrow

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

func TestAdd(t *testing.T) {
	for _, c := range []struct {
		name, raw string
		fields    []Field
		want      string
	}{
		{"one", `{"a":1}`, []Field{String("k", "v")}, `{"k":"v","a":1}`},
		{"empty object", `{}`, []Field{String("k", "v")}, `{"k":"v"}`},
		{"spaces kept", ` { "a" : "0.10" }`, []Field{String("k", "v")}, `{"k":"v","a" : "0.10" }`},
		{"present at top", `{"k":"old","a":1}`, []Field{String("k", "v")}, `{"k":"old","a":1}`},
		{"nested only", `{"x":{"k":1},"a":1}`, []Field{String("k", "v")}, `{"k":"v","x":{"k":1},"a":1}`},
		{"in a value only", `{"x":"\"k\"","a":1}`, []Field{String("k", "v")}, `{"k":"v","x":"\"k\"","a":1}`},
		{"several", `{"a":1}`, []Field{String("k", "v"), Raw("d", json.RawMessage(`{"z":true}`)), Raw("n", nil)}, `{"k":"v","d":{"z":true},"n":null,"a":1}`},
		{"not an object", `[1]`, []Field{String("k", "v")}, `[1]`},
		{"escaping", `{"a":1}`, []Field{String("k", "Zoë \"x\" <&>")}, `{"k":"Zoë \"x\" \u003c\u0026\u003e","a":1}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := string(Add([]byte(c.raw), c.fields...))
			if got != c.want {
				t.Fatalf("Add = %s, want %s", got, c.want)
			}
			if c.raw[0] == '{' || c.raw[0] == ' ' {
				var v map[string]any
				if err := json.Unmarshal([]byte(got), &v); err != nil {
					t.Fatalf("result is not JSON: %v", err)
				}
			}
		})
	}
}

func TestJoin(t *testing.T) {
	if got := string(Join([]byte(`{"id":"t1"}`), "itemId", "i1")); got != `{"itemId":"i1","id":"t1"}` {
		t.Fatal(got)
	}
}

func TestHasKey(t *testing.T) {
	raw := []byte(`{"a":{"b":[{"c":1}]},"d":"c","e":[1,"c"]}`)
	for key, want := range map[string]bool{"a": true, "d": true, "e": true, "b": false, "c": false, "z": false} {
		if got := HasKey(raw, key); got != want {
			t.Errorf("HasKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestHasKeyEscaped(t *testing.T) {
	for raw, want := range map[string]bool{
		`{"item\u0049d":"x","a":1}`:       true,
		`{"a":"\"itemId\"","b":1}`:        false,
		`{"a":{"item\u0049d":1}}`:         false,
		`{"a":[1,{"itemId":2}],"b":"\\"}`: false,
		`{"a":"\\","itemId":2}`:           true,
	} {
		if got := HasKey([]byte(raw), "itemId"); got != want {
			t.Errorf("HasKey(%s) = %v, want %v", raw, got, want)
		}
		row := Row{Raw: []byte(raw), Fields: []Field{String("itemId", "i1")}}
		var m map[string]any
		if err := json.Unmarshal(row.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", row.Bytes(), err)
		}
		d := json.NewDecoder(bytes.NewReader(row.Bytes()))
		n := 0
		d.Token()
		for d.More() {
			k, _ := d.Token()
			if k == "itemId" {
				n++
			}
			var skip json.RawMessage
			d.Decode(&skip)
		}
		if n != 1 {
			t.Errorf("%s has itemId %d times at the top level", row.Bytes(), n)
		}
	}
}

func TestAppendStringLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "Zoë \"x\" <&>", "a\nb\tc\x01", "bad \xff utf8", "line\u2028sep", "\\"} {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestFillNull(t *testing.T) {
	for in, want := range map[string]string{
		`{"id":"m1","investmentId":null,"amount":1.5}`:   `{"id":"m1","investmentId":"inv","amount":1.5}`,
		`{"id":"m1","investmentId" : null }`:             `{"id":"m1","investmentId" : "inv" }`,
		`{"id":"m1"}`:                                    `{"id":"m1"}`,
		`{"id":"m1","investmentId":"other"}`:             `{"id":"m1","investmentId":"other"}`,
		`{"nested":{"investmentId":null},"id":"m1"}`:     `{"nested":{"investmentId":null},"id":"m1"}`,
		`{"id":"m1","investmentId":null,"x":{"y":null}}`: `{"id":"m1","investmentId":"inv","x":{"y":null}}`,
	} {
		if got := string(FillNull([]byte(in), "investmentId", "inv")); got != want {
			t.Errorf("FillNull(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestAppendToOneLine: a row that spans lines is compacted, and one that is
// not JSON at all (no reader should hand one over) still never breaks the
// line its message is on.
func TestAppendToOneLine(t *testing.T) {
	for raw, want := range map[string]string{
		"{\n \"a\": 1,\r\n \"b\": [2]\n}": `{"k":"v","a":1,"b":[2]}`,
		"{\"a\":\n1,}":                    `{"k":"v","a": 1,}`,
	} {
		got := string(Row{Raw: []byte(raw), Fields: []Field{String("k", "v")}}.AppendTo(nil))
		if got != want {
			t.Errorf("AppendTo(%q) = %s, want %s", raw, got, want)
		}
	}
}

// TestAddedSeveralKeysEscaped: the escape search done once per row still
// finds each added key however the row spells it.
func TestAddedSeveralKeysEscaped(t *testing.T) {
	row := Row{Raw: []byte(`{"item\u0049d":"x","note":"a\\b"}`), Fields: []Field{String("itemId", "i"), String("accountId", "a"), String("note", "n")}}
	var keys []string
	for _, f := range row.Added() {
		keys = append(keys, f.Key)
	}
	if len(keys) != 1 || keys[0] != "accountId" {
		t.Fatalf("Added = %v, want [accountId]", keys)
	}
}

// TestMatch checks that Match takes a key only when it is spelled exactly
// as quoted, and leaves the scanner where it was otherwise, so Str reads
// the same key spelled another way.
func TestMatch(t *testing.T) {
	for _, c := range []struct {
		in, name string
		match    bool
		rest     string
	}{
		{`"id":1`, "id", true, `:1`},
		{` "id" :1`, "id", true, ` :1`},
		{`"\u0069d":1`, "id", false, `"\u0069d":1`}, // the same key, escaped: for Str
		{`"idx":1`, "id", false, `"idx":1`},
		{`"i`, "id", false, `"i`},
		{`1`, "id", false, `1`},
		{`"a\"b":1`, `a"b`, false, `"a\"b":1`}, // a name to escape has no quoted form
	} {
		var s Scanner
		s.Reset([]byte(c.in))
		s.WS()
		if got := s.Match(Quoted(c.name)); got != c.match || string(s.b[s.i:]) != c.rest {
			t.Errorf("Match(%q) on %q = %v, rest %q; want %v, rest %q", Quoted(c.name), c.in, got, s.b[s.i:], c.match, c.rest)
		}
	}
	// Key takes the colon too, only right after the key.
	for _, c := range []struct {
		in, name string
		match    bool
		rest     string
	}{
		{`"id":1`, "id", true, `1`},
		{` "id":1`, "id", true, `1`},
		{`"id" :1`, "id", false, `"id" :1`},
		{`"id",1`, "id", false, `"id",1`},
		{`"id"`, "id", false, `"id"`},
		{`"a"b":1`, `a"b`, false, `"a"b":1`},
	} {
		var s Scanner
		s.Reset([]byte(c.in))
		if got := s.Match(Key(c.name)); got != c.match || string(s.b[s.i:]) != c.rest {
			t.Errorf("Match(%q) on %q = %v, rest %q; want %v, rest %q", Key(c.name), c.in, got, s.b[s.i:], c.match, c.rest)
		}
	}
}

func TestDetach(t *testing.T) {
	type row struct {
		n   int
		raw []byte
	}
	page := []byte(`[{"a":1},{"b":2}]`)
	rows := []row{{1, page[1:8]}, {2, page[9:16]}}
	out := Detach(rows, func(r *row) *[]byte { return &r.raw })
	copy(page, bytes.Repeat([]byte("x"), len(page))) // the page serves another now
	if len(out) != 2 || out[0].n != 1 || string(out[0].raw) != `{"a":1}` || out[1].n != 2 || string(out[1].raw) != `{"b":2}` {
		t.Fatalf("detached %+v", out)
	}
	if cap(out[0].raw) != len(out[0].raw) {
		t.Error("a detached row can grow into the next one's bytes")
	}
	if string(rows[0].raw) == `{"a":1}` {
		t.Error("the test's page was not overwritten")
	}
}

// TestTextField: as encoding/json into a string field: a string sets it,
// null leaves it, any other value leaves it and is a wrong type; the
// scanner is past the value either way.
func TestTextField(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		wrong    bool
	}{
		{`"a\u00e9b"`, "aéb", false},
		{`null`, "kept", false},
		{`12`, "kept", true},
		{`{"x":[1]}`, "kept", true},
		{`true`, "kept", true},
	} {
		var s Scanner
		s.Reset([]byte(tc.in + `,"next"`))
		v, wrong := "kept", false
		if err := s.TextField(&v, &wrong); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if v != tc.want || wrong != tc.wrong {
			t.Errorf("%s: %q wrong type %v, want %q %v", tc.in, v, wrong, tc.want, tc.wrong)
		}
		if err := s.Expect(','); err != nil {
			t.Errorf("%s: not past the value: %v", tc.in, err)
		}
	}
}

// TestRow: a row's bytes are its slice of the text, capacity clipped; an
// object's members are walked, any other value is skipped and reported.
func TestRow(t *testing.T) {
	text := []byte(`[{"a":1,"b":"x"}, 7 ,"s"]`)
	var s Scanner
	s.Reset(text)
	var got []string
	var keys []string
	var notObjects []bool
	err := s.Array(func() error {
		raw, notObject, err := s.Row(func(key []byte) error {
			keys = append(keys, string(key))
			return s.Skip()
		})
		if cap(raw) != len(raw) || len(raw) > 0 && &raw[0] != &text[bytes.Index(text, raw)] {
			t.Errorf("row %q: not its clipped slice of the text", raw)
		}
		got = append(got, string(raw))
		notObjects = append(notObjects, notObject)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{`{"a":1,"b":"x"}`, `7`, `"s"`}) || !slices.Equal(keys, []string{"a", "b"}) || !slices.Equal(notObjects, []bool{false, true, true}) {
		t.Errorf("rows %q, keys %q, not objects %v", got, keys, notObjects)
	}
}

// TestOptionalTextField: as encoding/json into a *string field: a string
// sets it, null sets it to nil, any other value leaves it and is a wrong
// type; the scanner is past the value either way.
func TestOptionalTextField(t *testing.T) {
	kept := "kept"
	for _, tc := range []struct {
		in    string
		want  *string
		wrong bool
	}{
		{`"a\u00e9b"`, new("aéb"), false},
		{`null`, nil, false},
		{`12`, &kept, true},
		{`["x"]`, &kept, true},
	} {
		var s Scanner
		s.Reset([]byte(tc.in + `,"next"`))
		v, wrong := &kept, false
		if err := s.OptionalTextField(&v, &wrong); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if (v == nil) != (tc.want == nil) || v != nil && *v != *tc.want || wrong != tc.wrong {
			t.Errorf("%s: %v wrong type %v, want %v %v", tc.in, v, wrong, tc.want, tc.wrong)
		}
		if err := s.Expect(','); err != nil {
			t.Errorf("%s: not past the value: %v", tc.in, err)
		}
	}
}

// TestLoneSurrogate: LoneSurrogate says whether the last Str held U+FFFD
// for half a surrogate pair, not for a pair, an escaped backslash, or a
// U+FFFD the text had itself; each Str starts afresh.
func TestLoneSurrogate(t *testing.T) {
	for v, want := range map[string]bool{
		`"plain"`: false, `"\ud83d\ude00"`: false, `"\\ud83d"`: false, `"\ufffd"`: false, "\"\uFFFD\"": false,
		`"\ud83d"`: true, `"a\ude00b"`: true, `"\ud83d\u0041"`: true, `"\ud83d\ud83d\ude00"`: true, `"\u00e9\udbff"`: true,
	} {
		var s Scanner
		s.Reset([]byte(v + ` "after"`))
		if _, err := s.Str(); err != nil {
			t.Fatalf("Str(%s): %v", v, err)
		}
		if got := s.LoneSurrogate(); got != want {
			t.Errorf("Str(%s): LoneSurrogate() = %v, want %v", v, got, want)
		}
		s.WS()
		if _, err := s.Str(); err != nil || s.LoneSurrogate() {
			t.Errorf("the plain string after %s: LoneSurrogate() = %v, %v", v, s.LoneSurrogate(), err)
		}
	}
}
