package api

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/spinport/spinport/control"
)

// Principal is who is calling (control.Principal).
type Principal = control.Principal

const (
	sessionCookie = "spinport_session"
	csrfHeader    = "X-CSRF-Token"
	tokenPrefix   = control.TokenPrefix
	adminUserID   = control.AdminUserID
)

// authenticate finds the principal from a bearer token or a session cookie.
func (s *Server) authenticate(r *http.Request) (*Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, unauthorized("the Authorization header must be \"Bearer <token>\"")
		}
		return s.bearer(strings.TrimSpace(raw))
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		p, err := s.session(c.Value)
		if err != nil {
			return nil, err
		}
		if !safeMethod(r.Method) {
			got := r.Header.Get(csrfHeader)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.Session.CSRF)) != 1 {
				return nil, forbidden("missing or wrong " + csrfHeader + " header: send the csrfToken from GET /api/v1/me with every change made with a session cookie")
			}
		}
		return p, nil
	}
	return nil, unauthorized("sign in: send \"Authorization: Bearer <token>\" (an API token or the admin token) or sign in to the portal")
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (s *Server) bearer(tok string) (*Principal, error) { return s.svc().Bearer(tok) }

func (s *Server) session(cookie string) (*Principal, error) { return s.svc().SessionPrincipal(cookie) }
