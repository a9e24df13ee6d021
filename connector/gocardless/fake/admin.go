package fake

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AdminHandler serves the scenario switches over HTTP under /__fake/, for
// the runnable fake where tests or demos cannot call methods. It has no
// authentication, so mount it only on a loopback listener. Endpoints:
//
//	POST /__fake/expire?requisition=ID
//	POST /__fake/suspend?account=ID
//	POST /__fake/exhaust?account=ID&endpoint=details|balances|transactions (all if empty)
//	POST /__fake/institution_error?account=ID&status=500|503|0
//	POST /__fake/advance?seconds=N
//	POST /__fake/add_booked?account=ID&n=N
//	POST /__fake/change_pending?account=ID
//	POST /__fake/processing?account=ID&on=1|0
//	POST /__fake/add_late_booked?account=ID&n=N&days_late=D
//	POST /__fake/add_undated?account=ID
//	POST /__fake/reuse_transaction_id?account=ID&transaction_id=X
//	POST /__fake/delete_account?account=ID
//	POST /__fake/reconfirm?requisition=ID
//	POST /__fake/inactive?account=ID&on=1|0
//	POST /__fake/requisition_status?requisition=ID&status=CR|…|ID|ER|SU
//	POST /__fake/link_statuses?statuses=ID,LN (after consent; empty: GA then LN)
//	GET  /__fake/stats
//	POST /__fake/reset_stats
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	do := func(pattern string, f func(q query) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			out, err := f(query{r})
			if err != nil {
				status := http.StatusBadRequest
				if errors.As(err, new(unknownError)) {
					status = http.StatusNotFound
				}
				writeJSON(w, status, map[string]string{"error": err.Error()})
				return
			}
			if out == nil {
				out = map[string]bool{"ok": true}
			}
			writeJSON(w, http.StatusOK, out)
		})
	}
	do("POST /__fake/expire", func(q query) (any, error) {
		return nil, s.expireRequisition(q.get("requisition"))
	})
	do("POST /__fake/suspend", func(q query) (any, error) {
		return nil, s.suspendAccount(q.get("account"))
	})
	do("POST /__fake/exhaust", func(q query) (any, error) {
		return nil, s.exhaustQuota(q.get("account"), q.get("endpoint"))
	})
	do("POST /__fake/institution_error", func(q query) (any, error) {
		status, err := q.int("status")
		if err != nil {
			return nil, err
		}
		return nil, s.setInstitutionError(q.get("account"), status)
	})
	do("POST /__fake/advance", func(q query) (any, error) {
		secs, err := q.int("seconds")
		if err != nil {
			return nil, err
		}
		if err := s.advanceClock(time.Duration(secs) * time.Second); err != nil {
			return nil, err
		}
		return map[string]string{"now": s.Now().Format(time.RFC3339)}, nil
	})
	do("POST /__fake/add_booked", func(q query) (any, error) {
		n, err := q.int("n")
		if err != nil {
			return nil, err
		}
		ids, err := s.addBooked(q.get("account"), n)
		return map[string][]string{"internal_transaction_ids": ids}, err
	})
	do("POST /__fake/change_pending", func(q query) (any, error) {
		return nil, s.changePending(q.get("account"))
	})
	do("POST /__fake/processing", func(q query) (any, error) {
		on, err := q.int("on")
		if err != nil {
			return nil, err
		}
		return nil, s.setProcessing(q.get("account"), on != 0)
	})
	do("POST /__fake/add_late_booked", func(q query) (any, error) {
		n, err := q.int("n")
		if err != nil {
			return nil, err
		}
		late, err := q.int("days_late")
		if err != nil {
			return nil, err
		}
		ids, err := s.addLateBooked(q.get("account"), n, late)
		return map[string][]string{"internal_transaction_ids": ids}, err
	})
	do("POST /__fake/add_undated", func(q query) (any, error) {
		ids, err := s.addUndated(q.get("account"))
		return map[string][]string{"internal_transaction_ids": ids}, err
	})
	do("POST /__fake/reuse_transaction_id", func(q query) (any, error) {
		id, err := s.reuseTransactionID(q.get("account"), q.get("transaction_id"))
		return map[string][]string{"internal_transaction_ids": {id}}, err
	})
	do("POST /__fake/delete_account", func(q query) (any, error) {
		return nil, s.deleteAccount(q.get("account"))
	})
	do("POST /__fake/reconfirm", func(q query) (any, error) {
		return nil, s.reconfirmAgreement(q.get("requisition"))
	})
	do("POST /__fake/inactive", func(q query) (any, error) {
		on, err := q.int("on")
		if err != nil {
			return nil, err
		}
		return nil, s.setInactive(q.get("account"), on != 0)
	})
	do("POST /__fake/requisition_status", func(q query) (any, error) {
		return nil, s.setRequisitionStatus(q.get("requisition"), q.get("status"))
	})
	do("POST /__fake/link_statuses", func(q query) (any, error) {
		var statuses []string
		if v := q.get("statuses"); v != "" {
			statuses = strings.Split(v, ",")
		}
		return nil, s.scriptLinking(statuses)
	})
	do("GET /__fake/stats", func(query) (any, error) {
		return s.Stats(), nil
	})
	do("POST /__fake/reset_stats", func(query) (any, error) {
		s.ResetStats()
		return nil, nil
	})
	return mux
}

type query struct{ r *http.Request }

func (q query) get(name string) string { return q.r.URL.Query().Get(name) }

func (q query) int(name string) (int, error) {
	v := q.get(name)
	if v == "" {
		return 0, errors.New("missing query parameter " + name)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errors.New("query parameter " + name + " is not an integer: " + strconv.Quote(v))
	}
	return n, nil
}
