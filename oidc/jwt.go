package oidc

// ID token verification for OIDC sign-in: JWS compact serialization, RS256
// and ES256 signatures checked against the issuer's JWKS, and the ID token
// claims of OpenID Connect Core 1.0 §3.1.3.7.
//
// Written for TinyGo as much as for Go: no encoding/json (gjson parses), no
// reflection, and every input is checked before it reaches a function that
// could panic — under TinyGo a panic traps the whole Spin instance.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

const (
	maxIDTokenLen = 32 << 10 // bytes; real ID tokens are a few KB
	maxJWKSKeys   = 100
	minRSABits    = 2048
	maxRSABits    = 8192 // bounds the work one verification can cost
)

// jwk is one signature verification key from a JWK Set.
type jwk struct {
	kid string
	alg string // "" when the JWK does not restrict its algorithm
	rsa *rsa.PublicKey
	ec  *ecdsa.PublicKey // P-256
}

// jwks is the usable keys of a JWK Set (RFC 7517).
type jwks []jwk

// parseJWKS reads a JWK Set document. Keys spinport cannot use (other key
// types or curves, encryption keys, malformed members) are skipped, so one
// odd key does not break sign-in; a set with no usable key is an error.
func parseJWKS(b []byte) (jwks, error) {
	if !validJSON(b) {
		return nil, errors.New("the JWKS is not valid JSON")
	}
	keys := gjson.GetBytes(b, "keys")
	if !keys.IsArray() {
		return nil, errors.New("the JWKS has no \"keys\" array")
	}
	var out jwks
	skipped := 0
	keys.ForEach(func(_, k gjson.Result) bool {
		if len(out)+skipped >= maxJWKSKeys {
			return false
		}
		key, ok := parseJWK(k)
		if ok {
			out = append(out, key)
		} else {
			skipped++
		}
		return true
	})
	if len(out) == 0 {
		return nil, errors.New("the JWKS has no usable RS256 or ES256 signing key (" + strconv.Itoa(skipped) + " keys skipped)")
	}
	return out, nil
}

func parseJWK(k gjson.Result) (jwk, bool) {
	if !k.IsObject() {
		return jwk{}, false
	}
	if use := k.Get("use"); use.Exists() && use.String() != "sig" {
		return jwk{}, false
	}
	if ops := k.Get("key_ops"); ops.Exists() && !containsString(ops, "verify") {
		return jwk{}, false
	}
	key := jwk{kid: k.Get("kid").String()}
	if a := k.Get("alg"); a.Exists() {
		if a.Type != gjson.String {
			return jwk{}, false
		}
		key.alg = a.Str
	}
	switch k.Get("kty").String() {
	case "RSA":
		if key.alg != "" && key.alg != "RS256" {
			return jwk{}, false
		}
		n, ok := b64Field(k, "n", maxRSABits/8+1)
		if !ok {
			return jwk{}, false
		}
		e, ok := b64Field(k, "e", 4)
		if !ok {
			return jwk{}, false
		}
		pub, ok := rsaKey(n, e)
		if !ok {
			return jwk{}, false
		}
		key.rsa = pub
	case "EC":
		if key.alg != "" && key.alg != "ES256" {
			return jwk{}, false
		}
		if k.Get("crv").String() != "P-256" {
			return jwk{}, false
		}
		x, ok := b64Field(k, "x", 32)
		if !ok || len(x) != 32 {
			return jwk{}, false
		}
		y, ok := b64Field(k, "y", 32)
		if !ok || len(y) != 32 {
			return jwk{}, false
		}
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		if !pub.Curve.IsOnCurve(pub.X, pub.Y) {
			return jwk{}, false
		}
		key.ec = pub
	default:
		return jwk{}, false
	}
	return key, true
}

// rsaKey builds an RSA public key from big-endian modulus and exponent,
// refusing what crypto/rsa would reject or mis-handle (even or small moduli,
// exponents out of range).
func rsaKey(n, e []byte) (*rsa.PublicKey, bool) {
	for len(n) > 0 && n[0] == 0 {
		n = n[1:]
	}
	if len(n) == 0 || n[len(n)-1]&1 == 0 {
		return nil, false
	}
	N := new(big.Int).SetBytes(n)
	if N.BitLen() < minRSABits || N.BitLen() > maxRSABits {
		return nil, false
	}
	E := 0
	for _, c := range e {
		E = E<<8 | int(c)
	}
	if E < 3 || E&1 == 0 || E > 1<<31-1 {
		return nil, false
	}
	return &rsa.PublicKey{N: N, E: E}, true
}

