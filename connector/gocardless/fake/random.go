package fake

import (
	"fmt"
	"math/big"
	"strings"
)

// rng is a splitmix64 generator. The fake carries its own instead of using
// math/rand so that the data it serves for a seed can never change with the
// Go release: determinism is part of its contract with golden tests.
type rng struct{ state uint64 }

// newRNG derives an independent stream from a seed and a label, so that the
// data of one account does not shift when another account's generation
// changes (for example when TransactionsPerAccount differs).
func newRNG(seed uint64, label string) *rng {
	h := uint64(14695981039346656037) // FNV-1a over the label, mixed with the seed
	for i := 0; i < len(label); i++ {
		h ^= uint64(label[i])
		h *= 1099511628211
	}
	return &rng{state: seed ^ h}
}

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n). The modulo bias is irrelevant for test data.
func (r *rng) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return int(r.next() % uint64(n))
}

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int64) int64 {
	return lo + int64(r.next()%uint64(hi-lo+1))
}

func (r *rng) chance(percent int) bool { return r.intn(100) < percent }

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// uuid returns a version 4 UUID string, the shape GoCardless uses for
// requisition, agreement and account ids.
func (r *rng) uuid() string {
	a, b := r.next(), r.next()
	a = a&^0xf000 | 0x4000     // version 4
	b = b&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x",
		a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// hex returns n random lowercase hex digits, the shape of
// internalTransactionId and of the fake's tokens.
func (r *rng) hex(n int) string {
	var sb strings.Builder
	for sb.Len() < n {
		fmt.Fprintf(&sb, "%016x", r.next())
	}
	return sb.String()[:n]
}

// digits returns n random decimal digits.
func (r *rng) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.intn(10))
	}
	return string(b)
}

// iban builds an IBAN with correct ISO 13616 check digits, so that clients
// which validate IBANs accept the fake's data.
func iban(country, bban string) string {
	rearranged := bban + country + "00"
	var digits strings.Builder
	for _, c := range rearranged {
		switch {
		case c >= '0' && c <= '9':
			digits.WriteRune(c)
		case c >= 'A' && c <= 'Z':
			fmt.Fprintf(&digits, "%d", c-'A'+10)
		}
	}
	n, _ := new(big.Int).SetString(digits.String(), 10)
	check := 98 - new(big.Int).Mod(n, big.NewInt(97)).Int64()
	return fmt.Sprintf("%s%02d%s", country, check, bban)
}
