package api

// Portal sign-in with OpenID Connect: the authorization code flow with PKCE
// (S256). In Spin every request is a fresh instance, so the sign-in in
// flight travels between /auth/login and /auth/callback in the browser's
// login cookie, sealed (seal.go: AES-GCM and HMAC-SHA256, keys derived from
// admin_token) so it can be neither read nor altered. It is never in the KV
// store: the store has no expiry and no key listing, so every abandoned
// sign-in would stay there forever, and anyone could fill it without
// signing in. The discovery document and JWKS are fetched (through s.HTTP,
// Spin outbound HTTP in the .wasm) when needed rather than cached.
//
// Secrets never leave this file's variables (and the sealed cookie): the
// authorization code, the tokens, the PKCE verifier and the client secret
// are not logged and not echoed in responses.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spinport/spinport"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/jsonw"
	"github.com/tidwall/gjson"
)

const (
	loginStateTTL  = 10 * time.Minute
	oidcClockSkew  = 60 * time.Second
	loginCookie    = "spinport_login" // the sign-in in flight, sealed, in the browser that started it
	loginSealLabel = "spinport oidc login state v1"
	maxLoginCookie = 3800    // characters of the sealed value; browsers keep cookies up to 4096 bytes with the name
	maxIdPResponse = 1 << 20 // bytes read from any identity provider response
	oidcScope      = "openid profile email"
	callbackPath   = "/auth/callback"
	restartHint    = "start again at /auth/login"
)

// oidcLogin starts an OpenID Connect sign-in (authorization code + PKCE):
// GET /auth/login[?return=/path].
func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if err := s.oidcReady(); err != nil {
		writeError(w, err, s.Log)
		return
	}
	d, err := s.discover()
	if err != nil {
		writeError(w, err, s.Log)
		return
	}
	var state, nonce string
	verifierBytes := make([]byte, 32)
	if state, err = s.randomHex(32); err == nil {
		if nonce, err = s.randomHex(16); err == nil {
			_, err = io.ReadFull(s.Rand, verifierBytes)
		}
	}
	if err != nil {
		writeError(w, err, s.Log)
		return
	}
	verifier := base64.RawURLEncoding.EncodeToString(verifierBytes) // 43 characters (RFC 7636 §4.1)
	challenge := sha256.Sum256([]byte(verifier))

	ls := loginState{
		State: state, Verifier: verifier, Nonce: nonce, Return: safeReturnPath(r.URL.Query().Get("return")),
		ExpiresAt: s.Now().Add(loginStateTTL).Unix(), Issuer: s.Config.OIDC.Issuer, ClientID: s.Config.OIDC.ClientID,
		TokenEndpoint: d.TokenEndpoint, JWKSURI: d.JWKSURI, BasicAuth: d.BasicAuth,
	}
	sealed, err := s.sealLoginState(ls)
	if err != nil {
		writeError(w, err, s.Log)
		return
	}

	authURL, _ := url.Parse(d.AuthorizationEndpoint) // checked by discover
	q := authURL.Query()
	q.Set("response_type", "code")
	q.Set("client_id", s.Config.OIDC.ClientID)
	q.Set("redirect_uri", s.redirectURI())
	q.Set("scope", oidcScope)
	q.Set("state", state)
	q.Set("nonce", nonce)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(challenge[:]))
	q.Set("code_challenge_method", "S256")
	authURL.RawQuery = q.Encode()

	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: sealed, Path: "/auth/", MaxAge: int(loginStateTTL / time.Second),
		HttpOnly: true, Secure: !plainLoopback(r), SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", authURL.String())
	w.WriteHeader(http.StatusFound)
}

// oidcCallback completes the sign-in: GET /auth/callback?code&state.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	userID, ret, err := s.completeSignIn(w, r)
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
		var p *Problem
		if errors.As(err, &p) && p.Status < 500 {
			s.logf("oidc sign-in refused: " + p.Detail)
		}
		writeError(w, err, s.Log)
		return
	}
	if _, err := s.startSession(w, r, userID); err != nil {
		writeError(w, err, s.Log)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", ret)
	w.WriteHeader(http.StatusFound)
}

