// Package pgtest starts a real PostgreSQL server for tests: Debian's server
// binaries (package postgresql), a cluster made by initdb in a temporary
// directory, a Unix socket in that directory and TCP on 127.0.0.1 at a free
// port, password authentication over TCP (so tests can get credentials
// wrong). Each test gets a database of its own on one server per test
// binary; the server is stopped and its directory removed when the binary's
// tests end (Main).
//
// Where the binaries are absent, tests skip with a log line; under CI=true
// they fail instead, since .ci/run installs the package.
package pgtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
)

// Password is the superuser's password over TCP.
const Password = "pgtest-secret"

// User is the superuser's name.
const User = "postgres"

// Server is a running PostgreSQL cluster.
type Server struct {
	Dir  string // the cluster's directory: data/, the socket, the log
	Port int
	bin  string
}

var (
	once    sync.Once
	shared  *Server
	initErr error
	dbSeq   atomic.Int64
)

// Main runs a test binary's tests and stops the server they started, if
// any: call it from TestMain.
func Main(m interface{ Run() int }) {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

// BinDir returns the directory of the PostgreSQL server binaries (initdb,
// pg_ctl), the newest of /usr/lib/postgresql/*/bin, or "" when none is
// installed. PGTEST_BIN overrides it.
func BinDir() string {
	if d := os.Getenv("PGTEST_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// Shared returns the test binary's server, starting it on first use. A test
// that cannot have one is skipped (or failed under CI=true).
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := needBin(t)
	once.Do(func() { shared, initErr = start(bin) })
	if initErr != nil {
		t.Fatalf("pgtest: %v", initErr)
	}
	return shared
}

// needBin returns BinDir, and skips t (fails it under CI=true) where the
// binaries are absent.
func needBin(t testing.TB) string {
	t.Helper()
	bin := BinDir()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("pgtest: PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin); .ci/run installs the postgresql package")
		}
		t.Skip("pgtest: PostgreSQL server binaries not found (install Debian's postgresql package); skipping")
	}
	return bin
}

