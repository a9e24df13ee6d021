package sourcetest

import (
	"encoding/json"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// Decimal is the whole number v written with a fraction, as a config
// written from a float holds it: 60.0 for 60.
func Decimal(v int) json.Number { return json.Number(strconv.Itoa(v) + ".0") }

// Exponent is the whole number v written with an exponent: 6e+01 for 60.
func Exponent(v int) json.Number {
	return json.Number(strconv.FormatFloat(float64(v), 'e', -1, 64))
}

// The forms CheckIntegersWrittenAsDecimals writes a setting's value in.
var (
	integer  = func(v int) any { return v }
	decimal  = func(v int) any { return Decimal(v) }
	exponent = func(v int) any { return Exponent(v) }
)

// CheckIntegersWrittenAsDecimals checks that bin takes every integer
// setting of its spec written as a whole number with a fraction or an
// exponent (60.0, 6e+01), which JSON Schema's "integer" takes and tools
// that write JSON from floats produce, as that integer: check succeeds
// with all of them so written, and the Singer mode (singer --config,
// every stream) reads with the integers of the test's config so written
// what it reads with them written as integers. A fraction (60.5) stays a
// config_error naming config.<name>, in check and in the Singer mode.
// config writes the test's config with over applied. Each setting takes
// the value the test's config gives it, else its default, else its
// minimum.
func CheckIntegersWrittenAsDecimals(t *testing.T, bin string, config func(over map[string]any) string) {
	t.Helper()
	ints := integerSettings(t, bin, config(nil))
	if len(ints) == 0 {
		t.Fatalf("%s's spec has no integer setting", bin)
	}
	names := slices.Sorted(maps.Keys(ints))
	written := func(form func(int) any, only func(string) bool) map[string]any {
		over := map[string]any{}
		for name, v := range ints {
			if only(name) {
				over[name] = form(v)
			}
		}
		return over
	}
	all := func(string) bool { return true }
	for _, form := range []func(int) any{decimal, exponent} {
		over := written(form, all)
		if cs := Check(t, bin, config(over)); cs.Status != protocol.StatusSucceeded {
			t.Errorf("check with %v: %s %q, want it to succeed as with the integers", over, cs.Status, cs.Message)
		}
	}

	// The Singer mode reads the config itself (its own settings), then
	// as check does.
	base := readConfig(t, config(nil))
	inBase := func(name string) bool { _, ok := base[name]; return ok }
	want := singerRecords(t, bin, config(written(integer, inBase)))
	for _, form := range []func(int) any{decimal, exponent} {
		over := written(form, inBase)
		if got := singerRecords(t, bin, config(over)); !maps.Equal(got, want) {
			t.Errorf("singer --config with %v read %v records, with the integers %v", over, got, want)
		}
	}

	for _, name := range names {
		half := json.Number(strconv.Itoa(ints[name]) + ".5")
		path := config(map[string]any{name: half})
		field := "config." + name
		if cs := Check(t, bin, path); cs.Status != protocol.StatusFailed || !strings.Contains(cs.Message, field) || !strings.Contains(cs.Message, "whole number") {
			t.Errorf("%s %s: check %s %q, want it failed naming %s as not a whole number", name, half, cs.Status, cs.Message, field)
		}
		if _, stderr, code := Exec(t, bin, "singer", "--config", path, "--discover"); code == 0 || !strings.Contains(string(stderr), field) {
			t.Errorf("%s %s: singer --discover exited %d saying %s, want it failed naming %s", name, half, code, Tail(stderr), field)
		}
	}
}

// integerSettings are the integer settings of bin's spec, each with the
// value the config at path gives it, else its default, else its minimum.
func integerSettings(t *testing.T, bin, path string) map[string]int {
	t.Helper()
	r := Run(t, bin, "spec")
	specs := r.OfType(protocol.TypeSpec)
	if r.Code != 0 || len(specs) != 1 {
		t.Fatalf("spec: exit %d\n%s", r.Code, r.Stderr)
	}
	var spec struct {
		Properties map[string]struct {
			Type    any      `json:"type"`
			Default any      `json:"default"`
			Minimum *float64 `json:"minimum"`
		} `json:"properties"`
	}
	Must(t, json.Unmarshal(specs[0].Spec.ConnectionSpecification, &spec), "the spec's connectionSpecification")
	cfg := readConfig(t, path)
	out := map[string]int{}
	for name, p := range spec.Properties {
		if !typeAmong(p.Type, "integer") {
			continue
		}
		v := 1.0
		if given, ok := cfg[name].(json.Number); ok {
			var err error
			v, err = given.Float64()
			Must(t, err, "config."+name)
		} else if d, ok := p.Default.(float64); ok {
			v = d
		} else if p.Minimum != nil {
			v = *p.Minimum
		}
		if v != math.Trunc(v) {
			t.Fatalf("config.%s: %v is not a whole number", name, v)
		}
		out[name] = int(v)
	}
	return out
}

// readConfig is the config file at path, its numbers as written.
func readConfig(t *testing.T, path string) map[string]any {
	t.Helper()
	f, err := os.Open(path)
	Must(t, err, "config")
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.UseNumber()
	var cfg map[string]any
	Must(t, dec.Decode(&cfg), "config", path)
	return cfg
}

// singerRecords runs bin's Singer mode with the config at path and no
// catalog (every stream), and counts its RECORD messages by stream.
func singerRecords(t *testing.T, bin, path string) map[string]int {
	t.Helper()
	out, stderr, code := Exec(t, bin, "singer", "--config", path)
	if code != 0 {
		t.Fatalf("singer --config %s exited %d: %s", path, code, Tail(stderr))
	}
	n := map[string]int{}
	for stream, recs := range SingerRecords(t, out) {
		n[stream] = len(recs)
	}
	if len(n) == 0 {
		t.Fatalf("singer --config %s read no record", path)
	}
	return n
}
