package oidc

// Pure tests of the ID token verifier: no network, no httptest, no key
// generation, so they run under TinyGo too (hack/tinygo-test.sh ./oidc).
// TinyGo's t.Fatal does not stop a test: every failure returns explicitly.

import (
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spinport/spinport/oidc/oidctest"
)

func jwtTestKeys(t *testing.T) jwks {
	doc := `{"keys":[` + oidctest.JWKForRSA("rsa-1", &oidctest.RSAKey(0).PublicKey) + `,` + oidctest.JWKForEC("ec-1", &oidctest.ECKey().PublicKey) + `]}`
	keys, err := parseJWKS([]byte(doc))
	if err != nil {
		t.Errorf("parseJWKS: %v", err)
	}
	return keys
}

func jwtCheck() idTokenCheck {
	return idTokenCheck{Issuer: oidctest.Issuer, ClientID: oidctest.ClientID, Nonce: oidctest.Nonce, Now: oidctest.Now, Skew: 60 * time.Second}
}

func TestIDTokenAccepted(t *testing.T) {
	keys := jwtTestKeys(t)
	for name, tok := range map[string]string{
		"RS256":               oidctest.SignJWT(oidctest.RSHeader("rsa-1"), oidctest.GoodClaims().JSON(), oidctest.RSAKey(0)),
		"ES256":               oidctest.SignJWT(`{"alg":"ES256","kid":"ec-1"}`, oidctest.GoodClaims().JSON(), oidctest.ECKey()),
		"RS256 without kid":   oidctest.SignJWT(`{"alg":"RS256"}`, oidctest.GoodClaims().JSON(), oidctest.RSAKey(0)),
		"aud array with azp":  oidctest.SignJWT(oidctest.RSHeader("rsa-1"), oidctest.GoodClaims().With("aud", `["other","`+oidctest.ClientID+`"]`, "azp", `"`+oidctest.ClientID+`"`).JSON(), oidctest.RSAKey(0)),
		"expired within skew": oidctest.SignJWT(oidctest.RSHeader("rsa-1"), oidctest.GoodClaims().With("exp", strconv.FormatInt(oidctest.Now.Unix()-30, 10)).JSON(), oidctest.RSAKey(0)),
		"iat within skew":     oidctest.SignJWT(oidctest.RSHeader("rsa-1"), oidctest.GoodClaims().With("iat", strconv.FormatInt(oidctest.Now.Unix()+30, 10)).JSON(), oidctest.RSAKey(0)),
		"float times":         oidctest.SignJWT(oidctest.RSHeader("rsa-1"), oidctest.GoodClaims().With("exp", "1700000300.5", "nbf", "1699999999.9").JSON(), oidctest.RSAKey(0)),
	} {
		c, err := verifyIDToken(tok, keys, jwtCheck())
		if err != nil {
			t.Errorf("%s: refused: %v", name, err)
			continue
		}
		if c.Subject != "user-42" || c.Name != "Ada Lovelace" || c.Email != "ada@example.test" {
			t.Errorf("%s: claims %+v", name, c)
		}
	}
}

