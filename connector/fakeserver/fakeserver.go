// Package fakeserver runs one of the in-repo fake APIs as a program
// (cmd/fake-pluggy, cmd/fake-gocardless-bank-data, cmd/fake-enablebanking): on a
// loopback address only, since the fakes' scenario switches have no
// authentication; announcing what a connector config needs as one JSON
// line; serving until the context ends, then shutting down cleanly.
package fakeserver

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
	"syscall"
	"time"
)

// CheckLoopback refuses an --addr other machines could reach.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %q: only loopback addresses (127.0.0.0/8, ::1, localhost) are allowed: the fake's admin endpoints have no authentication", addr)
}

// Run listens on addr, writes ready(origin) as one JSON line on stdout
// (origin is "http://HOST:PORT"), and serves h until ctx ends.
func Run(ctx context.Context, addr string, h http.Handler, stdout io.Writer, ready func(origin string) any) error {
	if err := CheckLoopback(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if err := json.NewEncoder(stdout).Encode(ready("http://" + ln.Addr().String())); err != nil {
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

// Command is what a fake binary does besides serving, named by its first
// argument: the demo, which runs a connector against the fake in-process.
// Run's result is the exit code.
type Command struct {
	Name, Summary string
	Run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// Main is a fake binary's main: a first argument naming one of commands
// runs that command and exits with its code; anything else is run's command
// line, served until SIGINT or SIGTERM, and an error exits 2 prefixed by
// name; -help prints the usage and exits 0, as asking for help is no error.
func Main(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error, commands ...Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := 0
	if c := commandOf(os.Args[1:], commands); c != nil {
		code = c.Run(ctx, os.Args[2:], os.Stdout, os.Stderr)
	} else if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, name+":", err)
		code = 2
	}
	stop() // before os.Exit, which skips deferred calls
	os.Exit(code)
}

func commandOf(args []string, commands []Command) *Command {
	if len(args) == 0 {
		return nil
	}
	for i := range commands {
		if commands[i].Name == args[0] {
			return &commands[i]
		}
	}
	return nil
}

// Usage is a fake's -help: its forms (serving, then each command), then the
// serving flags.
func Usage(fs *flag.FlagSet, serves string, commands ...Command) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage of %s:\n", fs.Name())
		fmt.Fprintf(w, "  %s [flags]\n        %s\n", fs.Name(), serves)
		for _, c := range commands {
			fmt.Fprintf(w, "  %s %s [flags]\n        %s (%s %s --help for its flags)\n", fs.Name(), c.Name, c.Summary, fs.Name(), c.Name)
		}
		fmt.Fprintf(w, "\nFlags of %s:\n", fs.Name())
		fs.PrintDefaults()
	}
}
