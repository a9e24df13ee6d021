package httpclient

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"unsafe"
)

func TestReadBody(t *testing.T) {
	body := strings.Repeat("x", 10000)
	for _, tc := range []struct {
		name    string
		length  int64 // Content-Length as announced; -1 unknown
		limit   int64
		want    int // bytes read
		wantErr bool
	}{
		{"exact", 10000, 1 << 20, 10000, false},
		{"unknown length", -1, 1 << 20, 10000, false},
		{"announced short", 5000, 1 << 20, 10000, false}, // read on past it: the caller checks the limit
		{"announced long", 20000, 1 << 20, 10000, false},
		{"over the limit, announced", 10000, 100, 0, true},
		{"over the limit, unknown", -1, 100, 0, true},
		{"over the limit, announced short", 50, 100, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{Body: io.NopCloser(strings.NewReader(body)), ContentLength: tc.length}
			budget := NewBudget(1 << 20)
			b, held, err := readBody(resp.Body, resp.ContentLength, tc.limit, budget, nil)
			budget.give(held)
			if budget.used != 0 {
				t.Errorf("%d bytes of the budget not given back", budget.used)
			}
			if (err != nil) != tc.wantErr || len(b) != tc.want || !bytes.Equal(b, []byte(body[:len(b)])) {
				t.Fatalf("read %d bytes, err %v; want %d", len(b), err, tc.want)
			}
		})
	}
	// A body cut off before its Content-Length is an error.
	resp := &http.Response{Body: io.NopCloser(io.MultiReader(strings.NewReader("abc"), errReader{})), ContentLength: 10}
	if _, _, err := readBody(resp.Body, resp.ContentLength, 1<<20, nil, nil); err == nil {
		t.Error("no error for a body cut off mid-way")
	}
}

// A buffer large enough takes the body, and is held of the budget whole;
// one too small is left alone.
func TestReadBodyIntoBuffer(t *testing.T) {
	body := strings.Repeat("x", 10000)
	for _, length := range []int64{10000, -1} {
		for _, size := range []int{16 << 10, 40 << 10, 100} {
			buf := make([]byte, 0, size)
			resp := &http.Response{Body: io.NopCloser(strings.NewReader(body)), ContentLength: length}
			budget := NewBudget(1 << 20)
			b, held, err := readBody(resp.Body, resp.ContentLength, 1<<20, budget, buf)
			if err != nil || string(b) != body {
				t.Fatalf("Content-Length %d, buffer of %d: read %d bytes, err %v", length, size, len(b), err)
			}
			first := int64(32 << 10) // readBody's first buffer without a Content-Length
			if length >= 0 {
				first = length + 1
			}
			shared := unsafe.SliceData(b) == unsafe.SliceData(buf[:1])
			if want := int64(size) >= first; shared != want {
				t.Errorf("Content-Length %d, buffer of %d: read into it %v, want %v", length, size, shared, want)
			}
			if shared && held != int64(size) {
				t.Errorf("Content-Length %d, buffer of %d: %d bytes held of the budget, want the buffer's", length, size, held)
			}
		}
	}
}

// A body is read at most readSize at a time (see readSize), into the first
// buffer and into readRest's pieces alike, and arrives whole.
func TestReadBodyReadsAreBounded(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB: pieces too
	for _, length := range []int64{int64(len(body)), -1} {
		r := &sizeRecorder{r: bytes.NewReader(body)}
		b, _, err := readBody(r, length, 1<<20, nil, nil)
		if err != nil || !bytes.Equal(b, body) {
			t.Fatalf("Content-Length %d: read %d bytes, err %v; want the %d-byte body", length, len(b), err, len(body))
		}
		if r.max > readSize || r.calls < len(body)/readSize {
			t.Errorf("Content-Length %d: %d reads, the largest asking for %d bytes; want none over %d", length, r.calls, r.max, readSize)
		}
	}
}

// sizeRecorder records how much each Read asks for.
type sizeRecorder struct {
	r          io.Reader
	calls, max int
}