// completeSignIn checks the callback, redeems the code, verifies the ID
// token and returns the signed-in user and where to send the browser.
func (s *Server) completeSignIn(w http.ResponseWriter, r *http.Request) (userID, ret string, err error) {
	if err := s.oidcReady(); err != nil {
		return "", "", err
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		return "", "", badRequest("state", "the sign-in callback has no state parameter; "+restartHint)
	}
	ls, err := s.openLoginState(r, state)
	if err != nil {
		return "", "", err
	}
	if e := q.Get("error"); e != "" {
		return "", "", idpError(e, q.Get("error_description"))
	}
	if ls.Issuer != s.Config.OIDC.Issuer || ls.ClientID != s.Config.OIDC.ClientID {
		return "", "", badRequest("state", "the OIDC configuration changed during this sign-in; "+restartHint)
	}
	if iss := q.Get("iss"); iss != "" && iss != ls.Issuer { // RFC 9207 mix-up defence
		return "", "", badRequest("iss", "the sign-in response came from another issuer than oidc_issuer; "+restartHint)
	}
	code := q.Get("code")
	if code == "" {
		return "", "", badRequest("code", "the sign-in callback has no authorization code; "+restartHint)
	}

	idToken, err := s.redeemCode(ls, code)
	if err != nil {
		return "", "", err
	}
	keys, err := s.fetchJWKS(ls.JWKSURI)
	if err != nil {
		return "", "", err
	}
	claims, err := verifyIDToken(idToken, keys, idTokenCheck{Issuer: ls.Issuer, ClientID: ls.ClientID, Nonce: ls.Nonce,
		Now: s.Now(), Skew: oidcClockSkew})
	if err != nil {
		return "", "", &Problem{Status: http.StatusUnauthorized, Title: "Sign-in failed",
			Detail: "the identity provider's ID token was refused: " + err.Error() + "; " + restartHint}
	}

	u := spinport.User{Issuer: ls.Issuer, Subject: claims.Subject, CreatedAt: s.now()}
	if claims.EmailVerified != "false" { // absent counts as verified: many providers never send it
		u.Email = claims.Email
	}
	u.DisplayName = firstNonEmpty(claims.Name, claims.PreferredUsername, u.Email, claims.Subject)
	newID, err := s.randomHex(8)
	if err != nil {
		return "", "", err
	}
	user, err := s.DB.EnsureUser(u, func() string { return newID })
	if err != nil {
		return "", "", err
	}
	return user.ID, ls.Return, nil
}

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

// ---- the sign-in in flight

// loginState is the sign-in in flight, sealed into the login cookie.
type loginState struct {
	State         string // the state parameter, 64 hex
	Verifier      string // PKCE code_verifier (secret)
	Nonce         string
	Return        string // same-site path to go to after sign-in
	ExpiresAt     int64
	Issuer        string // configuration the sign-in started with
	ClientID      string
	TokenEndpoint string // from discovery, so the callback needs one fetch less
	JWKSURI       string
	BasicAuth     bool // client_secret_basic instead of client_secret_post
}

func (ls loginState) marshal() []byte {
	var w jsonw.W
	w.Object().Str("state", ls.State).Str("verifier", ls.Verifier).Str("nonce", ls.Nonce).Str("return", ls.Return).
		Num("expiresAt", ls.ExpiresAt).Str("issuer", ls.Issuer).Str("clientId", ls.ClientID).
		Str("tokenEndpoint", ls.TokenEndpoint).Str("jwksUri", ls.JWKSURI).Flag("basicAuth", ls.BasicAuth).End()
	return w.Bytes()
}

func parseLoginState(b []byte) (loginState, bool) {
	if !validJSON(b) || !gjson.ParseBytes(b).IsObject() {
		return loginState{}, false
	}
	r := gjson.ParseBytes(b)
	ls := loginState{State: r.Get("state").String(), Verifier: r.Get("verifier").String(), Nonce: r.Get("nonce").String(),
		Return: safeReturnPath(r.Get("return").String()), ExpiresAt: r.Get("expiresAt").Int(), Issuer: r.Get("issuer").String(),
		ClientID: r.Get("clientId").String(), TokenEndpoint: r.Get("tokenEndpoint").String(), JWKSURI: r.Get("jwksUri").String(),
		BasicAuth: r.Get("basicAuth").Bool()}
	ok := len(ls.State) == 64 && spinport.IsHex(ls.State) && ls.Verifier != "" && ls.Nonce != "" && ls.ExpiresAt > 0 &&
		ls.Issuer != "" && ls.ClientID != "" && ls.TokenEndpoint != "" && ls.JWKSURI != ""
	return ls, ok
}

// loginKeys seal the login cookie. They are derived from admin_token, the
// one secret every installation has: rotating it only ends the sign-ins in
// flight.
func (s *Server) loginKeys() sealKeys { return deriveSealKeys(s.Config.AdminToken, loginSealLabel) }

// sealLoginState returns the login cookie's value. A return path too long
// to fit in a cookie is dropped (the browser then lands on "/").
func (s *Server) sealLoginState(ls loginState) (string, error) {
	k := s.loginKeys()
	v, err := k.seal(s.Rand, loginCookie, ls.marshal())
	if err == nil && len(v) > maxLoginCookie && ls.Return != "/" {
		ls.Return = "/"
		v, err = k.seal(s.Rand, loginCookie, ls.marshal())
	}
	if err != nil {
		return "", err
	}
	if len(v) > maxLoginCookie {
		return "", badGateway("the identity provider's endpoint URLs are too long to keep the sign-in in a cookie")
	}
	return v, nil
}

