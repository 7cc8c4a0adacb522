package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/jsonw"
	"github.com/spinport/spinport/kv"
)

// Problem is an error with an HTTP status and a message a person can act
// on (RFC 9457 application/problem+json). Handlers return *Problem for
// anything the caller got wrong; every error reaches the client through
// writeError, the one place that maps errors to responses.
type Problem struct {
	Status int
	Title  string
	Detail string // what is wrong and how to fix it
	Field  string // the request field at fault, if any
	Quota  string // the quota exceeded, if any
}

func (p *Problem) Error() string { return p.Detail }

func badRequest(field, detail string) *Problem {
	return &Problem{Status: http.StatusBadRequest, Title: "Invalid request", Field: field, Detail: detail}
}

func notFound(detail string) *Problem {
	return &Problem{Status: http.StatusNotFound, Title: "Not found", Detail: detail}
}

func conflict(detail string) *Problem {
	return &Problem{Status: http.StatusConflict, Title: "Conflict", Detail: detail}
}

func forbidden(detail string) *Problem {
	return &Problem{Status: http.StatusForbidden, Title: "Forbidden", Detail: detail}
}

func unauthorized(detail string) *Problem {
	return &Problem{Status: http.StatusUnauthorized, Title: "Unauthorized", Detail: detail}
}

func unavailable(detail string) *Problem {
	return &Problem{Status: http.StatusServiceUnavailable, Title: "Service unavailable", Detail: detail}
}

// IsUnavailable reports whether err, or an error it wraps, comes from a
// dependency that is down (kv.UnavailableError for the KV store and Redis,
// k8sproxy.UnavailableError for the Kubernetes API): such errors have an
// Unavailable() bool method and the client may retry.
//
// It walks the chain with type assertions on purpose: under TinyGo 0.30,
// errors.As with an interface-typed target reports true for any error and
// leaves the target nil, so calling its method trapped the instance (an
// empty 500 for every internal error). Only concrete targets go to errors.As.
func IsUnavailable(err error) bool {
	for err != nil {
		if u, ok := err.(interface{ Unavailable() bool }); ok && u.Unavailable() {
			return true
		}
		switch x := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if IsUnavailable(e) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		default:
			return false
		}
	}
	return false
}

// kinds maps each kind of spinport.Error to its status and default title.
var kinds = map[spinport.Kind]struct {
	status int
	title  string
}{
	spinport.Invalid:      {http.StatusBadRequest, "Invalid request"},
	spinport.Unauthorized: {http.StatusUnauthorized, "Unauthorized"},
	spinport.Forbidden:    {http.StatusForbidden, "Forbidden"},
	spinport.NotFound:     {http.StatusNotFound, "Not found"},
	spinport.Conflict:     {http.StatusConflict, "Conflict"},
	spinport.Refused:      {http.StatusUnprocessableEntity, "Refused"},
	spinport.Failed:       {http.StatusBadGateway, "Dependency failed"},
	spinport.Unavailable:  {http.StatusServiceUnavailable, "Service unavailable"},
}

func toProblem(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var de *spinport.Error
	if errors.As(err, &de) {
		if k, ok := kinds[de.Kind]; ok {
			title := de.Title
			if title == "" {
				title = k.title
			}
			return &Problem{Status: k.status, Title: title, Field: de.Field, Detail: de.Detail}
		}
	}
	var q *spinport.QuotaError
	if errors.As(err, &q) {
		return &Problem{Status: http.StatusForbidden, Title: "Quota exceeded", Quota: q.Quota,
			Detail: "the tenant's quota " + q.Quota + " is " + strconv.FormatInt(q.Limit, 10) + ": remove something or ask an installation admin to raise it"}
	}
	switch {
	case errors.Is(err, kv.ErrNotFound):
		return notFound("no such resource")
	case errors.Is(err, kv.ErrExists):
		return conflict("already exists")
	case errors.Is(err, kv.ErrBadCursor):
		return badRequest("cursor", "the page cursor is not one this API handed out: start again without it")
	case errors.Is(err, kv.ErrConflict):
		return conflict("the record changed while this request was writing it; retry the request")
	}
	var kvDown *kv.UnavailableError
	if errors.As(err, &kvDown) {
		return unavailable("spinport's key-value store (Redis) is not answering; retry the same request shortly")
	}
	if IsUnavailable(err) {
		return unavailable("a service spinport depends on is not answering; retry the same request shortly")
	}
	return &Problem{Status: http.StatusInternalServerError, Title: "Internal error", Detail: "spinport failed to complete the request; it has been logged"}
}

// writeError answers with err as problem+json. Internal errors are logged
// by the caller's logger, never echoed (they may hold details of the store).
func writeError(w http.ResponseWriter, err error, log func(string)) {
	p := toProblem(err)
	if p.Status >= 500 && log != nil {
		// The cause goes to the log, never to the client (it may name
		// internals of the store); causes carry no secrets (kv and k8sproxy
		// redact URLs and tokens).
		log(strconv.Itoa(p.Status) + " " + p.Title + ": " + err.Error())
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(problemJSON(p))
}

func problemJSON(p *Problem) []byte {
	var j jsonw.W
	j.Object().Str("type", "about:blank").Str("title", p.Title).Num("status", int64(p.Status)).Str("detail", p.Detail).
		OptStr("field", p.Field).OptStr("quota", p.Quota).End()
	return j.Bytes()
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