func (s *sizeRecorder) Read(p []byte) (int, error) {
	s.calls++
	s.max = max(s.max, len(p))
	return s.r.Read(p)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// BenchmarkReadBody reads a 400 KB page body, as GET /v2/transactions
// answers with a Content-Length.
func BenchmarkReadBody(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 400<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		resp := &http.Response{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
		if _, _, err := readBody(resp.Body, resp.ContentLength, 256<<20, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadAll is what readBody replaced.
func BenchmarkReadAll(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 400<<10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.ReadAll(io.LimitReader(bytes.NewReader(body), 256<<20+1)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadBodyOfUnknownLength: a body without a Content-Length comes back
// whole and in a buffer of its exact size, whatever its size against the
// first buffer and the pieces, however the reader splits it; the budget
// is given back in full. The doubling buffer this replaced left up to the
// body's size again of slack, which the rows sliced from the body kept.
func TestReadBodyOfUnknownLength(t *testing.T) {
	const first = 32 << 10
	for _, n := range []int{0, 1, first - 1, first, first + 1, first + pieceSize, first + pieceSize + 1, first + 3*pieceSize - 7, 5 << 20} {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(i*7 + i>>11)
		}
		for name, wrap := range map[string]func(io.Reader) io.Reader{
			"whole":    func(r io.Reader) io.Reader { return r },
			"halves":   iotest.HalfReader,
			"with EOF": iotest.DataErrReader,
		} {
			budget := NewBudget(64 << 20)
			b, held, err := readBody(wrap(bytes.NewReader(body)), -1, 16<<20, budget, nil)
			if err != nil || !bytes.Equal(b, body) {
				t.Fatalf("%d bytes, %s: read %d bytes, err %v", n, name, len(b), err)
			}
			if n > first && cap(b) != n {
				t.Errorf("%d bytes, %s: buffer of %d, want the body's size", n, name, cap(b))
			}
			if budget.used != held {
				t.Errorf("%d bytes, %s: %d bytes of the budget taken, %d said held", n, name, budget.used, held)
			}
			budget.give(held)
		}
	}
}

// TestReadBodyOfUnknownLengthFails: past the limit, past the budget, or
// cut off, a body read in pieces ends with the error and gives back what
// it took; the pieces go back to the pool. Joining the pieces takes no
// more of the budget than they held: a body alone can be as large as the
// budget allows its pieces, not half of it.
func TestReadBodyOfUnknownLengthFails(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 2<<20)
	for _, tc := range []struct {
		name   string
		r      io.Reader
		limit  int64
		budget int64
		want   func(error) bool
	}{
		{"over the limit", bytes.NewReader(body), 1 << 20, 64 << 20, func(err error) bool { var e errTooLarge; return errors.As(err, &e) }},
		{"exactly the limit", bytes.NewReader(body), 2 << 20, 64 << 20, func(err error) bool { return err == nil }},
		{"over the budget reading", bytes.NewReader(body), 16 << 20, 1 << 20, func(err error) bool { var e errBudget; return errors.As(err, &e) }},
		{"joined within the budget its pieces held", bytes.NewReader(body), 16 << 20, 2<<20 + 33<<10, func(err error) bool { return err == nil }},
		{"cut off", io.MultiReader(bytes.NewReader(body[:1<<20]), errReader{}), 16 << 20, 64 << 20, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
	} {
		budget := NewBudget(tc.budget)
		_, held, err := readBody(tc.r, -1, tc.limit, budget, nil)
		if !tc.want(err) {
			t.Errorf("%s: err %v", tc.name, err)
		}
		budget.give(held)
		if budget.used != 0 {
			t.Errorf("%s: %d bytes of the budget not given back", tc.name, budget.used)
		}
	}
}

// BenchmarkReadBodyUnknownLength reads a 5 MB body without a
// Content-Length, as a GoCardless account's transactions answer comes
// (gzipped, or chunked).
func BenchmarkReadBodyUnknownLength(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 5<<20)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := readBody(bytes.NewReader(body), -1, 256<<20, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