// b64Field decodes a base64url string member of at most max decoded bytes.
func b64Field(r gjson.Result, name string, max int) ([]byte, bool) {
	v := r.Get(name)
	if v.Type != gjson.String || v.Str == "" || len(v.Str) > (max*4+2)/3+2 {
		return nil, false
	}
	b, err := b64url(v.Str)
	if err != nil || len(b) > max {
		return nil, false
	}
	return b, true
}

// b64url decodes base64url without padding (RFC 7515 §2), tolerating
// padding some key sets carry anyway.
func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func containsString(arr gjson.Result, want string) bool {
	found := false
	arr.ForEach(func(_, v gjson.Result) bool {
		if v.Type == gjson.String && v.Str == want {
			found = true
			return false
		}
		return true
	})
	return found
}

// idTokenCheck is what the ID token must match.
type idTokenCheck struct {
	Issuer   string // iss, compared exactly
	ClientID string // must be in aud
	Nonce    string // from the sign-in state
	Now      time.Time
	Skew     time.Duration // allowed clock difference with the issuer
	// payloadOnly: verify the signature only and hand back the claims
	// (workload tokens check their own claims, workload.go).
	payloadOnly *gjson.Result
}

// idClaims is what spinport takes from a verified ID token.
type idClaims struct {
	Subject           string
	Name              string
	PreferredUsername string
	Email             string
	EmailVerified     string // "true", "false" or "" when absent
}

// errToken is a refused ID token; its text names the reason and never
// contains the token.
type errToken struct{ reason string }

func (e *errToken) Error() string { return e.reason }

func refuse(reason string) error { return &errToken{reason} }

// verifyIDToken checks raw's signature against keys and its claims
// against c, and returns the claims spinport uses.
func verifyIDToken(raw string, keys jwks, c idTokenCheck) (idClaims, error) {
	if len(raw) > maxIDTokenLen {
		return idClaims{}, refuse("the ID token is larger than " + strconv.Itoa(maxIDTokenLen) + " bytes")
	}
	parts := strings.Split(raw, ".")
	switch {
	case len(parts) == 5:
		return idClaims{}, refuse("the ID token is encrypted (JWE); configure the client for signed, unencrypted ID tokens")
	case len(parts) != 3 || parts[0] == "" || parts[1] == "":
		return idClaims{}, refuse("the ID token is not a JWS in compact serialization")
	}
	headerJSON, err := b64url(parts[0])
	if err != nil || !validJSON(headerJSON) {
		return idClaims{}, refuse("the ID token's header is not base64url-encoded JSON")
	}
	header := gjson.ParseBytes(headerJSON)
	if !header.IsObject() {
		return idClaims{}, refuse("the ID token's header is not a JSON object")
	}
	if header.Get("crit").Exists() {
		return idClaims{}, refuse("the ID token's header has critical extensions (crit) spinport does not understand")
	}
	algV := header.Get("alg")
	if algV.Type != gjson.String {
		return idClaims{}, refuse("the ID token's header has no alg")
	}
	alg := algV.Str
	switch {
	case alg == "RS256" || alg == "ES256":
	case strings.EqualFold(alg, "none"):
		return idClaims{}, refuse("the ID token is unsigned (alg none); spinport accepts only RS256 and ES256")
	case strings.HasPrefix(alg, "HS"):
		return idClaims{}, refuse("the ID token is signed with a shared secret (" + short(alg) + "); spinport accepts only RS256 and ES256 signatures with the issuer's published keys")
	default:
		return idClaims{}, refuse("the ID token's algorithm " + short(alg) + " is not supported; configure the client for RS256 or ES256")
	}
	kid := ""
	if k := header.Get("kid"); k.Exists() {
		if k.Type != gjson.String {
			return idClaims{}, refuse("the ID token's kid is not a string")
		}
		kid = k.Str
	}
	sig, err := b64url(parts[2])
	if err != nil || len(sig) == 0 {
		return idClaims{}, refuse("the ID token's signature is not base64url")
	}
	digest := sha256.Sum256([]byte(raw[:len(parts[0])+1+len(parts[1])]))

	candidates := 0
	verified := false
	for _, k := range keys {
		if kid != "" && k.kid != kid {
			continue
		}
		if k.alg != "" && k.alg != alg {
			continue
		}
		switch {
		case alg == "RS256" && k.rsa != nil:
			candidates++
			verified = len(sig) == (k.rsa.N.BitLen()+7)/8 &&
				rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, digest[:], sig) == nil
		case alg == "ES256" && k.ec != nil:
			candidates++
			if len(sig) == 64 {
				r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
				verified = ecdsa.Verify(k.ec, digest[:], r, s)
			}
		}
		if verified {
			break
		}
	}
	if candidates == 0 {
		if kid != "" {
			return idClaims{}, refuse("the issuer's JWKS has no " + alg + " key with kid " + short(kid))
		}
		return idClaims{}, refuse("the issuer's JWKS has no " + alg + " key")
	}
	if !verified {
		return idClaims{}, refuse("the ID token's signature does not verify with the issuer's key")
	}

	payload, err := b64url(parts[1])
	if err != nil || !validJSON(payload) {
		return idClaims{}, refuse("the ID token's payload is not base64url-encoded JSON")
	}
	claims := gjson.ParseBytes(payload)
	if !claims.IsObject() {
		return idClaims{}, refuse("the ID token's payload is not a JSON object")
	}
	if c.payloadOnly != nil {
		*c.payloadOnly = claims
		return idClaims{}, nil
	}
	return checkClaims(claims, c)
}

