package fake

import (
	"net/http"
	"strconv"
	"time"
)

// HandlerWithAdmin returns Handler plus unauthenticated control endpoints
// for the standalone binary and for tests that drive the fake over HTTP:
//
//	POST /__fake/mutate?kind=new|backdated|post_pending|update|delete&n=N[&age=240h]
//	POST /__fake/item-status?itemId=...&status=...[&executionStatus=...]
//	GET  /__fake/stats
//	POST /__fake/stats/reset
//
// Admin requests are not counted in Stats and do not advance the fault
// schedule. Never expose this handler beyond loopback.
func (s *Server) HandlerWithAdmin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /__fake/mutate", s.adminMutate)
	mux.HandleFunc("POST /__fake/item-status", s.adminItemStatus)
	mux.HandleFunc("GET /__fake/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, jsonReply(http.StatusOK, s.Stats()))
	})
	mux.HandleFunc("POST /__fake/stats/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetStats()
		writeAdmin(w, jsonReply(http.StatusOK, map[string]bool{"ok": true}))
	})
	mux.Handle("/", s.Handler())
	return mux
}

func writeAdmin(w http.ResponseWriter, rep *reply) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body())
}

func (s *Server) adminMutate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n := 1
	if v := q.Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			writeAdmin(w, validationError("n must be a non-negative integer"))
			return
		}
	}
	kind := q.Get("kind")
	out := map[string]any{"kind": kind}
	switch kind {
	case "new":
		out["ids"] = nonNil(s.AddNew(n))
	case "backdated":
		age := 10 * 24 * time.Hour
		if v := q.Get("age"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				writeAdmin(w, validationError("age must be a Go duration such as 240h"))
				return
			}
			age = d
		}
		out["ids"] = nonNil(s.AddBackdated(n, age))
	case "post_pending":
		oldIDs, newIDs := s.PostPending(n)
		out["old_ids"], out["new_ids"] = nonNil(oldIDs), nonNil(newIDs)
	case "update":
		out["ids"] = nonNil(s.UpdateInPlace(n))
	case "delete":
		out["ids"] = nonNil(s.Delete(n))
	default:
		writeAdmin(w, validationError("kind must be one of new, backdated, post_pending, update, delete"))
		return
	}
	writeAdmin(w, jsonReply(http.StatusOK, out))
}

func (s *Server) adminItemStatus(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if s.lookupItem(q.Get("itemId")) == nil || q.Get("status") == "" {
		writeAdmin(w, validationError("itemId must name an item and status is required"))
		return
	}
	s.SetItemStatus(q.Get("itemId"), q.Get("status"), q.Get("executionStatus"))
	writeAdmin(w, jsonReply(http.StatusOK, map[string]bool{"ok": true}))
}

// nonNil makes an empty result encode as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
