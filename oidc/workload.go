package oidc

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// Workload tokens: OIDC ID tokens a CI job gets from its platform (GitHub
// Actions: issuer https://token.actions.githubusercontent.com; GitLab CI:
// the instance URL, id_tokens), exchanged once for a short-lived spinport
// credential. Signature checks are the ID tokens' (RS256, ES256 against
// the issuer's JWKS); the claims checked here are iss, aud, exp, nbf and
// iat, and the caller matches the platform's claims against its policies.

// WorkloadVerifier verifies tokens of one issuer for one audience.
type WorkloadVerifier struct {
	Issuer   string // exact iss
	Audience string // must be in aud (the installation's ci_audience)
	HTTP     Doer
	Now      func() time.Time
	Skew     time.Duration
	// Keys caches the issuer's JWKS (raw JSON) between requests, which are
	// fresh instances: Load returns the document and when it was fetched.
	// A token whose kid is not in the cached keys refetches them once
	// (the issuer rotated).
	LoadKeys  func(issuer string) (jwks []byte, fetched time.Time, ok bool)
	StoreKeys func(issuer string, jwks []byte)
	KeysTTL   time.Duration // 0: one hour
}

// Claims are a verified token's claims.
type Claims struct {
	v *fastjson.Value // a JSON object; its parser is this value's alone
}

// String is a claim as a string ("" when absent); numbers (GitHub's
// repository_id is a string, GitLab's project_id may be either) as written.
// name is a member name, not a path.
func (c Claims) String(name string) string {
	v := member(c.v, name)
	if v == nil {
		return ""
	}
	switch v.Type() {
	case fastjson.TypeString:
		s, _ := str(v)
		return s
	case fastjson.TypeNumber:
		return v.String() // the literal
	case fastjson.TypeTrue:
		return "true"
	case fastjson.TypeFalse:
		return "false"
	}
	return ""
}

// Refused reports whether err is a refused token (its text names the claim).
func Refused(err error) bool { _, ok := err.(*errToken); return ok }

// Verify checks raw and returns its claims.
func (v *WorkloadVerifier) Verify(raw string) (Claims, error) {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	keys, fresh, err := v.keys(now, false)
	if err != nil {
		return Claims{}, err
	}
	var claims *fastjson.Value
	_, err = verifyIDToken(raw, keys, idTokenCheck{payloadOnly: &claims})
	if err != nil && !fresh && strings.Contains(err.Error(), "JWKS has no") {
		if keys, _, err = v.keys(now, true); err != nil {
			return Claims{}, err
		}
		_, err = verifyIDToken(raw, keys, idTokenCheck{payloadOnly: &claims})
	}
	if err != nil {
		return Claims{}, err
	}
	if !strIs(member(claims, "iss"), v.Issuer) {
		return Claims{}, refuse("iss: the token's issuer is not " + strconv.Quote(v.Issuer))
	}
	aud, ok := member(claims, "aud"), false
	if isType(aud, fastjson.TypeString) {
		ok = strIs(aud, v.Audience)
	} else if isType(aud, fastjson.TypeArray) {
		ok = containsString(aud, v.Audience)
	}
	if !ok {
		return Claims{}, refuse("aud: the token's audience does not include " + strconv.Quote(v.Audience) + " (request the token for that audience)")
	}
	// Times may be floats (RFC 7519 NumericDate): compared as float64.
	t, skew := float64(now.Unix()), v.Skew.Seconds()
	if exp, ok := num(member(claims, "exp")); !ok || t >= exp+skew {
		return Claims{}, refuse("exp: the token expired or has no expiry")
	}
	if m := member(claims, "nbf"); m != nil {
		if nbf, ok := num(m); !ok || nbf > t+skew {
			return Claims{}, refuse("nbf: the token is not valid yet")
		}
	}
	if m := member(claims, "iat"); m != nil {
		if iat, ok := num(m); !ok || iat > t+skew {
			return Claims{}, refuse("iat: the token was issued in the future")
		}
	}
	return Claims{claims}, nil
}

// keys returns the issuer's keys, from the cache unless expired or force.
func (v *WorkloadVerifier) keys(now time.Time, force bool) (jwks, bool, error) {
	ttl := v.KeysTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	if !force && v.LoadKeys != nil {
		if b, fetched, ok := v.LoadKeys(v.Issuer); ok && now.Sub(fetched) < ttl {
			if keys, err := parseJWKS(b); err == nil {
				return keys, false, nil
			}
		}
	}
	c := &Client{Issuer: v.Issuer, HTTP: v.HTTP}
	where := strings.TrimRight(v.Issuer, "/") + "/.well-known/openid-configuration"
	b, status, err := c.idpGet(where, "the CI issuer's discovery document")
	if err != nil {
		return nil, false, err
	}
	var p fastjson.Parser
	var doc *fastjson.Value
	if status == http.StatusOK {
		doc = parseJSON(&p, b)
	}
	if doc == nil || text(member(doc, "issuer")) != v.Issuer {
		return nil, false, failed("the CI issuer's discovery document " + where + " is unusable (HTTP " + strconv.Itoa(status) + ", or its issuer differs)")
	}
	uri, ok := str(member(doc, "jwks_uri"))
	if !ok || !endpointOK(uri, v.Issuer) {
		return nil, false, failed("the CI issuer's discovery document has no usable jwks_uri")
	}
	raw, status, err := c.idpGet(uri, "the CI issuer's signing keys")
	if err != nil {
		return nil, false, err
	}
	keys, perr := parseJWKS(raw)
	if status != http.StatusOK || perr != nil {
		return nil, false, failed("the CI issuer's signing keys (" + uri + ") are unusable")
	}
	if v.StoreKeys != nil {
		v.StoreKeys(v.Issuer, raw)
	}
	return keys, true, nil
}
