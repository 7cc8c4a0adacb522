package api

// Portal sign-in with OpenID Connect, the HTTP side: /auth/login and
// /auth/callback read the request, call package oidc (discovery, the
// authorization request, the sealed sign-in in flight, code redemption and
// ID token verification), set the cookies and redirect. The sign-in in
// flight travels between the two in the browser's login cookie, sealed
// with keys derived from admin_token; it is never in the KV store.
//
// Secrets never leave package oidc's variables (and the sealed cookie): the
// authorization code, the tokens, the PKCE verifier and the client secret
// are not logged and not echoed in responses.

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spinport/spinport"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/oidc"
)

const (
	loginCookie  = oidc.LoginCookie // the sign-in in flight, sealed, in the browser that started it
	callbackPath = "/auth/callback"
)

// oidcLogin starts an OpenID Connect sign-in (authorization code + PKCE):
// GET /auth/login[?return=/path].
func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := s.oidcReady(); err != nil {
		writeError(w, err, s.Log)
		return
	}
	authURL, sealed, err := s.oidcClient().Start(r.URL.Query().Get("return"))
	if err != nil {
		writeError(w, err, s.Log)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: sealed, Path: "/auth/", MaxAge: int(oidc.LoginTTL / time.Second),
		HttpOnly: true, Secure: !plainLoopback(r), SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", authURL)
	w.WriteHeader(http.StatusFound)
}

// oidcCallback completes the sign-in: GET /auth/callback?code&state.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	sess, ret, err := s.completeSignIn(r)
	// One Set-Cookie per response: the Spin Go SDK (v2.2.0) passes only the
	// first value of each response header to Spin, so a second cookie
	// would be lost. On success that cookie is the session; the login
	// cookie stays until its Max-Age (10 minutes). Replaying the callback
	// with it only sends the used code to the provider again, which refuses
	// it (a code is good once, RFC 6749 §4.1.2); without it, it is refused
	// here.
	if err != nil {
		http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/auth/", MaxAge: -1,
			HttpOnly: true, Secure: !plainLoopback(r), SameSite: http.SameSiteLaxMode})
		// Concrete targets only: under TinyGo 0.30 errors.As with an
		// interface-typed target matches any error.
		var p *Problem
		var de *spinport.Error
		if errors.As(err, &p) || errors.As(err, &de) {
			if q := toProblem(err); q.Status < 500 {
				s.logf("oidc sign-in refused: " + q.Detail)
			}
		}
		writeError(w, err, s.Log)
		return
	}
	setSessionCookie(w, r, sess.Cookie)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", ret)
	w.WriteHeader(http.StatusFound)
}

// completeSignIn hands the callback to oidc (which checks it against the
// login cookie, redeems the code and verifies the ID token), records the
// user, starts the session and says where to send the browser.
func (s *Server) completeSignIn(r *http.Request) (sess control.NewSession, ret string, err error) {
	if err := s.oidcReady(); err != nil {
		return sess, "", err
	}
	q := r.URL.Query()
	cb := oidc.Callback{State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"),
		ErrorDescription: q.Get("error_description"), Issuer: q.Get("iss")}
	for _, c := range r.Cookies() { // a browser may send more than one (other paths)
		if c.Name == loginCookie {
			cb.Cookies = append(cb.Cookies, c.Value)
		}
	}
	in, err := s.oidcClient().Finish(cb)
	if err != nil {
		return sess, "", err
	}
	sess, err = s.svc().SignedIn(in.User)
	return sess, in.Return, err
}

// oidcClient is the OpenID Connect client of this installation, for this
// request.
func (s *Server) oidcClient() *oidc.Client {
	return &oidc.Client{Issuer: s.Config.OIDC.Issuer, ClientID: s.Config.OIDC.ClientID, ClientSecret: s.Config.OIDC.ClientSecret,
		RedirectURI: s.redirectURI(), CookieSecret: s.Config.AdminToken, HTTP: s.HTTP, Now: s.Now, Rand: s.Rand}
}

// discover fetches the issuer's discovery document (also a deep health
// check).
func (s *Server) discover() (oidc.Provider, error) { return s.oidcClient().Discover() }

// oidcReady reports a configuration that cannot sign anyone in.
func (s *Server) oidcReady() error {
	c := s.Config.OIDC
	if c.Issuer == "" || c.ClientID == "" {
		return unavailable("OIDC sign-in is not configured: set the Spin variables oidc_issuer, oidc_client_id and oidc_client_secret " +
			"(SPIN_VARIABLE_OIDC_ISSUER, SPIN_VARIABLE_OIDC_CLIENT_ID, SPIN_VARIABLE_OIDC_CLIENT_SECRET, or the SpinApp's variables) " +
			"and register " + s.redirectURIHint() + " as the client's redirect URI. Meanwhile sign in with the admin token: " +
			"POST /auth/session with {\"token\": \"<admin_token>\"}")
	}
	if u, err := url.Parse(s.Config.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return unavailable("OIDC sign-in needs the public_url variable: the http(s) URL browsers reach spinport at, e.g. https://spinport.example.com")
	}
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return unavailable("the oidc_issuer variable must be the issuer's http(s) URL, e.g. https://login.example.com/realm")
	}
	if s.Config.AdminToken == "" { // Spin refuses to start without it; this guards embedders
		return unavailable("OIDC sign-in needs the admin_token variable: the sign-in cookie is sealed with a key derived from it")
	}
	return nil
}

func (s *Server) redirectURI() string {
	return strings.TrimRight(s.Config.PublicURL, "/") + callbackPath
}

func (s *Server) redirectURIHint() string {
	if s.Config.PublicURL == "" {
		return "<public_url>" + callbackPath
	}
	return s.redirectURI()
}
