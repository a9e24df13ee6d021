package parquet

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// runsOneByOne is runs as it was, the model runs is checked against: each
// run of equal values found value by value and fed to h.
func runsOneByOne[T int16 | int32](h *hybrid, vs []T) {
	for i := 0; i < len(vs); {
		v, j := vs[i], i+1
		for j < len(vs) && vs[j] == v {
			j++
		}
		h.run(uint32(v), j-i)
		i = j
	}
}

// runShapes are levels and dictionary numbers as pages hold them: values
// that change at every entry, short runs, long runs, and a mix of all.
func runShapes(r *rand.Rand, n int) map[string][]int32 {
	shape := func(distinct, maxRun int) []int32 {
		var vs []int32
		for len(vs) < n {
			v, k := int32(r.IntN(distinct)), 1+r.IntN(maxRun)
			for range k {
				vs = append(vs, v)
			}
		}
		return vs[:n]
	}
	mixed := append(append(append(shape(300, 1)[:n/4], shape(3, 60)[:n/4]...), shape(2, 4)[:n/4]...), shape(1000, 2)[:n/4]...)
	return map[string][]int32{
		"changing": shape(300, 1), "short runs": shape(3, 4), "long runs": shape(3, 60), "one value": shape(1, 1), "mixed": mixed,
	}
}

// TestRunsAsOneByOne checks that runs encodes levels and numbers byte for
// byte as the value-by-value model does, whatever h holds before and after
// (the definition levels' uniform tail is fed to h after runs).
func TestRunsAsOneByOne(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for name, vs := range runShapes(r, 10_000) {
		for _, width := range []int{1, 2, 10, 12} {
			vs := vs
			if width < 10 {
				vs = append([]int32(nil), vs...)
				for i := range vs {
					vs[i] %= 1 << width
				}
			}
			for _, cut := range []int{0, 1, 7, 8, 9, 5001, len(vs)} {
				checkRuns(t, name, width, vs[:cut], 3, 13)
			}
		}
	}
}

func checkRuns(t *testing.T, name string, width int, vs []int32, before, after int) {
	t.Helper()
	var a, b hybrid
	a.start(nil, width)
	b.start(nil, width)
	for _, h := range []*hybrid{&a, &b} {
		h.run(1, before)
	}
	runs(&a, vs)
	runsOneByOne(&b, vs)
	vs16 := make([]int16, len(vs))
	for i, v := range vs {
		vs16[i] = int16(v)
	}
	var c, d hybrid
	c.start(nil, width)
	d.start(nil, width)
	runs(&c, vs16)
	runsOneByOne(&d, vs16)
	for _, h := range []*hybrid{&a, &b} {
		h.run(0, after)
	}
	if got, want := a.finish(), b.finish(); !bytes.Equal(got, want) {
		t.Fatalf("%s, width %d, %d values: %d bytes, want %d", name, width, len(vs), len(got), len(want))
	}
	if width <= 16 {
		if got, want := c.finish(), d.finish(); !bytes.Equal(got, want) {
			t.Fatalf("%s, width %d, %d int16 values: %d bytes, want %d", name, width, len(vs), len(got), len(want))
		}
	}
}

func FuzzRuns(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3}, uint8(2), uint8(3), uint8(0))
	f.Add(bytes.Repeat([]byte{7}, 100), uint8(3), uint8(0), uint8(9))
	f.Fuzz(func(t *testing.T, in []byte, width, before, after uint8) {
		w := 1 + int(width%16)
		vs := make([]int32, len(in))
		for i, c := range in {
			vs[i] = int32(c) % (1 << w)
		}
		checkRuns(t, "fuzz", w, vs, int(before%20), int(after%20))
	})
}

// BenchmarkRuns encodes 65,536 numbers of each shape at 9 bits, with runs
// and, side by side, value by value as runs did before.
//
//	go test ./connector/sink/parquet -run '^$' -bench Runs
func BenchmarkRuns(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for name, vs := range runShapes(r, 65536) {
		for _, f := range []struct {
			name string
			runs func(*hybrid, []int32)
		}{{"grouped", runs[int32]}, {"one-by-one", runsOneByOne[int32]}} {
			b.Run(name+"/"+f.name, func(b *testing.B) {
				var h hybrid
				buf := make([]byte, 0, 1<<20)
				for range b.N {
					h.start(buf[:0], 9)
					f.runs(&h, vs)
					buf = h.finish()
				}
			})
		}
	}
}
