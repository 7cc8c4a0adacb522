package oidc

// The sign-in in flight. In Spin every request is a fresh instance, so what
// /auth/login decided (state, nonce, PKCE verifier, where to return) travels
// to /auth/callback in the browser's login cookie, sealed (seal.go:
// AES-GCM and HMAC-SHA256, keys derived from Client.CookieSecret) so it can
// be neither read nor altered. It is never in the KV store: the store has no
// expiry and no key listing, so every abandoned sign-in would stay there
// forever, and anyone could fill it without signing in.

import (
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

const (
	// LoginCookie is the name of the cookie that keeps the sign-in in
	// flight in the browser that started it. The sealed value is bound to
	// this name: it opens under no other.
	LoginCookie = "spinport_login"
	// LoginTTL is how long a sign-in may take, from Start to Finish; it is
	// also the login cookie's lifetime.
	LoginTTL = 10 * time.Minute
	// MaxLoginCookie is the longest sealed login state, in characters:
	// browsers keep cookies up to 4096 bytes with the name.
	MaxLoginCookie = 3800

	loginSealLabel = "spinport oidc login state v1"
)

// LoginState is the sign-in in flight, sealed into the login cookie.
type LoginState struct {
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

func (ls LoginState) marshal() []byte {
	var w jsonw.W
	w.Object().Str("state", ls.State).Str("verifier", ls.Verifier).Str("nonce", ls.Nonce).Str("return", ls.Return).
		Num("expiresAt", ls.ExpiresAt).Str("issuer", ls.Issuer).Str("clientId", ls.ClientID).
		Str("tokenEndpoint", ls.TokenEndpoint).Str("jwksUri", ls.JWKSURI).Flag("basicAuth", ls.BasicAuth).End()
	return w.Bytes()
}

func parseLoginState(b []byte) (LoginState, bool) {
	var p fastjson.Parser
	r := parseObject(&p, b)
	if r == nil {
		return LoginState{}, false
	}
	field := func(name string) string { return text(member(r, name)) }
	ls := LoginState{State: field("state"), Verifier: field("verifier"), Nonce: field("nonce"),
		Return: safeReturnPath(field("return")), ExpiresAt: intOf(member(r, "expiresAt")), Issuer: field("issuer"),
		ClientID: field("clientId"), TokenEndpoint: field("tokenEndpoint"), JWKSURI: field("jwksUri"),
		BasicAuth: boolOf(member(r, "basicAuth"))}
	ok := len(ls.State) == 64 && spinport.IsHex(ls.State) && ls.Verifier != "" && ls.Nonce != "" && ls.ExpiresAt > 0 &&
		ls.Issuer != "" && ls.ClientID != "" && ls.TokenEndpoint != "" && ls.JWKSURI != ""
	return ls, ok
}

// intOf reads v as gjson's Int() did when it read login states (marshal
// writes an integer): integer literals exactly, other numbers truncated
// while exact in a float64, numeric strings parsed, true is 1, the rest 0.
func intOf(v *fastjson.Value) int64 {
	switch {
	case isType(v, fastjson.TypeNumber):
		if n, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
			return n
		}
		if f, _ := num(v); f >= -(1<<53-1) && f <= 1<<53-1 {
			return int64(f)
		}
	case isType(v, fastjson.TypeString):
		s, _ := str(v)
		if isIntLiteral(s) {
			n, _ := strconv.ParseInt(s, 10, 64)
			return n
		}
	case isType(v, fastjson.TypeTrue):
		return 1
	}
	return 0
}

// boolOf reads v as gjson's Bool() did (marshal writes true or false).
func boolOf(v *fastjson.Value) bool {
	switch {
	case isType(v, fastjson.TypeTrue):
		return true
	case isType(v, fastjson.TypeString):
		s, _ := str(v)
		b, _ := strconv.ParseBool(strings.ToLower(s))
		return b
	case isType(v, fastjson.TypeNumber):
		f, _ := num(v)
		return f != 0
	}
	return false
}

// loginKeys seal the login cookie. They are derived from CookieSecret
// (spinport's admin_token, the one secret every installation has):
// rotating it only ends the sign-ins in flight.
func (c *Client) loginKeys() sealKeys { return deriveSealKeys(c.CookieSecret, loginSealLabel) }

// SealLoginState returns the login cookie's value for ls. A return path too
// long to fit in a cookie is dropped (the browser then lands on "/").
func (c *Client) SealLoginState(ls LoginState) (string, error) {
	k := c.loginKeys()
	v, err := k.seal(c.Rand, LoginCookie, ls.marshal())
	if err == nil && len(v) > MaxLoginCookie && ls.Return != "/" {
		ls.Return = "/"
		v, err = k.seal(c.Rand, LoginCookie, ls.marshal())
	}
	if err != nil {
		return "", err
	}
	if len(v) > MaxLoginCookie {
		return "", failed("the identity provider's endpoint URLs are too long to keep the sign-in in a cookie")
	}
	return v, nil
}

// OpenLoginState returns the sign-in in flight from the values of the login
// cookies a browser sent (it may send more than one, set on other paths),
// if one opens with this installation's key, has not expired and was made
// for this state parameter.
func (c *Client) OpenLoginState(cookies []string, state string) (LoginState, error) {
	refused := invalid("state", "this sign-in was started in another browser, or its cookie was lost or has expired "+
		"(cookies must be enabled, and sign-ins must finish within 10 minutes); "+restartHint)
	k := c.loginKeys()
	for _, v := range cookies {
		b, ok := k.open(LoginCookie, v)
		if !ok {
			refused = invalid("state", "this browser's sign-in cookie is not valid: it was altered, or spinport's admin_token "+
				"changed since the sign-in started; "+restartHint)
			continue
		}
		ls, ok := parseLoginState(b)
		switch {
		case !ok:
			refused = invalid("state", "this browser's sign-in cookie is not valid; "+restartHint)
		case subtle.ConstantTimeCompare([]byte(state), []byte(ls.State)) != 1:
			refused = invalid("state", "this sign-in response does not belong to the sign-in this browser started last "+
				"(it was started in another browser or tab, or is stale); "+restartHint)
		case c.Now().Unix() >= ls.ExpiresAt:
			refused = invalid("state", "this sign-in has expired (sign-ins must finish within 10 minutes); "+restartHint)
		default:
			return ls, nil
		}
	}
	return LoginState{}, refused
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

// randomHex returns n random bytes from c.Rand as hex.
func (c *Client) randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(c.Rand, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