func TestIDTokenRefused(t *testing.T) {
	keys := jwtTestKeys(t)
	good := oidctest.GoodClaims()
	rs := func(c oidctest.Claims) string {
		return oidctest.SignJWT(oidctest.RSHeader("rsa-1"), c.JSON(), oidctest.RSAKey(0))
	}
	valid := rs(good)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + oidctest.B64([]byte(good.With("sub", `"someone-else"`).JSON())) + "." + parts[2]
	pubN := oidctest.RSAKey(0).PublicKey.N.Bytes()
	now := oidctest.Now.Unix()
	cases := []struct{ name, token, want string }{
		{"wrong signature (other key, same kid)", oidctest.SignJWT(oidctest.RSHeader("rsa-1"), good.JSON(), oidctest.RSAKey(1)), "signature does not verify"},
		{"tampered payload", tampered, "signature does not verify"},
		{"truncated signature", valid[:len(valid)-4], "signature does not verify"},
		{"wrong kid", oidctest.SignJWT(oidctest.RSHeader("rsa-2"), good.JSON(), oidctest.RSAKey(1)), `no RS256 key with kid "rsa-2"`},
		{"RS256 header on the EC key's kid", oidctest.SignJWT(oidctest.RSHeader("ec-1"), good.JSON(), oidctest.RSAKey(0)), "no RS256 key"},
		{"ES256 signature, wrong key", oidctest.SignJWT(`{"alg":"ES256","kid":"ec-1"}`, good.JSON(), oidctest.OtherECKey()), "signature does not verify"},
		{"expired", rs(good.With("exp", strconv.FormatInt(now-61, 10))), "expired"},
		{"no exp", rs(good.With("exp", "")), "no expiry"},
		{"exp a string", rs(good.With("exp", `"9999999999"`)), "no expiry"},
		{"iat in the future", rs(good.With("iat", strconv.FormatInt(now+120, 10))), "issued in the future"},
		{"no iat", rs(good.With("iat", "")), "no issue time"},
		{"nbf in the future", rs(good.With("nbf", strconv.FormatInt(now+120, 10))), "not valid yet"},
		{"wrong iss", rs(good.With("iss", `"https://evil.example.test/realm"`)), "issuer (iss)"},
		{"iss with trailing slash", rs(good.With("iss", strconv.Quote(oidctest.Issuer+"/"))), "issuer (iss)"},
		{"no iss", rs(good.With("iss", "")), "issuer (iss)"},
		{"wrong aud", rs(good.With("aud", `"someone-else"`)), "not meant for this client"},
		{"aud array without client", rs(good.With("aud", `["a","b"]`)), "not meant for this client"},
		{"no aud", rs(good.With("aud", "")), "no audience"},
		{"aud array with non-string", rs(good.With("aud", `["`+oidctest.ClientID+`",1]`)), "aud) is malformed"},
		{"multiple aud, no azp", rs(good.With("aud", `["other","`+oidctest.ClientID+`"]`)), "authorized party"},
		{"azp another client", rs(good.With("azp", `"other"`)), "authorized party"},
		{"wrong nonce", rs(good.With("nonce", `"replayed"`)), "nonce"},
		{"no nonce", rs(good.With("nonce", "")), "nonce"},
		{"no sub", rs(good.With("sub", "")), "subject"},
		{"empty sub", rs(good.With("sub", `""`)), "subject"},
		{"alg none", oidctest.SignJWT(`{"alg":"none"}`, good.JSON(), nil), "unsigned (alg none)"},
		{"alg None with the RSA signature", `eyJhbGciOiJOb25lIn0.` + parts[1] + "." + parts[2], "unsigned (alg none)"},
		{"HS256 keyed with the public key", oidctest.SignJWT(`{"alg":"HS256","kid":"rsa-1"}`, good.JSON(), pubN), "shared secret"},
		{"HS512", oidctest.SignJWT(`{"alg":"HS512"}`, good.JSON(), []byte("secret")), "shared secret"},
		{"PS256", oidctest.SignJWT(`{"alg":"PS256","kid":"rsa-1"}`, good.JSON(), oidctest.RSAKey(0)), "not supported"},
		{"no alg", oidctest.SignJWT(`{"kid":"rsa-1"}`, good.JSON(), oidctest.RSAKey(0)), "no alg"},
		{"crit header", oidctest.SignJWT(`{"alg":"RS256","kid":"rsa-1","crit":["exp"]}`, good.JSON(), oidctest.RSAKey(0)), "crit"},
		{"JWE", "a.b.c.d.e", "encrypted"},
		{"two parts", parts[0] + "." + parts[1], "compact serialization"},
		{"empty", "", "compact serialization"},
		{"payload not JSON", oidctest.SignJWT(oidctest.RSHeader("rsa-1"), `not json`, oidctest.RSAKey(0)), "payload is not"},
		{"payload an array", oidctest.SignJWT(oidctest.RSHeader("rsa-1"), `[1,2]`, oidctest.RSAKey(0)), "payload is not a JSON object"},
		{"header not JSON", oidctest.B64([]byte("{")) + "." + parts[1] + "." + parts[2], "header is not"},
		{"header an array", oidctest.B64([]byte(`["RS256"]`)) + "." + parts[1] + "." + parts[2], "header is not a JSON object"},
		{"huge", strings.Repeat("a", maxIDTokenLen+1), "larger than"},
	}
	for _, tc := range cases {
		_, err := verifyIDToken(tc.token, keys, jwtCheck())
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.want)
		}
		if len(tc.token) > 20 && strings.Contains(err.Error(), tc.token) {
			t.Errorf("%s: the error echoes the token", tc.name)
		}
	}
}

func TestIDTokenEmailVerified(t *testing.T) {
	keys := jwtTestKeys(t)
	for raw, want := range map[string]string{"true": "true", `"true"`: "true", "false": "false", `"false"`: "false", "": "", "1": ""} {
		c, err := verifyIDToken(oidctest.SignJWT(oidctest.RSHeader("rsa-1"), oidctest.GoodClaims().With("email_verified", raw).JSON(), oidctest.RSAKey(0)), keys, jwtCheck())
		if err != nil || c.EmailVerified != want {
			t.Errorf("email_verified %s: got %q, %v; want %q", raw, c.EmailVerified, err, want)
		}
	}
}

