package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestServesWhatItPrints starts the command and uses the printed line as a
// connector would: the key file signs a token the server accepts, and the
// sessions it lists are there.
func TestServesWhatItPrints(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"--sessions", "1", "--key-file", keyFile}, pw, io.Discard)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil {
		cancel()
		t.Fatalf("no ready line: %v (run: %v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	var r ready
	if err := json.Unmarshal(line, &r); err != nil || len(r.SessionIDs) != 1 || r.PrivateKeyPath != keyFile {
		t.Fatalf("ready line %q: %v", line, err)
	}
	pemBytes, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "enablebanking.com", "aud": "api.enablebanking.com",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	tok.Header["kid"] = r.ApplicationID
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/sessions/" + r.SessionIDs[0]: 200, "/__fake/stats": 200} {
		req, _ := http.NewRequest("GET", r.BaseURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+signed)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	err := run(context.Background(), []string{"--addr", "0.0.0.0:0", "--key-file", filepath.Join(t.TempDir(), "k")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v", err)
	}
}
