package oidc

// ID token verification for OIDC sign-in: JWS compact serialization, RS256
// and ES256 signatures checked against the issuer's JWKS, and the ID token
// claims of OpenID Connect Core 1.0 §3.1.3.7.
//
// Written for TinyGo as much as for Go: no encoding/json (fastjson parses,
// json.go), no reflection, and every input is checked before it reaches a
// function that could panic — under TinyGo a panic traps the whole Spin
// instance.

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

	"github.com/valyala/fastjson"
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
	var p fastjson.Parser
	doc := parseJSON(&p, b)
	if doc == nil {
		return nil, errors.New("the JWKS is not valid JSON")
	}
	keys := member(doc, "keys")
	if !isType(keys, fastjson.TypeArray) {
		return nil, errors.New("the JWKS has no \"keys\" array")
	}
	arr, _ := keys.Array()
	var out jwks
	skipped := 0
	for _, k := range arr {
		if len(out)+skipped >= maxJWKSKeys {
			break
		}
		key, ok := parseJWK(k)
		if ok {
			out = append(out, key)
		} else {
			skipped++
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the JWKS has no usable RS256 or ES256 signing key (" + strconv.Itoa(skipped) + " keys skipped)")
	}
	return out, nil
}

func parseJWK(k *fastjson.Value) (jwk, bool) {
	if !isType(k, fastjson.TypeObject) {
		return jwk{}, false
	}
	if use := member(k, "use"); use != nil && !strIs(use, "sig") {
		return jwk{}, false
	}
	if ops := member(k, "key_ops"); ops != nil && !containsString(ops, "verify") {
		return jwk{}, false
	}
	key := jwk{kid: text(member(k, "kid"))}
	if a := member(k, "alg"); a != nil {
		alg, ok := str(a)
		if !ok {
			return jwk{}, false
		}
		key.alg = alg
	}
	switch kty, _ := str(member(k, "kty")); kty {
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
		if !strIs(member(k, "crv"), "P-256") {
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
func b64Field(r *fastjson.Value, name string, max int) ([]byte, bool) {
	v, ok := strBytes(member(r, name))
	if !ok || len(v) == 0 || len(v) > (max*4+2)/3+2 {
		return nil, false
	}
	b, err := b64url(string(v))
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

// idTokenCheck is what the ID token must match.
type idTokenCheck struct {
	Issuer   string // iss, compared exactly
	ClientID string // must be in aud
	Nonce    string // from the sign-in state
	Now      time.Time
	Skew     time.Duration // allowed clock difference with the issuer
	// payloadOnly: verify the signature only and hand back the claims
	// (workload tokens check their own claims, workload.go), a JSON object
	// whose parser nothing else uses.
	payloadOnly **fastjson.Value
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
	var hp fastjson.Parser
	headerJSON, err := b64url(parts[0])
	var header *fastjson.Value
	if err == nil {
		header = parseJSON(&hp, headerJSON)
	}
	if header == nil {
		return idClaims{}, refuse("the ID token's header is not base64url-encoded JSON")
	}
	if header.Type() != fastjson.TypeObject {
		return idClaims{}, refuse("the ID token's header is not a JSON object")
	}
	if member(header, "crit") != nil {
		return idClaims{}, refuse("the ID token's header has critical extensions (crit) spinport does not understand")
	}
	alg, ok := str(member(header, "alg"))
	if !ok {
		return idClaims{}, refuse("the ID token's header has no alg")
	}
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
	if k := member(header, "kid"); k != nil {
		if kid, ok = str(k); !ok {
			return idClaims{}, refuse("the ID token's kid is not a string")
		}
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

	var pp fastjson.Parser
	payload, err := b64url(parts[1])
	var claims *fastjson.Value
	if err == nil {
		claims = parseJSON(&pp, payload)
	}
	if claims == nil {
		return idClaims{}, refuse("the ID token's payload is not base64url-encoded JSON")
	}
	if claims.Type() != fastjson.TypeObject {
		return idClaims{}, refuse("the ID token's payload is not a JSON object")
	}
	if c.payloadOnly != nil {
		*c.payloadOnly = claims
		return idClaims{}, nil
	}
	return checkClaims(claims, c)
}

func checkClaims(claims *fastjson.Value, c idTokenCheck) (idClaims, error) {
	if !strIs(member(claims, "iss"), c.Issuer) {
		return idClaims{}, refuse("the ID token's issuer (iss) is not " + strconv.Quote(c.Issuer) + ", the configured oidc_issuer")
	}
	aud := member(claims, "aud")
	audiences := 0
	hasClient := false
	switch {
	case isType(aud, fastjson.TypeString):
		audiences, hasClient = 1, strIs(aud, c.ClientID)
	case isType(aud, fastjson.TypeArray):
		arr, _ := aud.Array()
		for _, a := range arr {
			if !isType(a, fastjson.TypeString) {
				return idClaims{}, refuse("the ID token's audience (aud) is malformed")
			}
			audiences++
			hasClient = hasClient || strIs(a, c.ClientID)
		}
	default:
		return idClaims{}, refuse("the ID token has no audience (aud)")
	}
	if !hasClient {
		return idClaims{}, refuse("the ID token is not meant for this client: its audience (aud) does not include oidc_client_id")
	}
	if azp := member(claims, "azp"); azp != nil || audiences > 1 {
		if !strIs(azp, c.ClientID) {
			return idClaims{}, refuse("the ID token was issued to another party: its authorized party (azp) is not oidc_client_id")
		}
	}

	// Times may be floats (RFC 7519 NumericDate): compared as float64.
	now := float64(c.Now.Unix())
	skew := c.Skew.Seconds()
	exp, ok := num(member(claims, "exp"))
	if !ok {
		return idClaims{}, refuse("the ID token has no expiry (exp)")
	}
	if now >= exp+skew {
		return idClaims{}, refuse("the ID token expired (check this machine's clock if this keeps happening)")
	}
	iat, ok := num(member(claims, "iat"))
	if !ok {
		return idClaims{}, refuse("the ID token has no issue time (iat)")
	}
	if iat > now+skew {
		return idClaims{}, refuse("the ID token was issued in the future (iat); the clocks of spinport and the identity provider differ")
	}
	if v := member(claims, "nbf"); v != nil {
		nbf, ok := num(v)
		if !ok {
			return idClaims{}, refuse("the ID token's nbf is not a number")
		}
		if nbf > now+skew {
			return idClaims{}, refuse("the ID token is not valid yet (nbf); the clocks of spinport and the identity provider differ")
		}
	}
	nonce, ok := strBytes(member(claims, "nonce"))
	if c.Nonce == "" || !ok || subtle.ConstantTimeCompare(nonce, []byte(c.Nonce)) != 1 {
		return idClaims{}, refuse("the ID token's nonce does not match this sign-in")
	}
	sub, ok := str(member(claims, "sub"))
	if !ok || sub == "" || len(sub) > 255 {
		return idClaims{}, refuse("the ID token has no valid subject (sub)")
	}
	out := idClaims{Subject: sub, Name: claimString(claims, "name"),
		PreferredUsername: claimString(claims, "preferred_username"), Email: claimString(claims, "email")}
	switch ev := member(claims, "email_verified"); {
	case isType(ev, fastjson.TypeTrue) || strIs(ev, "true"):
		out.EmailVerified = "true"
	case isType(ev, fastjson.TypeFalse) || strIs(ev, "false"):
		out.EmailVerified = "false"
	}
	return out, nil
}

// claimString is a string claim, trimmed, "" when absent, not a string or
// implausibly long (these become display names).
func claimString(claims *fastjson.Value, name string) string {
	v, ok := strBytes(member(claims, name))
	if !ok || len(v) > 256 {
		return ""
	}
	return strings.TrimSpace(string(v))
}

// short quotes an untrusted value for a message, cut to a sane length.
func short(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.QuoteToASCII(s)
}