// openLoginState returns the sign-in in flight from the login cookie, if
// the cookie opens with this installation's key, has not expired and was
// made for this state parameter.
func (s *Server) openLoginState(r *http.Request, state string) (loginState, error) {
	refused := badRequest("state", "this sign-in was started in another browser, or its cookie was lost or has expired "+
		"(cookies must be enabled, and sign-ins must finish within 10 minutes); "+restartHint)
	k := s.loginKeys()
	for _, c := range r.Cookies() { // a browser may send more than one (other paths)
		if c.Name != loginCookie {
			continue
		}
		b, ok := k.open(loginCookie, c.Value)
		if !ok {
			refused = badRequest("state", "this browser's sign-in cookie is not valid: it was altered, or spinport's admin_token "+
				"changed since the sign-in started; "+restartHint)
			continue
		}
		ls, ok := parseLoginState(b)
		switch {
		case !ok:
			refused = badRequest("state", "this browser's sign-in cookie is not valid; "+restartHint)
		case subtle.ConstantTimeCompare([]byte(state), []byte(ls.State)) != 1:
			refused = badRequest("state", "this sign-in response does not belong to the sign-in this browser started last "+
				"(it was started in another browser or tab, or is stale); "+restartHint)
		case s.now() >= ls.ExpiresAt:
			refused = badRequest("state", "this sign-in has expired (sign-ins must finish within 10 minutes); "+restartHint)
		default:
			return ls, nil
		}
	}
	return loginState{}, refused
}

// safeReturnPath keeps only a path on this site ("/x?y"); anything else,
// including protocol-relative "//host" and backslash tricks, becomes "/".
func safeReturnPath(p string) string {
	if p == "" || len(p) > 2048 || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') {
		return "/"
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return p
}

// ---- talking to the identity provider

// discovery is what spinport uses of the provider's metadata.
type discovery struct {
	AuthorizationEndpoint string
	TokenEndpoint         string
	JWKSURI               string
	BasicAuth             bool
}

func (s *Server) discover() (discovery, error) {
	issuer := s.Config.OIDC.Issuer
	where := strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
	b, status, err := s.idpGet(where, "the identity provider's discovery document")
	if err != nil {
		return discovery{}, err
	}
	if status != http.StatusOK {
		return discovery{}, badGateway("the identity provider's discovery document " + where + " answered HTTP " + strconv.Itoa(status) + ": check oidc_issuer")
	}
	if !validJSON(b) || !gjson.ParseBytes(b).IsObject() {
		return discovery{}, badGateway("the identity provider's discovery document " + where + " is not a JSON object: check oidc_issuer")
	}
	doc := gjson.ParseBytes(b)
	if got := doc.Get("issuer"); got.Type != gjson.String || got.Str != issuer {
		return discovery{}, badGateway("the discovery document's issuer is " + short(doc.Get("issuer").String()) +
			", not oidc_issuer " + strconv.Quote(issuer) + " (they must match exactly, including any trailing slash)")
	}
	d := discovery{}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"authorization_endpoint", &d.AuthorizationEndpoint}, {"token_endpoint", &d.TokenEndpoint}, {"jwks_uri", &d.JWKSURI}} {
		v := doc.Get(f.name)
		if v.Type != gjson.String || !endpointOK(v.Str, issuer) {
			return discovery{}, badGateway("the identity provider's discovery document has no usable " + f.name +
				" (an https URL, or http when the issuer is http)")
		}
		*f.dst = v.Str
	}
	// Client authentication: client_secret_post unless the provider lists
	// client_secret_basic without it. Omitted means client_secret_basic
	// (OpenID Connect Discovery 1.0 §3), the method every provider supports.
	methods := doc.Get("token_endpoint_auth_methods_supported")
	if s.Config.OIDC.ClientSecret != "" {
		d.BasicAuth = !methods.IsArray() || (containsString(methods, "client_secret_basic") && !containsString(methods, "client_secret_post"))
	}
	return d, nil
}

// endpointOK: an absolute URL, https, or http when the issuer itself is
// plain http (a provider on a developer's machine or in a test).
func endpointOK(raw, issuer string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && strings.HasPrefix(issuer, "http://"))
}

func (s *Server) fetchJWKS(where string) (jwks, error) {
	b, status, err := s.idpGet(where, "the identity provider's signing keys (jwks_uri)")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, badGateway("the identity provider's signing keys (jwks_uri " + where + ") answered HTTP " + strconv.Itoa(status))
	}
	keys, err := parseJWKS(b)
	if err != nil {
		return nil, badGateway("the identity provider's signing keys (jwks_uri " + where + ") are unusable: " + err.Error())
	}
	return keys, nil
}

