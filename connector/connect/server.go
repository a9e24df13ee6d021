package connect

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Server is the local web server of one connect run. It listens on loopback
// only, and every route lives under a path made of 128 random bits, so the
// page and its callbacks are bound to this run: another local process (or a
// web page the user has open) cannot guess where to post a fake result.
type Server struct {
	ln     net.Listener
	srv    *http.Server
	mux    *http.ServeMux
	prefix string // "/" + token
	origin string // "http://127.0.0.1:PORT"
	hosts  map[string]bool
}

// ErrPortInUse is Listen's error for a --listen port another socket holds.
var ErrPortInUse = errors.New("the port is in use")

// Listen opens the server on addr ("127.0.0.1:0" picks a free port). Only
// loopback addresses are accepted: the page carries a credential (a connect
// token, a bank link) that must not be served to the network.
func Listen(addr string) (*Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %q is not HOST:PORT (e.g. 127.0.0.1:0): %w", addr, err)
	}
	if !isLoopback(host) {
		return nil, fmt.Errorf("--listen %q is not a loopback address; use 127.0.0.1:PORT (the page must not be reachable from the network)", addr)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("--listen %s: %w; pick another port, or leave --listen out to use a free one", addr, ErrPortInUse)
		}
		return nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	s := &Server{ln: ln, mux: http.NewServeMux(), prefix: "/" + Token()}
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	s.origin = "http://" + ln.Addr().String()
	s.hosts = map[string]bool{ln.Addr().String(): true, "localhost:" + p: true}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }() // ErrServerClosed once connect is done
	return s, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Token returns 128 random bits in hex: unguessable run-bound names.
func Token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand panics on a broken source)
	return hex.EncodeToString(b)
}

// ServeHTTP rejects requests for another Host (DNS rebinding: a web page
// that makes its own name resolve to 127.0.0.1 sends its own Host) and
// cross-origin posts, then serves the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.hosts[r.Host] {
		http.Error(w, "wrong host", http.StatusMisdirectedRequest)
		return
	}
	if o := r.Header.Get("Origin"); r.Method != http.MethodGet && o != "" && o != s.origin {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the run's token never leaves in a Referer
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	s.mux.ServeHTTP(w, r)
}

// Handle serves h at path (e.g. "GET /", "POST /result") under the run's
// secret prefix.
func (s *Server) Handle(pattern string, h http.HandlerFunc) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	full := s.prefix + path
	if method != "" {
		full = method + " " + full
	}
	s.mux.HandleFunc(full, h)
}

// HandleFixed serves h at a fixed path, outside the run's secret prefix:
// for a redirect URL an API wants registered in advance (Enable Banking),
// which cannot carry a per-run secret. h must bind the request to the run
// itself, as an OAuth callback does by checking its state.
func (s *Server) HandleFixed(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, h)
}

// URL is the absolute URL of path under the run's prefix.
func (s *Server) URL(path string) string { return s.origin + s.prefix + path }

// Origin is the server's origin, "http://127.0.0.1:PORT".
func (s *Server) Origin() string { return s.origin }

// Close stops the server, letting the answers in flight finish first (the
// page that says "you can close this tab" is written as the run ends).
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

// HTML writes an HTML page.
func HTML(w http.ResponseWriter, page string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, page)
}

// ReadJSON decodes a small JSON request body into v.
func ReadJSON(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(v)
}

// OpenBrowser asks the desktop to open url in the user's browser. Outside
// macOS and Windows a session without DISPLAY or WAYLAND_DISPLAY (SSH, a
// server, a container) has no desktop: xdg-open would fail later, unheard
// (its exit status is not waited for), or start a text browser with no
// terminal, so that is an error the user is told about at once.
func OpenBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no desktop session (neither DISPLAY nor WAYLAND_DISPLAY is set)")
		}
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }() // reap it; its exit status says nothing useful
	return nil
}
