// Package oidc is spinport's OpenID Connect client for portal sign-in: the
// authorization code flow with PKCE (S256). Start fetches the provider's
// discovery document and makes the authorization request; the sign-in in
// flight travels to the callback sealed in the browser's login cookie
// (login.go, seal.go); Finish checks the authorization response against
// it, redeems the code at the token endpoint and verifies the ID token
// against the provider's JWKS (jwt.go). The discovery document and JWKS are
// fetched (through Client.HTTP, Spin outbound HTTP in the .wasm) when
// needed rather than cached: in Spin every request is a fresh instance.
//
// The package knows no HTTP routing: the caller reads the request, sets
// the cookie and redirects. Errors a user can act on are *spinport.Error,
// mapped to responses by the caller; anything else is an internal error.
//
// Secrets never leave this package's variables (and the sealed cookie):
// the authorization code, the tokens, the PKCE verifier and the client
// secret are in no error.
//
// Written for TinyGo as much as for Go: no encoding/json, no reflection,
// and every input is checked before it reaches a function that could
// panic — under TinyGo a panic traps the whole Spin instance.
package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spinport/spinport"
	"github.com/valyala/fastjson"
)

const (
	clockSkew      = 60 * time.Second // allowed clock difference with the identity provider
	maxIdPResponse = 1 << 20          // bytes read from any identity provider response
	scope          = "openid profile email"
	restartHint    = "start again at /auth/login"
)

// Doer sends outbound HTTP requests (Spin outbound HTTP in the .wasm).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client is one installation's OpenID Connect client. It holds no state
// between calls: a Client may be made for every request.
type Client struct {
	Issuer       string // oidc_issuer: the discovery document and ID tokens must name it exactly
	ClientID     string
	ClientSecret string // secret; "" for a public client
	RedirectURI  string // the callback URL registered with the provider
	CookieSecret string // secret the login cookie's keys are derived from (admin_token)
	HTTP         Doer   // reaches the provider; nil: sign-in is unavailable
	Now          func() time.Time
	Rand         io.Reader // crypto/rand.Reader in production
}

// Start begins a sign-in: it fetches the provider's discovery document,
// makes the state, the nonce and the PKCE verifier, and returns the
// provider's authorization URL to send the browser to and the sealed
// sign-in to keep in the LoginCookie until the callback. returnPath is
// where the browser goes after signing in; anything but a path on this
// site becomes "/".
func (c *Client) Start(returnPath string) (authURL, cookie string, err error) {
	d, err := c.Discover()
	if err != nil {
		return "", "", err
	}
	var state, nonce string
	verifierBytes := make([]byte, 32)
	if state, err = c.randomHex(32); err == nil {
		if nonce, err = c.randomHex(16); err == nil {
			_, err = io.ReadFull(c.Rand, verifierBytes)
		}
	}
	if err != nil {
		return "", "", err
	}
	verifier := base64.RawURLEncoding.EncodeToString(verifierBytes) // 43 characters (RFC 7636 §4.1)
	challenge := sha256.Sum256([]byte(verifier))

	ls := LoginState{
		State: state, Verifier: verifier, Nonce: nonce, Return: safeReturnPath(returnPath),
		ExpiresAt: c.Now().Add(LoginTTL).Unix(), Issuer: c.Issuer, ClientID: c.ClientID,
		TokenEndpoint: d.TokenEndpoint, JWKSURI: d.JWKSURI, BasicAuth: d.BasicAuth,
	}
	sealed, err := c.SealLoginState(ls)
	if err != nil {
		return "", "", err
	}

	u, _ := url.Parse(d.AuthorizationEndpoint) // checked by Discover
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", c.ClientID)
	q.Set("redirect_uri", c.RedirectURI)
	q.Set("scope", scope)
	q.Set("state", state)
	q.Set("nonce", nonce)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(challenge[:]))
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String(), sealed, nil
}

// Callback is the authorization response as the browser brought it back
// (RFC 6749 §4.1.2), and the login cookies it sent along.
type Callback struct {
	State            string
	Code             string
	Error            string // the error parameter (RFC 6749 §4.1.2.1), "" on success
	ErrorDescription string
	Issuer           string   // the iss parameter (RFC 9207), "" when absent
	Cookies          []string // values of every LoginCookie the browser sent, in order
}

// SignIn is a completed sign-in.
type SignIn struct {
	User   spinport.User // Issuer, Subject, DisplayName and Email; no ID or CreatedAt yet
	Return string        // same-site path to send the browser to
}