// redeemCode exchanges the authorization code at the token endpoint and
// returns the ID token.
func (s *Server) redeemCode(ls loginState, code string) (string, error) {
	form := url.Values{}
	form.Set("grant_type", "authorization_code")
	form.Set("code", code)
	form.Set("redirect_uri", s.redirectURI())
	form.Set("code_verifier", ls.Verifier)
	form.Set("client_id", ls.ClientID)
	secret := s.Config.OIDC.ClientSecret
	if secret != "" && !ls.BasicAuth {
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequest(http.MethodPost, ls.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", badGateway("the identity provider's token endpoint is not a usable URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if secret != "" && ls.BasicAuth {
		// RFC 6749 §2.3.1: both parts form-encoded before base64.
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(ls.ClientID)+":"+url.QueryEscape(secret))))
	}
	b, status, err := s.idpDo(req, "the identity provider's token endpoint")
	if err != nil {
		return "", err
	}
	valid := validJSON(b)
	doc := gjson.ParseBytes(b)
	if status != http.StatusOK {
		e, desc := "", ""
		if valid {
			e, desc = doc.Get("error").String(), doc.Get("error_description").String()
		}
		switch {
		case e == "invalid_client" || status == http.StatusUnauthorized:
			return "", badGateway("the identity provider refused spinport's client credentials" + errSuffix(e, desc) +
				": check oidc_client_id and oidc_client_secret")
		case status >= 500 || e == "":
			return "", badGateway("the identity provider's token endpoint answered HTTP " + strconv.Itoa(status) + errSuffix(e, desc))
		default:
			return "", &Problem{Status: http.StatusBadRequest, Title: "Sign-in failed",
				Detail: "the identity provider refused the authorization code" + errSuffix(e, desc) + "; " + restartHint}
		}
	}
	if !valid {
		return "", badGateway("the identity provider's token response is not JSON")
	}
	tok := doc.Get("id_token")
	if tok.Type != gjson.String || tok.Str == "" {
		return "", badGateway("the identity provider's token response has no id_token: the client must be allowed the openid scope")
	}
	return tok.Str, nil
}

func (s *Server) idpGet(where, what string) ([]byte, int, error) {
	req, err := http.NewRequest(http.MethodGet, where, nil)
	if err != nil {
		return nil, 0, badGateway(what + " is not a usable URL: " + short(where))
	}
	req.Header.Set("Accept", "application/json")
	return s.idpDo(req, what)
}

// idpDo sends a request to the identity provider and reads a bounded body.
// Errors say which request failed, never what it carried.
func (s *Server) idpDo(req *http.Request, what string) ([]byte, int, error) {
	if s.HTTP == nil {
		return nil, 0, unavailable("spinport has no outbound HTTP client to reach the identity provider")
	}
	res, err := s.HTTP.Do(req)
	if err != nil {
		u := *req.URL
		u.RawQuery = ""
		return nil, 0, unavailable("could not reach " + what + " at " + u.String() +
			" (in Spin the issuer's origin must be in allowed_outbound_hosts, e.g. via the outbound_allow variable)")
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxIdPResponse+1))
	if err != nil {
		return nil, 0, unavailable("reading the response of " + what + " failed")
	}
	if len(b) > maxIdPResponse {
		return nil, 0, badGateway("the response of " + what + " is larger than " + strconv.Itoa(maxIdPResponse>>10) + " KiB")
	}
	return b, res.StatusCode, nil
}

// idpError turns the error parameter of an authorization response into a
// problem (RFC 6749 §4.1.2.1).
func idpError(e, desc string) *Problem {
	status, title := http.StatusBadRequest, "Sign-in failed"
	if e == "access_denied" {
		status, title = http.StatusForbidden, "Sign-in refused"
	}
	return &Problem{Status: status, Title: title, Detail: "the identity provider did not sign you in" + errSuffix(e, desc) + "; " + restartHint}
}

// errSuffix renders an OAuth error code and description from the provider,
// cleaned of anything but printable ASCII and cut short.
func errSuffix(e, desc string) string {
	e, desc = printable(e, 64), printable(desc, 300)
	switch {
	case e == "":
		return ""
	case desc == "":
		return " (" + e + ")"
	}
	return " (" + e + ": " + desc + ")"
}

func printable(s string, max int) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < max; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b = append(b, c)
		}
	}
	return string(b)
}

func badGateway(detail string) *Problem {
	return &Problem{Status: http.StatusBadGateway, Title: "Identity provider error", Detail: detail}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
