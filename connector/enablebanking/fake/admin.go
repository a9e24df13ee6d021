package fake

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// AdminHandler serves the scenario switches over HTTP, for the runnable
// cmd/fake-enablebanking and tests in other languages. It has no
// authentication, which is why that command only listens on loopback.
//
//	POST /__fake/add-booked?uid=U&n=N
//	POST /__fake/book-pending?uid=U
//	POST /__fake/change-references?uid=U&days=N
//	POST /__fake/expire-session?id=S
//	POST /__fake/revoke-session?id=S
//	POST /__fake/exhaust-quota?uid=U&endpoint=transactions
//	POST /__fake/aspsp-error?uid=U&on=true
//	POST /__fake/advance-clock?hours=H
//	GET  /__fake/stats
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	do := func(pattern string, fn func(r *http.Request) error) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := fn(r); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			writeJSON(w, 200, map[string]string{"status": "ok"})
		})
	}
	q := func(r *http.Request, name string) string { return r.URL.Query().Get(name) }
	num := func(r *http.Request, name string) (int, error) {
		n, err := strconv.Atoi(q(r, name))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s must be a non-negative integer", name)
		}
		return n, nil
	}
	do("POST /__fake/add-booked", func(r *http.Request) error {
		n, err := num(r, "n")
		if err == nil {
			_, err = s.addBooked(q(r, "uid"), n)
		}
		return err
	})
	do("POST /__fake/book-pending", func(r *http.Request) error { return s.bookPending(q(r, "uid")) })
	do("POST /__fake/change-references", func(r *http.Request) error {
		n, err := num(r, "days")
		if err == nil {
			err = s.changeReferences(q(r, "uid"), n)
		}
		return err
	})
	do("POST /__fake/expire-session", func(r *http.Request) error { return s.setSessionStatus(q(r, "id"), "EXPIRED") })
	do("POST /__fake/revoke-session", func(r *http.Request) error { return s.setSessionStatus(q(r, "id"), "REVOKED") })
	do("POST /__fake/exhaust-quota", func(r *http.Request) error { return s.exhaustQuota(q(r, "uid"), q(r, "endpoint")) })
	do("POST /__fake/aspsp-error", func(r *http.Request) error { return s.setASPSPError(q(r, "uid"), q(r, "on") != "false") })
	do("POST /__fake/advance-clock", func(r *http.Request) error {
		n, err := num(r, "hours")
		if err == nil {
			s.AdvanceClock(time.Duration(n) * time.Hour)
		}
		return err
	})
	mux.HandleFunc("GET /__fake/stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Stats()) })
	return mux
}
