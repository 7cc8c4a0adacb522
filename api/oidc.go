package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// oidcLogin starts an OpenID Connect sign-in (authorization code + PKCE).
func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	writeError(w, unavailable("OIDC sign-in is not implemented yet"), s.Log)
}

// oidcCallback completes the sign-in.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	writeError(w, unavailable("OIDC sign-in is not implemented yet"), s.Log)
}
