package jsonrow

import "slices"

// Detach copies rows, and the bytes each one's raw field slices, into one
// new buffer: for rows kept past the page or body they were decoded from
// in place (a page whose memory serves the next one, a body the other rows
// let go). raw returns a row's field.
func Detach[R any, B ~[]byte](rows []R, raw func(*R) *B) []R {
	n := 0
	for i := range rows {
		n += len(*raw(&rows[i]))
	}
	buf := make([]byte, 0, n)
	out := slices.Clone(rows)
	for i := range out {
		p := raw(&out[i])
		start := len(buf)
		buf = append(buf, *p...)
		*p = B(buf[start:len(buf):len(buf)])
	}
	return out
}
