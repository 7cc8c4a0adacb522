package api

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spinport/spinport"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/jsonw"
	"github.com/spinport/spinport/kv"
)

const sessionTTL = 12 * time.Hour

// authRoutes are the portal's sign-in endpoints (not under /api/v1, not in
// the OpenAPI document: browsers use them, not API clients).
func (s *Server) authRoutes(r *httprouter.Router) {
	r.POST("/auth/session", s.adminSignIn)
	r.POST("/auth/logout", s.signOut)
	r.GET("/auth/login", s.oidcLogin)
	r.GET("/auth/callback", s.oidcCallback)
}

// adminSignIn turns the bootstrap admin token into a portal session: the
// first sign-in of a new installation, and local use.
func (s *Server) adminSignIn(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	b, err := readBody(r, "token")
	if err != nil {
		writeError(w, err, s.Log)
		return
	}
	tok, err := b.str("token")
	if err != nil {
		writeError(w, err, s.Log)
		return
	}
	if s.Config.AdminToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.Config.AdminToken)) != 1 {
		writeError(w, unauthorized("that is not the admin token (the admin_token variable)"), s.Log)
		return
	}
	csrf, err := s.startSession(w, r, adminUserID)
	if err != nil {
		writeError(w, err, s.Log)
		return
	}
	var j jsonw.W
	j.Object().Str("user", adminUserID).Str("csrfToken", csrf).End()
	writeJSON(w, http.StatusOK, j.Bytes())
}

// startSession stores a new session for userID and sets its cookie. Only
// the SHA-256 of the cookie value is stored.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID string) (csrf string, err error) {
	id, err := s.randomHex(32)
	if err != nil {
		return "", err
	}
	if csrf, err = s.randomHex(16); err != nil {
		return "", err
	}
	now := s.Now()
	sess := spinport.Session{UserID: userID, CSRF: csrf, CreatedAt: now.Unix(), ExpiresAt: now.Add(sessionTTL).Unix()}
	if err := s.DB.PutSession(kv.SecretHash(id), sess); err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: !plainLoopback(r), SameSite: http.SameSiteLaxMode})
	return csrf, nil
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	p, err := s.authenticate(r) // also checks CSRF: logout is a change
	if err != nil {
		writeError(w, err, s.Log)
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil && p.Session != nil {
		_ = s.DB.DeleteSession(kv.SecretHash(c.Value))
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: !plainLoopback(r), SameSite: http.SameSiteLaxMode})
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