// Malformed input must be refused, never panic: under TinyGo a panic traps
// the Spin instance. Deterministic mutations of a valid token and key set.
func TestIDTokenMalformedNeverPanics(t *testing.T) {
	keys := jwtTestKeys(t)
	valid := oidctest.SignJWT(oidctest.RSHeader("rsa-1"), oidctest.GoodClaims().JSON(), oidctest.RSAKey(0))
	es := oidctest.SignJWT(`{"alg":"ES256","kid":"ec-1"}`, oidctest.GoodClaims().JSON(), oidctest.ECKey())
	var inputs []string
	for _, tok := range []string{valid, es} {
		for i := 0; i < len(tok); i += 7 {
			inputs = append(inputs, tok[:i], tok[i:], tok[:i]+"."+tok[i:], tok[:i]+"!"+tok[i+1:])
		}
	}
	for _, seg := range []string{"", "null", "1", `"x"`, "[]", "{}", `{"alg":1}`, `{"alg":"RS256","kid":{}}`, `{"alg":"ES256","kid":"ec-1"}`, "\xff\xfe"} {
		for _, claims := range []string{"", "null", "{}", `{"aud":{},"exp":[],"iat":{},"nbf":"x","sub":1}`, "\x00"} {
			inputs = append(inputs, oidctest.B64([]byte(seg))+"."+oidctest.B64([]byte(claims))+"."+oidctest.B64([]byte("sig")),
				oidctest.B64([]byte(seg))+"."+oidctest.B64([]byte(claims))+"."+oidctest.B64(make([]byte, 64)),
				oidctest.B64([]byte(seg))+"."+oidctest.B64([]byte(claims))+"."+oidctest.B64(make([]byte, 256)))
		}
	}
	inputs = append(inputs, "...", "..", ".", "a.b.", "====.====.====", "\x00.\x00.\x00")
	for _, in := range inputs {
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("verifyIDToken(%q) panicked: %v", in, v)
				}
			}()
			if _, err := verifyIDToken(in, keys, jwtCheck()); err == nil && in != valid && in != es {
				t.Errorf("verifyIDToken(%q) accepted a mutated token", in)
			}
		}()
	}
}

func TestParseJWKS(t *testing.T) {
	rsaPub := &oidctest.RSAKey(0).PublicKey
	ecPub := &oidctest.ECKey().PublicKey
	good := oidctest.JWKForRSA("good", rsaPub)
	small := `{"kty":"RSA","kid":"small","n":"` + oidctest.B64(make([]byte, 64)) + `","e":"AQAB"}`
	evenN := new(big.Int).Add(rsaPub.N, big.NewInt(1))
	even := `{"kty":"RSA","kid":"even","n":"` + oidctest.B64(evenN.Bytes()) + `","e":"AQAB"}`
	badE := `{"kty":"RSA","kid":"bad-e","n":"` + oidctest.B64(rsaPub.N.Bytes()) + `","e":"AA"}`
	hugeE := `{"kty":"RSA","kid":"huge-e","n":"` + oidctest.B64(rsaPub.N.Bytes()) + `","e":"AQAAAAAB"}`
	enc := `{"kty":"RSA","kid":"enc","use":"enc","n":"` + oidctest.B64(rsaPub.N.Bytes()) + `","e":"AQAB"}`
	ps := `{"kty":"RSA","kid":"ps","alg":"PS256","n":"` + oidctest.B64(rsaPub.N.Bytes()) + `","e":"AQAB"}`
	offCurve := `{"kty":"EC","crv":"P-256","kid":"off","x":"` + oidctest.B64(ecPub.X.FillBytes(make([]byte, 32))) + `","y":"` + oidctest.B64(make([]byte, 32)) + `"}`
	p384 := `{"kty":"EC","crv":"P-384","kid":"p384","x":"AA","y":"AA"}`
	okp := `{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`
	junk := `{"kty":"RSA","n":12,"e":null}`

	keys, err := parseJWKS([]byte(`{"keys":[` + strings.Join([]string{small, even, badE, hugeE, enc, ps, offCurve, p384, okp, junk, `"str"`, `null`, good, oidctest.JWKForEC("ec", ecPub)}, ",") + `]}`))
	if err != nil {
		t.Errorf("parseJWKS: %v", err)
		return
	}
	var kids []string
	for _, k := range keys {
		kids = append(kids, k.kid)
	}
	if strings.Join(kids, ",") != "good,ec" {
		t.Errorf("usable keys %v, want [good ec]", kids)
	}
	for _, doc := range []string{``, `[]`, `{}`, `{"keys":{}}`, `{"keys":[]}`, `{"keys":[` + small + `]}`, `not json`, `{"keys":[` + good} {
		if _, err := parseJWKS([]byte(doc)); err == nil {
			t.Errorf("parseJWKS(%.40q) accepted", doc)
		}
	}
}

func TestSafeReturnPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "/",
		"/":                             "/",
		"/tenants/acme?tab=apps":        "/tenants/acme?tab=apps",
		"/a#frag":                       "/a#frag",
		"//evil.example":                "/",
		"/\\evil.example":               "/",
		"\\\\evil.example":              "/",
		"https://evil.example/":         "/",
		"javascript:alert(1)":           "/",
		"evil.example":                  "/",
		"/\t/evil.example":              "/",
		"/%0d%0aSet-Cookie:x":           "/%0d%0aSet-Cookie:x",
		"/a\r\nSet-Cookie: x=1":         "/",
		"/" + strings.Repeat("a", 3000): "/",
	} {
		if got := safeReturnPath(in); got != want {
			t.Errorf("safeReturnPath(%q) = %q, want %q", in, got, want)
		}
	}
}