// Finish completes a sign-in: it checks the callback against the sign-in
// in flight, redeems the code, verifies the ID token and returns who signed
// in and where to send the browser.
func (c *Client) Finish(cb Callback) (SignIn, error) {
	if cb.State == "" {
		return SignIn{}, invalid("state", "the sign-in callback has no state parameter; "+restartHint)
	}
	ls, err := c.OpenLoginState(cb.Cookies, cb.State)
	if err != nil {
		return SignIn{}, err
	}
	if cb.Error != "" {
		return SignIn{}, authorizationError(cb.Error, cb.ErrorDescription)
	}
	if ls.Issuer != c.Issuer || ls.ClientID != c.ClientID {
		return SignIn{}, invalid("state", "the OIDC configuration changed during this sign-in; "+restartHint)
	}
	if cb.Issuer != "" && cb.Issuer != ls.Issuer { // RFC 9207 mix-up defence
		return SignIn{}, invalid("iss", "the sign-in response came from another issuer than oidc_issuer; "+restartHint)
	}
	if cb.Code == "" {
		return SignIn{}, invalid("code", "the sign-in callback has no authorization code; "+restartHint)
	}

	idToken, err := c.redeemCode(ls, cb.Code)
	if err != nil {
		return SignIn{}, err
	}
	keys, err := c.fetchJWKS(ls.JWKSURI)
	if err != nil {
		return SignIn{}, err
	}
	claims, err := verifyIDToken(idToken, keys, idTokenCheck{Issuer: ls.Issuer, ClientID: ls.ClientID, Nonce: ls.Nonce,
		Now: c.Now(), Skew: clockSkew})
	if err != nil {
		return SignIn{}, &spinport.Error{Kind: spinport.Unauthorized, Title: "Sign-in failed",
			Detail: "the identity provider's ID token was refused: " + err.Error() + "; " + restartHint}
	}

	u := spinport.User{Issuer: ls.Issuer, Subject: claims.Subject}
	if claims.EmailVerified != "false" { // absent counts as verified: many providers never send it
		u.Email = claims.Email
	}
	u.DisplayName = firstNonEmpty(claims.Name, claims.PreferredUsername, u.Email, claims.Subject)
	return SignIn{User: u, Return: ls.Return}, nil
}

// ---- talking to the identity provider

// Provider is what spinport uses of the provider's metadata (OpenID
// Connect Discovery 1.0).
type Provider struct {
	AuthorizationEndpoint string
	TokenEndpoint         string
	JWKSURI               string
	BasicAuth             bool // client_secret_basic instead of client_secret_post
}

// Discover fetches and checks the issuer's discovery document
// (/.well-known/openid-configuration).
func (c *Client) Discover() (Provider, error) {
	issuer := c.Issuer
	where := strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
	b, status, err := c.idpGet(where, "the identity provider's discovery document")
	if err != nil {
		return Provider{}, err
	}
	if status != http.StatusOK {
		return Provider{}, failed("the identity provider's discovery document " + where + " answered HTTP " + strconv.Itoa(status) + ": check oidc_issuer")
	}
	var p fastjson.Parser
	doc := parseObject(&p, b)
	if doc == nil {
		return Provider{}, failed("the identity provider's discovery document " + where + " is not a JSON object: check oidc_issuer")
	}
	if got := member(doc, "issuer"); !strIs(got, issuer) {
		return Provider{}, failed("the discovery document's issuer is " + short(text(got)) +
			", not oidc_issuer " + strconv.Quote(issuer) + " (they must match exactly, including any trailing slash)")
	}
	d := Provider{}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"authorization_endpoint", &d.AuthorizationEndpoint}, {"token_endpoint", &d.TokenEndpoint}, {"jwks_uri", &d.JWKSURI}} {
		v, ok := str(member(doc, f.name))
		if !ok || !endpointOK(v, issuer) {
			return Provider{}, failed("the identity provider's discovery document has no usable " + f.name +
				" (an https URL, or http when the issuer is http)")
		}
		*f.dst = v
	}
	// Client authentication: client_secret_post unless the provider lists
	// client_secret_basic without it. Omitted means client_secret_basic
	// (OpenID Connect Discovery 1.0 §3), the method every provider supports.
	methods := member(doc, "token_endpoint_auth_methods_supported")
	if c.ClientSecret != "" {
		d.BasicAuth = !isType(methods, fastjson.TypeArray) || (containsString(methods, "client_secret_basic") && !containsString(methods, "client_secret_post"))
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

func (c *Client) fetchJWKS(where string) (jwks, error) {
	b, status, err := c.idpGet(where, "the identity provider's signing keys (jwks_uri)")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, failed("the identity provider's signing keys (jwks_uri " + where + ") answered HTTP " + strconv.Itoa(status))
	}
	keys, err := parseJWKS(b)
	if err != nil {
		return nil, failed("the identity provider's signing keys (jwks_uri " + where + ") are unusable: " + err.Error())
	}
	return keys, nil
}

