package fake

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAppendCents(t *testing.T) {
	for in, want := range map[int64]string{
		0: "0", 1: "0.01", -1: "-0.01", 10: "0.1", 100: "1", 101: "1.01", 110: "1.1",
		120950: "1209.5", -15000: "-150", 15920: "159.2", 31840: "318.4", 1234567891: "12345678.91", -99: "-0.99",
	} {
		if got := string(appendCents(nil, in)); got != want {
			t.Errorf("appendCents(%d) = %s, want %s", in, got, want)
		}
		if got := string(appendFixed(nil, in, 2)); got != want {
			t.Errorf("appendFixed(%d, 2) = %s, want %s", in, got, want)
		}
	}
	for _, c := range []struct {
		v     int64
		scale int
		want  string
	}{{1868360, 6, "1.86836"}, {2987, 4, "0.2987"}, {-50, 2, "-0.5"}, {112, 0, "112"}, {5, 8, "0.00000005"}} {
		if got := string(appendFixed(nil, c.v, c.scale)); got != c.want {
			t.Errorf("appendFixed(%d, %d) = %s, want %s", c.v, c.scale, got, c.want)
		}
	}
	// Whatever the value, the text parses back to the same number of cents.
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		v := r.Int64N(1e12) - 5e11
		s := string(appendCents(nil, v))
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || int64(f*100+copysign(0.5, f)) != v || strings.HasSuffix(s, ".0") {
			t.Fatalf("appendCents(%d) = %s", v, s)
		}
	}
}

func copysign(x, y float64) float64 {
	if y < 0 {
		return -x
	}
	return x
}

func TestAppendISO(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		ms := r.Int64N(4e12) - 1e12
		want := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
		if got := isoString(ms); got != want {
			t.Fatalf("isoString(%d) = %s, want %s", ms, got, want)
		}
	}
	if got := isoString(farFuture); got != "9999-12-31T23:59:59.999Z" {
		t.Errorf("farFuture = %s", got)
	}
}

func TestAppendString(t *testing.T) {
	got := string(appendString(nil, "Padaria São João 🥐 \"x\" \\ \n\t\x01"))
	want := `"Padaria São João 🥐 \"x\" \\ \n\t\u0001"`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestUUIDAndDocuments(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 100 {
		u := newUUID(r)
		s := u.String()
		if s[14] != '4' || !strings.ContainsRune("89ab", rune(s[19])) {
			t.Fatalf("%s is not v4-formatted", s)
		}
		back, ok := parseUUID(strings.ToUpper(s))
		if !ok || back != u {
			t.Fatalf("parseUUID(%s) = %v, %v", s, back, ok)
		}
		if c := cpf(r); !validCPF(c) {
			t.Fatalf("invalid CPF %s", c)
		}
	}
	for _, bad := range []string{"", "x", "6ec156fe-e8ac-4d9a-a4b3-7770529ab01", "6ec156fe_e8ac-4d9a-a4b3-7770529ab01c", "zzc156fe-e8ac-4d9a-a4b3-7770529ab01c"} {
		if _, ok := parseUUID(bad); ok {
			t.Errorf("parseUUID(%q) accepted", bad)
		}
	}
}

func validCPF(s string) bool {
	d := []int{}
	for _, c := range s {
		if c >= '0' && c <= '9' {
			d = append(d, int(c-'0'))
		}
	}
	if len(d) != 11 {
		return false
	}
	for k := 9; k <= 10; k++ {
		sum := 0
		for i := range k {
			sum += d[i] * (k + 1 - i)
		}
		if v := sum * 10 % 11 % 10; v != d[k] {
			return false
		}
	}
	return true
}