// Private starts a server for the test alone, stopped at its end: for a
// test that restarts the server, which would end the sessions of every
// other test on the shared one. Skipped as Shared is.
func Private(t testing.TB) *Server {
	t.Helper()
	Shared(t) // skips or fails where the binaries are absent
	s, err := start(BinDir())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Durable starts a server for the test alone, stopped at its end, that
// makes each commit durable as a production server does (fsync and
// synchronous_commit on; the others have them off, for speed): for a
// benchmark of what commits cost. Skipped as Shared is.
func Durable(t testing.TB) *Server {
	t.Helper()
	s, err := startWith(needBin(t), "-c fsync=on -c synchronous_commit=on")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Restart restarts the server with pg_ctl restart, in mode fast (sessions
// are ended, as in a planned restart) or immediate (as after a crash:
// recovery runs at the start, and unlogged tables are emptied). The port
// and settings stay.
func (s *Server) Restart(mode string) error {
	var runAs *user.User
	if os.Geteuid() == 0 {
		runAs, _ = user.Lookup("postgres")
	}
	out, err := s.run(runAs, "pg_ctl", "-D", filepath.Join(s.Dir, "data"), "-l", filepath.Join(s.Dir, "log"), "-m", mode, "-w", "-t", "120", "restart")
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

// DB creates a fresh database for the test on the shared server and returns
// its URL (TCP, password authentication).
func DB(t testing.TB) string {
	t.Helper()
	return Shared(t).DB(t)
}

// DB creates a fresh database for the test on s and returns its URL.
func (s *Server) DB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connecting: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	return s.URL(name)
}

// URL is the connection URL of database db as the superuser, over TCP.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", User, Password, s.Port, db)
}

// DBName is the name of the database of url, a URL DB or URL made: for a
// test's ALTER DATABASE or GRANT ... ON DATABASE.
func DBName(url string) string {
	return strings.TrimSuffix(url[strings.LastIndex(url, "/")+1:], "?sslmode=disable")
}

// Exec runs statements on database url as a test's setup or check.
func Exec(t testing.TB, url string, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Connect(t, url).Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// Connect opens a connection to url for a test's checks, closed at the end
// of the test.
func Connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connecting: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Rows runs query and returns each row's values, printed with fmt and
// joined by "|".
func Rows(t testing.TB, conn *pgx.Conn, query string, args ...any) []string {
	t.Helper()
	rs, err := conn.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", query, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatalf("pgtest: %s: %v", query, err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("pgtest: %s: %v", query, err)
	}
	return out
}

// CheckStreamsLoaded checks that every stream of a read has records and a
// table in schema holding one row per distinct primary key read.
func CheckStreamsLoaded(t testing.TB, conn *pgx.Conn, schema string, streams []protocol.Stream, records map[string][]json.RawMessage) {
	t.Helper()
	for _, s := range streams {
		keys := map[string]bool{}
		for _, raw := range records[s.Name] {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("stream %s: %v", s.Name, err)
			}
			var k []string
			for _, path := range s.SourceDefinedPrimaryKey {
				k = append(k, fmt.Sprint(m[path[0]]))
			}
			keys[strings.Join(k, "|")] = true
		}
		if len(keys) == 0 {
			t.Errorf("stream %s read no records: the test loads nothing", s.Name)
		}
		got := Rows(t, conn, "SELECT count(*) FROM "+pgx.Identifier{schema, s.Name}.Sanitize())
		if got[0] != fmt.Sprint(len(keys)) {
			t.Errorf("stream %s: %s rows in its table, %d distinct keys read", s.Name, got[0], len(keys))
		}
	}
}

// start makes and starts a cluster as an unprivileged user: initdb refuses
// to run as root, so as root the cluster belongs to the "postgres" system
// user (Debian's package creates it).
func start(bin string) (*Server, error) {
	return startWith(bin, "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
}

// startWith starts a server with settings, server options (-c name=value).
func startWith(bin, settings string) (*Server, error) {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin}
	var runAs *user.User
	if os.Geteuid() == 0 {
		runAs, err = user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, and no unprivileged 'postgres' user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(runAs.Uid)
		gid, _ := strconv.Atoi(runAs.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(Password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if runAs != nil {
		uid, _ := strconv.Atoi(runAs.Uid)
		gid, _ := strconv.Atoi(runAs.Gid)
		_ = os.Chown(pwfile, uid, gid)
	}
	data := filepath.Join(dir, "data")
	if out, err := s.run(runAs, "initdb", "-D", data, "-U", User, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		s.Stop()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// A free port can be taken between choosing and binding it: retry.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s.Port, err = freePort()
		if err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 %s -c max_connections=50", s.Port, dir, settings)
		out, err := s.run(runAs, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "120", "start")
		if err == nil {
			if err := s.reaper(runAs); err != nil {
				s.Stop()
				return nil, fmt.Errorf("starting the server's reaper: %w", err)
			}
			return s, nil
		}
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		lastErr = fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	s.Stop()
	return nil, lastErr
}

// reaper stops the server and removes its directory once this test binary
// is gone, however it ended: a panic, a -timeout or a kill skip Main's
// Stop, and a server left behind would hold its port and memory on a
// shared machine. It is a shell in a session of its own that polls for the
// binary's /proc entry; it is not waited for, since it outlives the binary.
func (s *Server) reaper(runAs *user.User) error {
	script := fmt.Sprintf(`while [ -d /proc/%d ]; do sleep 1; done; "%s" -D "%s" -m immediate -w stop >/dev/null 2>&1; rm -rf "%s"`,
		os.Getpid(), filepath.Join(s.bin, "pg_ctl"), filepath.Join(s.Dir, "data"), s.Dir)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: credential(runAs)}
	if runAs != nil {
		cmd.Env = append(os.Environ(), "HOME="+s.Dir)
	}
	return cmd.Start()
}

// credential runs a process as u (the server's system user, where the
// tests run as root: initdb, pg_ctl and pgbouncer refuse root), or as
// this one where u is nil.
func credential(u *user.User) *syscall.Credential {
	if u == nil {
		return nil
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// Stop stops the server (fast: tests keep nothing) and removes its
// directory.
func (s *Server) Stop() {
	if _, err := os.Stat(filepath.Join(s.Dir, "data", "postmaster.pid")); err == nil {
		var runAs *user.User
		if os.Geteuid() == 0 {
			runAs, _ = user.Lookup("postgres")
		}
		_, _ = s.run(runAs, "pg_ctl", "-D", filepath.Join(s.Dir, "data"), "-m", "immediate", "-w", "stop")
	}
	_ = os.RemoveAll(s.Dir)
}

func (s *Server) run(as *user.User, prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.Dir
	if as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: credential(as)}
		cmd.Env = append(os.Environ(), "HOME="+s.Dir)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = fmt.Errorf("%s %s: %w", prog, strings.Join(args, " "), err)
	}
	return out, err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
