package fake

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HandlerWithAdmin returns Handler plus unauthenticated control endpoints
// for the standalone binary and for tests that drive the fake over HTTP:
//
//	POST /__fake/mutate?kind=new|backdated|post_pending|update|delete|delete_old|announce_delete|close_bill&n=N[&age=240h]
//	POST /__fake/mutate?kind=restore&ids=ID,ID[&updated_at=keep]   (Restore: deleted rows served again; keep: RestoreUnchanged)
//	POST /__fake/item-status?itemId=...&status=...[&executionStatus=...]
//	POST /__fake/item-error?itemId=...&code=...[&parameter=...]   (ItemError: item/error webhook)
//	POST /__fake/item-synced?itemId=...   (ItemSynced: a successful sync, item/updated webhook)
//	POST /__fake/connector-status?status=UNSTABLE   (ConnectorStatusUpdated: connector/status_updated webhook)
//	POST /__fake/webhooks/faults?drop_percent=20&duplicate_every=3&delay=10ms&reorder=true
//	POST /__fake/webhooks/wait   (returns once every queued delivery is done)
//	GET  /__fake/webhooks/stats
//	GET  /__fake/stats
//	POST /__fake/stats/reset
//
// Admin requests are not counted in Stats and do not advance the fault
// schedule. Never expose this handler beyond loopback.
func (s *Server) HandlerWithAdmin() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /__fake/mutate", s.adminMutate)
	mux.HandleFunc("POST /__fake/item-status", s.adminItemStatus)
	mux.HandleFunc("POST /__fake/item-error", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code") == "" || !s.ItemError(q.Get("itemId"), q.Get("code"), q.Get("parameter")) {
			writeAdmin(w, validationError("itemId must name an item and code is required"))
			return
		}
		writeAdmin(w, jsonReply(http.StatusOK, map[string]bool{"ok": true}))
	})
	mux.HandleFunc("POST /__fake/item-synced", func(w http.ResponseWriter, r *http.Request) {
		if !s.ItemSynced(r.URL.Query().Get("itemId")) {
			writeAdmin(w, validationError("itemId must name an item"))
			return
		}
		writeAdmin(w, jsonReply(http.StatusOK, map[string]bool{"ok": true}))
	})
	mux.HandleFunc("POST /__fake/connector-status", func(w http.ResponseWriter, r *http.Request) {
		status := r.URL.Query().Get("status")
		if status == "" {
			writeAdmin(w, validationError("status is required (ONLINE, OFFLINE or UNSTABLE)"))
			return
		}
		s.ConnectorStatusUpdated(status)
		writeAdmin(w, jsonReply(http.StatusOK, map[string]bool{"ok": true}))
	})
	mux.HandleFunc("POST /__fake/webhooks/faults", s.adminDeliveryFaults)
	mux.HandleFunc("POST /__fake/webhooks/wait", func(w http.ResponseWriter, r *http.Request) {
		if err := s.WaitDeliveries(r.Context()); err != nil {
			writeAdmin(w, errorReply(http.StatusServiceUnavailable, "", err.Error()))
			return
		}
		writeAdmin(w, jsonReply(http.StatusOK, s.DeliveryStats()))
	})
	mux.HandleFunc("GET /__fake/webhooks/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, jsonReply(http.StatusOK, s.DeliveryStats()))
	})
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
	case "backdated", "delete_old":
		age := 10 * 24 * time.Hour
		if kind == "delete_old" {
			age = 90 * 24 * time.Hour
		}
		if v := q.Get("age"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				writeAdmin(w, validationError("age must be a Go duration such as 240h"))
				return
			}
			age = d
		}
		if kind == "delete_old" {
			out["ids"] = nonNil(s.DeleteOlder(n, age))
		} else {
			out["ids"] = nonNil(s.AddBackdated(n, age))
		}
	case "post_pending":
		oldIDs, newIDs := s.PostPending(n)
		out["old_ids"], out["new_ids"] = nonNil(oldIDs), nonNil(newIDs)
	case "update":
		out["ids"] = nonNil(s.UpdateInPlace(n))
	case "delete":
		out["ids"] = nonNil(s.Delete(n))
	case "announce_delete":
		out["ids"] = nonNil(s.AnnounceDeletion(n))
	case "restore":
		// updated_at picks the variant: whether Pluggy moves updatedAt on
		// when it undoes a deletion is not documented, and a user running
		// the fake by hand needs both to see a consumer take the row back.
		ids := strings.Split(q.Get("ids"), ",")
		switch q.Get("updated_at") {
		case "", "now":
			out["ids"] = nonNil(s.Restore(ids))
		case "keep":
			out["ids"] = nonNil(s.RestoreUnchanged(ids))
		default:
			writeAdmin(w, validationError("updated_at must be now (the default: the restored rows' updatedAt moves on) or keep (as it was before the deletion)"))
			return
		}
	case "close_bill":
		oldIDs, newIDs := s.CloseBill()
		out["old_ids"], out["new_ids"] = nonNil(oldIDs), nonNil(newIDs)
	default:
		writeAdmin(w, validationError("kind must be one of new, backdated, post_pending, update, delete, delete_old, announce_delete, restore, close_bill"))
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

func (s *Server) adminDeliveryFaults(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f DeliveryFaults
	var err error
	atoi := func(name string) int {
		v := q.Get(name)
		if v == "" || err != nil {
			return 0
		}
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 {
			err = e
			if err == nil {
				err = strconv.ErrRange
			}
		}
		return n
	}
	f.DropPercent = atoi("drop_percent")
	f.DuplicateEvery = atoi("duplicate_every")
	if v := q.Get("delay"); v != "" && err == nil {
		f.Delay, err = time.ParseDuration(v)
	}
	if v := q.Get("reorder"); v != "" && err == nil {
		f.Reorder, err = strconv.ParseBool(v)
	}
	if err != nil || f.DropPercent > 100 {
		writeAdmin(w, validationError("drop_percent (0-100) and duplicate_every are non-negative integers, delay a Go duration, reorder a boolean"))
		return
	}
	s.SetDeliveryFaults(f)
	writeAdmin(w, jsonReply(http.StatusOK, f))
}
