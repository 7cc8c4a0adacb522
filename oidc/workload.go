package oidc

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
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
type Claims struct{ r gjson.Result }

// String is a claim as a string ("" when absent); numbers (GitHub's
// repository_id is a string, GitLab's project_id may be either) as written.
func (c Claims) String(name string) string {
	v := c.r.Get(name)
	switch v.Type {
	case gjson.String:
		return v.Str
	case gjson.Number:
		return v.Raw
	case gjson.True:
		return "true"
	case gjson.False:
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
	var claims gjson.Result
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
	if iss := claims.Get("iss"); iss.Type != gjson.String || iss.Str != v.Issuer {
		return Claims{}, refuse("iss: the token's issuer is not " + strconv.Quote(v.Issuer))
	}
	aud, ok := claims.Get("aud"), false
	if aud.Type == gjson.String {
		ok = aud.Str == v.Audience
	} else if aud.IsArray() {
		ok = containsString(aud, v.Audience)
	}
	if !ok {
		return Claims{}, refuse("aud: the token's audience does not include " + strconv.Quote(v.Audience) + " (request the token for that audience)")
	}
	t, skew := float64(now.Unix()), v.Skew.Seconds()
	if exp := claims.Get("exp"); exp.Type != gjson.Number || t >= exp.Num+skew {
		return Claims{}, refuse("exp: the token expired or has no expiry")
	}
	if nbf := claims.Get("nbf"); nbf.Exists() && (nbf.Type != gjson.Number || nbf.Num > t+skew) {
		return Claims{}, refuse("nbf: the token is not valid yet")
	}
	if iat := claims.Get("iat"); iat.Exists() && (iat.Type != gjson.Number || iat.Num > t+skew) {
		return Claims{}, refuse("iat: the token was issued in the future")
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
	doc := gjson.ParseBytes(b)
	if status != http.StatusOK || !validJSON(b) || doc.Get("issuer").String() != v.Issuer {
		return nil, false, failed("the CI issuer's discovery document " + where + " is unusable (HTTP " + strconv.Itoa(status) + ", or its issuer differs)")
	}
	uri := doc.Get("jwks_uri")
	if uri.Type != gjson.String || !endpointOK(uri.Str, v.Issuer) {
		return nil, false, failed("the CI issuer's discovery document has no usable jwks_uri")
	}
	raw, status, err := c.idpGet(uri.Str, "the CI issuer's signing keys")
	if err != nil {
		return nil, false, err
	}
	keys, perr := parseJWKS(raw)
	if status != http.StatusOK || perr != nil {
		return nil, false, failed("the CI issuer's signing keys (" + uri.Str + ") are unusable")
	}
	if v.StoreKeys != nil {
		v.StoreKeys(v.Issuer, raw)
	}
	return keys, true, nil
}
