package secret

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strconv"
	"strings"
	"testing"
)

// TestPEMSecrets: a private key's lines are masked in a message that
// quotes the key trimmed, with its line breaks as "\n" text or spaces,
// Go-quoted, or one line of it alone; a certificate or a public key, and
// text that only mentions a key, register nothing.
func TestPEMSecrets(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	key := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	lines := strings.Split(strings.TrimSpace(key), "\n")
	body := lines[1 : len(lines)-1]
	for _, written := range []string{key, strings.ReplaceAll(key, "\n", `\n`), strings.ReplaceAll(key, "\n", " ")} {
		var r Redactor
		for _, s := range PEMSecrets(written) {
			r.Add(s)
		}
		for name, msg := range map[string]string{
			"trimmed":   "'" + strings.TrimSpace(written) + "' is not a UUID",
			"Go-quoted": strconv.Quote(written) + " is not a UUID",
			"a line":    "bad line " + body[1],
			"unbroken":  strings.Join(body, ""),
		} {
			got := r.String(msg)
			for i, l := range body {
				if len(l) >= 16 && strings.Contains(got, l) {
					t.Errorf("%q written, %s: line %d of the key is in %q", written[:40], name, i+1, got)
				}
			}
		}
	}
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	for _, s := range []string{
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		"/keys/PRIVATE KEY.pem",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
	} {
		if got := PEMSecrets(s); got != nil {
			t.Errorf("PEMSecrets(%q) = %q, want nothing", s, got)
		}
	}
}
