package demo

import "testing"

func TestDecimalSum(t *testing.T) {
	var s DecimalSum
	for _, v := range []string{"0.10", "0.20", "-5.50", "1e3", "x", "1/3"} {
		s.Add(v)
	}
	if s.String() != "-5.20" || s.Count != 3 || s.Bad != 3 {
		t.Fatalf("sum %s count %d bad %d", s.String(), s.Count, s.Bad)
	}
}
