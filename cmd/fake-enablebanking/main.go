// Command fake-enablebanking serves the fake Enable Banking API (package
// connector/enablebanking/fake) on a loopback address, for demos, manual
// runs of the connector and end-to-end tests in other languages.
//
// It writes the application's private key to --key-file and prints one JSON
// line with what a connector config needs:
//
//	{"base_url":"http://127.0.0.1:PORT","application_id":"…","private_key_path":"…","session_ids":["…"]}
//
// and serves until SIGINT or SIGTERM. Scenario switches are under /__fake/
// without authentication (see fake.Server.AdminHandler), which is why the
// server refuses to listen anywhere but loopback.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/source-pluggy/source-pluggy/connector/enablebanking/fake"
	"github.com/source-pluggy/source-pluggy/connector/source"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fake-enablebanking:", err)
		os.Exit(1)
	}
}

// ready is the line printed once the server listens.
type ready struct {
	BaseURL        string   `json:"base_url"`
	ApplicationID  string   `json:"application_id"`
	PrivateKeyPath string   `json:"private_key_path"`
	SessionIDs     []string `json:"session_ids"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fake-enablebanking", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "loopback `host:port` to listen on (port 0 picks a free one)")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	sessions := fs.Int("sessions", 2, "authorised sessions, two accounts each")
	transactions := fs.Int("transactions", 60, "booked transactions per account")
	pageSize := fs.Int("page-size", 25, "transactions per page")
	dailyLimit := fs.Int("daily-limit", 4, "unattended calls per account and endpoint per rolling 24h")
	keyFile := fs.String("key-file", filepath.Join(os.TempDir(), "fake-enablebanking-key.pem"), "where to write the application's private key (PEM)")
	latency := fs.Duration("latency", 0, "delay added to every answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for name, v := range map[string]int{"--sessions": *sessions, "--transactions": *transactions, "--page-size": *pageSize, "--daily-limit": *dailyLimit} {
		if v < 1 {
			return fmt.Errorf("%s must be at least 1, got %d", name, v)
		}
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", *addr, err)
	}
	if !source.IsLoopback(host) {
		return fmt.Errorf("--addr %q: only loopback addresses (127.0.0.0/8, ::1, localhost) are allowed", *addr)
	}
	f := fake.New(fake.Options{Seed: *seed, Sessions: *sessions, TransactionsPerAccount: *transactions, PageSize: *pageSize, DailyLimit: *dailyLimit, Latency: *latency})
	if err := os.WriteFile(*keyFile, []byte(f.PrivateKeyPEM()), 0o600); err != nil {
		return fmt.Errorf("--key-file: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/__fake/", f.AdminHandler())
	mux.Handle("/", f.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	line, _ := json.Marshal(ready{BaseURL: "http://" + ln.Addr().String(), ApplicationID: f.ApplicationID(), PrivateKeyPath: *keyFile, SessionIDs: f.SessionIDs()})
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		ln.Close()
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
