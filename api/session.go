package api

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
)

// adminSignIn turns the bootstrap admin token into a portal session:
// POST /auth/session {"token": ...}.
func (s *Server) adminSignIn(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	b := bind(r, "token")
	tok := b.str("token")
	if b.err != nil {
		writeError(w, b.err, s.Log)
		return
	}
	sess, err := s.svc().AdminSession(tok)
	if err != nil {
		writeError(w, err, s.Log)
		return
	}
	setSessionCookie(w, r, sess.Cookie)
	var j jsonw.W
	j.Object().Str("user", adminUserID).Str("csrfToken", sess.CSRF).End()
	writeJSON(w, http.StatusOK, j.Bytes())
}

// setSessionCookie sets the portal session cookie ("" clears it).
func setSessionCookie(w http.ResponseWriter, r *http.Request, value string) {
	maxAge := int(control.SessionTTL / time.Second)
	if value == "" {
		maxAge = -1
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: !plainLoopback(r), SameSite: http.SameSiteLaxMode})
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	p, err := s.authenticate(r) // also checks CSRF: logout is a change
	if err != nil {
		writeError(w, err, s.Log)
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.svc().EndSession(p, c.Value)
	}
	setSessionCookie(w, r, "")
	w.WriteHeader(http.StatusNoContent)
}

// requestURL is the URL the client used: Spin passes it as spin-full-url.
func requestURL(r *http.Request) *url.URL {
	if full := r.Header.Get("spin-full-url"); full != "" {
		if u, err := url.Parse(full); err == nil {
			return u
		}
	}
	u := *r.URL
	if u.Host == "" {
		u.Host = r.Host
	}
	if u.Scheme == "" {
		u.Scheme = "http"
		if r.TLS != nil {
			u.Scheme = "https"
		}
	}
	return &u
}

// plainLoopback: a Secure cookie would never come back over plain http, so
// it is dropped only for http on a loopback address (a laptop).
func plainLoopback(r *http.Request) bool {
	u := requestURL(r)
	host := u.Hostname()
	return u.Scheme == "http" && (host == "localhost" || host == "::1" || strings.HasPrefix(host, "127."))
}
