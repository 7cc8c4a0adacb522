package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/kv"
)

// idempotent runs a POST at most once per (caller, route, Idempotency-Key),
// as the IETF httpapi Idempotency-Key draft describes:
//   - a repeat of the same request gets the first answer again, marked
//     Idempotent-Replayed (answers of 5xx are not kept: a retry after an
//     outage runs again);
//   - the same key with a different request (method, path or body) is 422;
//   - a repeat while the first is still running is 409; a claim whose
//     request died expires after lock_ttl, stored answers after
//     idempotency_ttl (kv.DB.ClaimIdempotency).
//
// An answer that carries a secret is never stored: the route's replay
// function turns it into a notice that the secret was shown once.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, ps httprouter.Params, p *Principal, rt route) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 200 {
		writeError(w, badRequest("Idempotency-Key", "the Idempotency-Key header is at most 200 characters"), s.Log)
		return
	}
	body, err := readAllBody(r)
	if err != nil {
		writeError(w, err, s.Log)
		return
	}
	scope := p.ID + "\x00" + r.Method + "\x00" + r.URL.Path + "\x00" + key
	hash := requestHash(r.Method, r.URL.Path, body)
	first, rec, err := s.DB.ClaimIdempotency(scope, hash)
	switch {
	case err != nil:
		writeError(w, err, s.Log)
	case !first:
		s.replay(w, rec, hash)
	default:
		s.runOnce(w, r, ps, p, rt, scope, hash)
	}
}

// replay answers a repeat of a key with what its first request got.
func (s *Server) replay(w http.ResponseWriter, rec kv.Idempotency, hash string) {
	switch {
	case rec.Hash != hash:
		writeError(w, &Problem{Status: http.StatusUnprocessableEntity, Title: "Idempotency-Key reused", Field: "Idempotency-Key",
			Detail: "this Idempotency-Key was already used for a different request (method, path or body); send a new key with a new request"}, s.Log)
	case rec.Pending:
		writeError(w, conflict("a request with this Idempotency-Key is still in progress; retry in a moment"), s.Log)
	default:
		w.Header().Set("Idempotent-Replayed", "true")
		writeAnswer(w, rec.Status, rec.Body)
	}
}

// runOnce runs the request that claimed the key and stores its answer
// (or forgets the claim after a 5xx, so a retry runs again).
func (s *Server) runOnce(w http.ResponseWriter, r *http.Request, ps httprouter.Params, p *Principal, rt route, scope, hash string) {
	status, out, err := rt.handle(s, r, ps, p)
	if err != nil {
		pr := toProblem(err)
		if pr.Status >= 500 {
			_ = s.DB.ForgetIdempotency(scope)
		} else {
			_ = s.DB.StoreIdempotency(scope, kv.Idempotency{Hash: hash, Status: pr.Status, Body: problemJSON(pr)})
		}
		writeError(w, err, s.Log)
		return
	}
	stored := kv.Idempotency{Hash: hash, Status: status, Body: out}
	if rt.replay != nil {
		pr := rt.replay(out)
		stored.Status, stored.Body = pr.Status, problemJSON(pr)
	}
	_ = s.DB.StoreIdempotency(scope, stored)
	writeAnswer(w, status, out)
}

// writeAnswer writes a handler's (or a stored) answer: JSON, a problem, or
// no content.
func writeAnswer(w http.ResponseWriter, status int, body []byte) {
	switch {
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	case status >= 400:
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	default:
		writeJSON(w, status, body)
	}
}

// readAllBody reads the (bounded) body for hashing and puts it back for the handler.
func readAllBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := readLimited(r)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

func requestHash(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method + "\x00" + path + "\x00"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