func checkClaims(claims gjson.Result, c idTokenCheck) (idClaims, error) {
	if iss := claims.Get("iss"); iss.Type != gjson.String || iss.Str != c.Issuer {
		return idClaims{}, refuse("the ID token's issuer (iss) is not " + strconv.Quote(c.Issuer) + ", the configured oidc_issuer")
	}
	aud := claims.Get("aud")
	audiences := 0
	hasClient := false
	switch {
	case aud.Type == gjson.String:
		audiences, hasClient = 1, aud.Str == c.ClientID
	case aud.IsArray():
		ok := true
		aud.ForEach(func(_, a gjson.Result) bool {
			if a.Type != gjson.String {
				ok = false
				return false
			}
			audiences++
			hasClient = hasClient || a.Str == c.ClientID
			return true
		})
		if !ok {
			return idClaims{}, refuse("the ID token's audience (aud) is malformed")
		}
	default:
		return idClaims{}, refuse("the ID token has no audience (aud)")
	}
	if !hasClient {
		return idClaims{}, refuse("the ID token is not meant for this client: its audience (aud) does not include oidc_client_id")
	}
	if azp := claims.Get("azp"); azp.Exists() || audiences > 1 {
		if azp.Type != gjson.String || azp.Str != c.ClientID {
			return idClaims{}, refuse("the ID token was issued to another party: its authorized party (azp) is not oidc_client_id")
		}
	}

	now := float64(c.Now.Unix())
	skew := c.Skew.Seconds()
	exp := claims.Get("exp")
	if exp.Type != gjson.Number {
		return idClaims{}, refuse("the ID token has no expiry (exp)")
	}
	if now >= exp.Num+skew {
		return idClaims{}, refuse("the ID token expired (check this machine's clock if this keeps happening)")
	}
	iat := claims.Get("iat")
	if iat.Type != gjson.Number {
		return idClaims{}, refuse("the ID token has no issue time (iat)")
	}
	if iat.Num > now+skew {
		return idClaims{}, refuse("the ID token was issued in the future (iat); the clocks of spinport and the identity provider differ")
	}
	if nbf := claims.Get("nbf"); nbf.Exists() {
		if nbf.Type != gjson.Number {
			return idClaims{}, refuse("the ID token's nbf is not a number")
		}
		if nbf.Num > now+skew {
			return idClaims{}, refuse("the ID token is not valid yet (nbf); the clocks of spinport and the identity provider differ")
		}
	}
	nonce := claims.Get("nonce")
	if c.Nonce == "" || nonce.Type != gjson.String || subtle.ConstantTimeCompare([]byte(nonce.Str), []byte(c.Nonce)) != 1 {
		return idClaims{}, refuse("the ID token's nonce does not match this sign-in")
	}
	sub := claims.Get("sub")
	if sub.Type != gjson.String || sub.Str == "" || len(sub.Str) > 255 {
		return idClaims{}, refuse("the ID token has no valid subject (sub)")
	}
	out := idClaims{Subject: sub.Str, Name: claimString(claims, "name"),
		PreferredUsername: claimString(claims, "preferred_username"), Email: claimString(claims, "email")}
	switch ev := claims.Get("email_verified"); {
	case ev.Type == gjson.True || (ev.Type == gjson.String && ev.Str == "true"):
		out.EmailVerified = "true"
	case ev.Type == gjson.False || (ev.Type == gjson.String && ev.Str == "false"):
		out.EmailVerified = "false"
	}
	return out, nil
}

// claimString is a string claim, trimmed, "" when absent, not a string or
// implausibly long (these become display names).
func claimString(claims gjson.Result, name string) string {
	v := claims.Get(name)
	if v.Type != gjson.String || len(v.Str) > 256 {
		return ""
	}
	return strings.TrimSpace(v.Str)
}

// short quotes an untrusted value for a message, cut to a sane length.
func short(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.QuoteToASCII(s)
}
