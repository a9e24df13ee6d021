package secret

import "testing"

func TestRedactsEveryForm(t *testing.T) {
	var r Redactor
	r.Add(`s3cr/t+"x`)
	for _, in := range []string{`s3cr/t+"x`, `s3cr%2Ft%2B%22x`, `s3cr/t+\"x`} {
		if got := r.String("key=" + in + "!"); got != "key="+Mask+"!" {
			t.Errorf("String(%q) = %q", in, got)
		}
	}
	var nilR *Redactor
	if nilR.String("a") != "a" {
		t.Fatal("nil redactor must pass text through")
	}
}
