package fake

import (
	"encoding/hex"
	"math/rand/v2"
	"strconv"
)

// uuid is a 16-byte identifier. Rows keep the binary form: it halves the
// memory of a million-row dataset and compares in the same order as the
// lowercase string, which the keyset cursor relies on.
type uuid [16]byte

// String returns the canonical lowercase form.
func (u uuid) String() string { return string(appendUUID(make([]byte, 0, 36), u)) }

// newUUID draws a version-4-formatted UUID from r, so ids are random-looking
// but reproducible from the seed.
func newUUID(r *rand.Rand) uuid {
	var u uuid
	a, b := r.Uint64(), r.Uint64()
	for i := range 8 {
		u[i] = byte(a >> (56 - 8*i))
		u[8+i] = byte(b >> (56 - 8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// parseUUID accepts the canonical 8-4-4-4-12 hex form in either case.
func parseUUID(s string) (uuid, bool) {
	var u uuid
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	var buf [32]byte
	copy(buf[0:8], s[0:8])
	copy(buf[8:12], s[9:13])
	copy(buf[12:16], s[14:18])
	copy(buf[16:20], s[19:23])
	copy(buf[20:32], s[24:36])
	if _, err := hex.Decode(u[:], buf[:]); err != nil {
		return u, false
	}
	return u, true
}

// digits returns n random decimal digits.
func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// cpf returns a formatted CPF ("123.456.789-09") with valid check digits, so
// a consumer that validates documents accepts it.
func cpf(r *rand.Rand) string {
	d := make([]int, 11)
	for i := range 9 {
		d[i] = r.IntN(10)
	}
	for k := 9; k <= 10; k++ {
		sum := 0
		for i := range k {
			sum += d[i] * (k + 1 - i)
		}
		v := sum * 10 % 11
		if v == 10 {
			v = 0
		}
		d[k] = v
	}
	b := make([]byte, 0, 14)
	for i, v := range d {
		switch i {
		case 3, 6:
			b = append(b, '.')
		case 9:
			b = append(b, '-')
		}
		b = append(b, byte('0'+v))
	}
	return string(b)
}

// cnpjDigits returns an unformatted 14-digit CNPJ with valid check digits
// (branch 0001).
func cnpjDigits(r *rand.Rand) string {
	d := make([]int, 14)
	for i := range 8 {
		d[i] = r.IntN(10)
	}
	d[11] = 1
	w1 := []int{5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2}
	w2 := []int{6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2}
	for k, w := range [][]int{w1, w2} {
		sum := 0
		for i, m := range w {
			sum += d[i] * m
		}
		v := sum % 11
		if v < 2 {
			v = 0
		} else {
			v = 11 - v
		}
		d[12+k] = v
	}
	b := make([]byte, 14)
	for i, v := range d {
		b[i] = byte('0' + v)
	}
	return string(b)
}

// formatCNPJ formats 14 digits as "12.345.678/0001-90".
func formatCNPJ(s string) string {
	return s[0:2] + "." + s[2:5] + "." + s[5:8] + "/" + s[8:12] + "-" + s[12:14]
}

// pad returns v in decimal, left-padded with zeros to width n.
func pad(v, n int) string {
	s := strconv.Itoa(v)
	for len(s) < n {
		s = "0" + s
	}
	return s
}
