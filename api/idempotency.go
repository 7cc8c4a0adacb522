package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/jsonw"
	"github.com/tidwall/gjson"
)

// idempotent runs a POST at most once per (caller, route, Idempotency-Key):
// a repeat gets the first answer again, marked Idempotent-Replayed.
// Answers of 5xx are not kept, so a retry after an outage runs again.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, ps httprouter.Params, p *Principal, rt route) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 200 {
		writeError(w, badRequest("Idempotency-Key", "the Idempotency-Key header is at most 200 characters"), s.Log)
		return
	}
	scope := p.ID + "\x00" + r.Method + "\x00" + r.URL.Path + "\x00" + key
	first, stored, err := s.DB.ClaimIdempotency(scope)
	if err != nil {
		writeError(w, err, s.Log)
		return
	}
	if !first {
		doc := gjson.ParseBytes(stored)
		if doc.Get("pending").Bool() {
			writeError(w, conflict("a request with this Idempotency-Key is still in progress; retry in a moment"), s.Log)
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
		status := int(doc.Get("status").Int())
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		if status >= 400 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(doc.Get("body").Raw))
			return
		}
		writeJSON(w, status, []byte(doc.Get("body").Raw))
		return
	}
	status, body, err := rt.handle(s, r, ps, p)
	if err != nil {
		pr := toProblem(err)
		if pr.Status >= 500 {
			_ = s.DB.ForgetIdempotency(scope)
		} else {
			_ = s.DB.StoreIdempotency(scope, storedAnswer(pr.Status, problemJSON(pr)))
		}
		writeError(w, err, s.Log)
		return
	}
	_ = s.DB.StoreIdempotency(scope, storedAnswer(status, body))
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, body)
}

func storedAnswer(status int, body []byte) []byte {
	var j jsonw.W
	j.Object().Num("status", int64(status)).Key("body").Raw(body).End()
	return j.Bytes()
}