// redeemCode exchanges the authorization code at the token endpoint and
// returns the ID token.
func (c *Client) redeemCode(ls LoginState, code string) (string, error) {
	form := url.Values{}
	form.Set("grant_type", "authorization_code")
	form.Set("code", code)
	form.Set("redirect_uri", c.RedirectURI)
	form.Set("code_verifier", ls.Verifier)
	form.Set("client_id", ls.ClientID)
	secret := c.ClientSecret
	if secret != "" && !ls.BasicAuth {
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequest(http.MethodPost, ls.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", failed("the identity provider's token endpoint is not a usable URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if secret != "" && ls.BasicAuth {
		// RFC 6749 §2.3.1: both parts form-encoded before base64.
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(ls.ClientID)+":"+url.QueryEscape(secret))))
	}
	b, status, err := c.idpDo(req, "the identity provider's token endpoint")
	if err != nil {
		return "", err
	}
	var p fastjson.Parser
	doc := parseJSON(&p, b) // nil: not JSON
	if status != http.StatusOK {
		e, desc := text(member(doc, "error")), text(member(doc, "error_description"))
		switch {
		case e == "invalid_client" || status == http.StatusUnauthorized:
			return "", failed("the identity provider refused spinport's client credentials" + errSuffix(e, desc) +
				": check oidc_client_id and oidc_client_secret")
		case status >= 500 || e == "":
			return "", failed("the identity provider's token endpoint answered HTTP " + strconv.Itoa(status) + errSuffix(e, desc))
		default:
			return "", &spinport.Error{Kind: spinport.Invalid, Title: "Sign-in failed",
				Detail: "the identity provider refused the authorization code" + errSuffix(e, desc) + "; " + restartHint}
		}
	}
	if doc == nil {
		return "", failed("the identity provider's token response is not JSON")
	}
	tok, ok := str(member(doc, "id_token"))
	if !ok || tok == "" {
		return "", failed("the identity provider's token response has no id_token: the client must be allowed the openid scope")
	}
	return tok, nil
}

func (c *Client) idpGet(where, what string) ([]byte, int, error) {
	req, err := http.NewRequest(http.MethodGet, where, nil)
	if err != nil {
		return nil, 0, failed(what + " is not a usable URL: " + short(where))
	}
	req.Header.Set("Accept", "application/json")
	return c.idpDo(req, what)
}

// idpDo sends a request to the identity provider and reads a bounded body.
// Errors say which request failed, never what it carried.
func (c *Client) idpDo(req *http.Request, what string) ([]byte, int, error) {
	if c.HTTP == nil {
		return nil, 0, unavailable("spinport has no outbound HTTP client to reach the identity provider")
	}
	res, err := c.HTTP.Do(req)
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
		return nil, 0, failed("the response of " + what + " is larger than " + strconv.Itoa(maxIdPResponse>>10) + " KiB")
	}
	return b, res.StatusCode, nil
}

// ---- errors

// authorizationError turns the error parameter of an authorization
// response into an error for the user (RFC 6749 §4.1.2.1).
func authorizationError(e, desc string) *spinport.Error {
	kind, title := spinport.Invalid, "Sign-in failed"
	if e == "access_denied" {
		kind, title = spinport.Forbidden, "Sign-in refused"
	}
	return &spinport.Error{Kind: kind, Title: title, Detail: "the identity provider did not sign you in" + errSuffix(e, desc) + "; " + restartHint}
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

// invalid is a sign-in the browser brought back wrong (400).
func invalid(field, detail string) *spinport.Error {
	return &spinport.Error{Kind: spinport.Invalid, Field: field, Detail: detail}
}

// failed is an identity provider that answered unusably (502).
func failed(detail string) *spinport.Error {
	return &spinport.Error{Kind: spinport.Failed, Title: "Identity provider error", Detail: detail}
}

// unavailable is an identity provider that could not be reached (503).
func unavailable(detail string) *spinport.Error {
	return &spinport.Error{Kind: spinport.Unavailable, Detail: detail}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
