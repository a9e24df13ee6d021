package main

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/protocol"
	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// TestKeyFileFormats gives the application's key in the forms a user's
// file comes in. The key re-encoded as PKCS#1, with Windows line endings,
// saved with a byte order mark (Notepad), after a certificate in one
// bundle, or with its line breaks lost to a one-line variable is the
// application's key and works, for check and for connect.
// A key encrypted with a passphrase, and a file holding only the public
// key or a certificate, are refused naming the field, what the file holds
// and what to use instead, never quoting the key.
func TestKeyFileFormats(t *testing.T) {
	e := newEnv(t, fake.Options{Sessions: 1})
	keyPEM := e.fake.PrivateKeyPEM()
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(keyPEM))
	st.Must(t, err, "the fake's key")
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	st.Must(t, err, "public key")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "app"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	st.Must(t, err, "certificate")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// What openssl writes for a key given a passphrase: PKCS#8's own
	// armour, or PKCS#1's with the legacy encryption headers. The
	// ciphertext is never read: the armour says it is encrypted.
	encrypted8 := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("ciphertext")})
	encrypted1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,376087E42A7F33F729C40BBAADB9CFB3"}, Bytes: []byte("ciphertext")})
	crlf := strings.ReplaceAll(keyPEM, "\n", "\r\n")
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		st.Must(t, os.WriteFile(p, []byte(content), 0o600), name)
		return p
	}
	for _, c := range []struct {
		name, content string
		mention       []string // none: the check succeeds
	}{
		{"pkcs1", string(pkcs1), nil},
		{"windows line endings", crlf, nil},
		{"byte order mark", "\uFEFF" + crlf, nil},
		{"certificate then key", string(cert) + keyPEM, nil},
		// echo $KEY > key.pem (unquoted) puts spaces for the line breaks.
		{"line breaks as spaces", strings.Join(strings.Fields(keyPEM), " ") + "\n", nil},
		{"line breaks lost", strings.ReplaceAll(strings.TrimSpace(keyPEM), "\n", ""), nil},
		{"public key", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})), []string{"config.private_key_path holds no private key, only BEGIN PUBLIC KEY", "use the application's private key"}},
		{"certificate", string(cert), []string{"config.private_key_path holds no private key, only BEGIN CERTIFICATE", "use the application's private key"}},
		{"encrypted pkcs8", string(encrypted8), []string{"config.private_key_path", "encrypted with a passphrase", "openssl pkey -in"}},
		{"encrypted pkcs1", string(encrypted1), []string{"config.private_key_path", "encrypted with a passphrase", "openssl pkey -in"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			over := map[string]any{"private_key": nil, "private_key_path": file(strings.ReplaceAll(c.name, " ", "-")+".pem", c.content)}
			cs, r := st.CheckRun(t, e.bin, e.config(over))
			e.noSecrets(r)
			if len(c.mention) == 0 {
				if cs.Status != protocol.StatusSucceeded {
					t.Fatalf("check = %s %q, want SUCCEEDED", cs.Status, cs.Message)
				}
				return
			}
			if cs.Status != protocol.StatusFailed {
				t.Fatalf("check = %s, want FAILED", cs.Status)
			}
			for _, m := range c.mention {
				if !strings.Contains(cs.Message, m) {
					t.Errorf("check message %q does not mention %q", cs.Message, m)
				}
			}
		})
	}
	// The same key pasted into private_key with the byte order mark a
	// copy from a Windows editor brings along, or from a one-line
	// environment variable (an .env file) with spaces for line breaks.
	for what, pasted := range map[string]string{"starts with a byte order mark": "\uFEFF" + crlf, "has spaces for line breaks": strings.Join(strings.Fields(keyPEM), " ")} {
		cs, r := st.CheckRun(t, e.bin, e.config(map[string]any{"private_key": pasted}))
		e.noSecrets(r)
		if cs.Status != protocol.StatusSucceeded {
			t.Errorf("check with a pasted key that %s = %s %q, want SUCCEEDED", what, cs.Status, cs.Message)
		}
	}

	// connect, the first command a new user runs, takes the Notepad file.
	cfg := e.connectConfig(map[string]any{"private_key": nil, "private_key_path": file("notepad.pem", "\uFEFF"+crlf)})
	out, _ := e.authoriseAtNordea(cfg, "--write")
	if !strings.Contains(out, `"session_id"`) {
		t.Errorf("connect printed %q, want the session", out)
	}
}
