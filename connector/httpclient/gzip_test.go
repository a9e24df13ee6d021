package httpclient

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func gzipOf(t testing.TB, b []byte, level int) []byte {
	var buf bytes.Buffer
	zw, err := stdgzip.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// page is JSON shaped like a page of bank transactions: ids, amounts and
// dates that vary, texts and keys that repeat.
func page(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"PIX RECEBIDO", "PAGAMENTO BOLETO", "COMPRA CARTAO", "TED ENVIADA", "Padaria São João", "UBER *TRIP", "iFood"}
	var b bytes.Buffer
	b.WriteString(`{"total":` + fmt.Sprint(n) + `,"results":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%08x-%04x-4%03x-8%03x-%012x","description":%q,"amount":%d.%02d,"date":"2026-%02d-%02dT%02d:%02d:00.000Z","status":"POSTED","type":"DEBIT","currencyCode":"BRL","balance":%d.%02d,"category":"Transfers","providerCode":"%06d"}`,
			r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff,
			words[r.IntN(len(words))], r.IntN(5000), r.IntN(100), 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(100000), r.IntN(100), r.IntN(1000000))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func TestGzipBodies(t *testing.T) {
	want := page(50)
	var gotAccept []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAccept = append(gotAccept, r.Header.Get("Accept-Encoding"))
		switch r.URL.Path {
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipOf(t, want, 6))
		case "/x-gzip":
			w.Header().Set("Content-Encoding", "x-gzip")
			w.Write(gzipOf(t, want, 1))
		case "/gzip-empty": // a 204 with the header, as some front ends send
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusNoContent)
		case "/gzip-cut":
			w.Header().Set("Content-Encoding", "gzip")
			z := gzipOf(t, want, 6)
			w.Write(z[:len(z)/2])
		case "/not-gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(want)
		case "/br":
			w.Header().Set("Content-Encoding", "br")
			w.Write([]byte{0x1b, 0x03})
		case "/bomb": // 8 MiB of zeros in a few KB
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipOf(t, make([]byte, 8<<20), 9))
		}
	}))
	defer srv.Close()
	c := fastClient(nil)
	c.MaxRetries = 0
	c.MaxBody = 1 << 20
	get := func(path string) (*Response, error) {
		return c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL + path, Route: "GET " + path, Idempotent: true})
	}

	resp, err := get("/gzip")
	if err != nil || !bytes.Equal(resp.Body, want) {
		t.Fatalf("gzip: %v, %d bytes, want the %d inflated", err, len(resp.Body), len(want))
	}
	if gotAccept[0] != "gzip" {
		t.Errorf("Accept-Encoding %q, want gzip", gotAccept[0])
	}
	if resp, err := get("/x-gzip"); err != nil || !bytes.Equal(resp.Body, want) {
		t.Errorf("x-gzip, gzip's old name: %v", err)
	}
	if resp, err := get("/gzip-empty"); err != nil || len(resp.Body) != 0 {
		t.Errorf("empty gzip body: %v, %d bytes", err, len(resp.Body))
	}
	for path, want := range map[string]string{
		"/gzip-cut": "unexpected EOF",
		"/not-gzip": "gzip: invalid header",
		"/br":       `Content-Encoding is "br"`,
	} {
		_, err := get(path)
		var te *TransportError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a *TransportError saying %q", path, err, want)
		}
	}
	_, err = get("/bomb")
	var tl *TooLargeError
	if !errors.As(err, &tl) {
		t.Errorf("8 MiB inflated from a few KB, MaxBody 1 MiB: %v, want a *TooLargeError", err)
	}
}

// BenchmarkGunzip inflates a page of transactions as a front end
// compressing at level 1 or 6 would send it: with compress/gzip, what
// net/http's Transport uses, and with the client's own reader.
func BenchmarkGunzip(b *testing.B) {
	raw := page(500)
	for _, level := range []int{1, 6} {
		z := gzipOf(b, raw, level)
		b.Run(fmt.Sprintf("level%d/compress-gzip", level), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			buf := make([]byte, 0, 2*len(raw))
			for b.Loop() {
				zr, err := stdgzip.NewReader(bytes.NewReader(z))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bytes.NewBuffer(buf[:0]).ReadFrom(zr); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("level%d/client", level), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			buf := make([]byte, 0, 2*len(raw))
			for b.Loop() {
				resp := &http.Response{Header: http.Header{"Content-Encoding": {"gzip"}}, Body: io.NopCloser(bytes.NewReader(z))}
				body, release, err := decodedBody(resp)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bytes.NewBuffer(buf[:0]).ReadFrom(body); err != nil {
					b.Fatal(err)
				}
				release()
			}
		})
	}
}
