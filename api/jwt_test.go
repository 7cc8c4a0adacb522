package api

// Pure tests of the ID token verifier: no network, no httptest, no key
// generation, so they run under TinyGo too (hack/tinygo-test.sh ./api).
// TinyGo's t.Fatal does not stop a test: every failure returns explicitly.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fixed 2048-bit test keys (hex): generating RSA keys under TinyGo is slow.
var jwtTestRSAKeys = []struct{ N, D, P, Q string }{
	{N: "dd6d4f6a67e4b982b4b33bd958a5ed0ac0f9db0035f87889d8d4c622fe028d9732f22f67903b9f11862439d9ec84f3a291b2269aa95fb1c155ce9f28064c07931c6d5ac35c9936f11fa90a5926703843b440f4e5802cea9f95089e796f38f17b7871aef4c31f16502580a627616d0138f64d1cc518ea69cf3a4fd3d1929388ad06430b49b94e6009760b457979ed97009bb9460324cb077572c293ad73a476518ad21dc8e138dd7ba36d9a2ba7a63926f179a6accd5cd510126be8f057d1067a430be35df1fa65cf6f50f85602216fc48800e9224e2880be01c02af1f0e1e0c9ca8714f97025cf85a503475f23bb58aedc619368cbac825af55f6f4d2c999eed",
		D: "1b7dc49824ad8665c6bb21115f5afc76f316225d6096089b2ebf5e193e99c10c167070b7c635ccce4f6e047bbccc95f6276a2bb6549493bc7a039509925c92ad2e609a5dfa8b7041982973e6352a46260bc56bd269ab49f705b923f9d63806ed4a3b2d1a68f65d5e1685e63b29f2af6debd08fa39df00eb2829e22219935f58830c05557413eba4ca49f8cd26e37e6b248d38c7b81343bc879f3f2ca68b7077bd87c0fc433d8027529838474f912f960dac6a5012ca0ed724717c77cbf4b0f91335633d67e507fc30d09488e1e9dfcd10c1770baa018348b0696ab638649f0b5bc3359db7ecda4bf399ad61c07f7ec11e72fc2175e2ed479e7bc6b00bc7bc1a9",
		P: "f6a8d0bf737bae37c8481de586b962b77c1d4f319c9c2d0e39e2606aa9030aa31816a1366ea0b73d99b408d27882e58537fafe439e89a76da3cfa6c3b8e6cac53c127f783e80b6898c29217601ebe3333b9d1331ab2c5e0b53ef55203144eadf0db6ee75e61c80869c5078030ccaee8b4095db04bf32d5efc36c7adc498b6199",
		Q: "e5cfe271764c87d23348239f466f40eb73b27b39b69108044c302557e708f4da48ab9b251ef40a7cbe37c377cbbe234da71ae9f3cb1425343c087a6173e37b2a80921c2e4f9f57ae40f7220c91c8080225f7987e047fdb05130603d19df725a3baee35f36bec3458119bb3bf79e9ac310cf3cd5f4405ff6ca0b9a18e8c60a475"},
	{N: "b1b4b48c0f1da6aa78f64af39f6645ade7f964923d7c818d551941d945ab4dfbc86866c1d1bf70bac9812fe5cfb4cde8bea5ea2d0254f9037bb5a87a3420bb7e84f485eb2b54b84d23594de67c3786f85bf7b5b271076aa4c48441d3f74fff4c9a7ba6bac4bff389c2771de55ce06069a97f2efe1282bfc764871263ff7373c52843f5f943c9455b209f1b80464beedbe9bcc1b4c4a2c9ed82461c6f3be668b8b46b99975ccb1b4c13ab47cd96aa0df0249249031e6b446eef8919d65ee833c2796ed16c625b8cf21cb104bb332530c0e2ee8a03de265d39701f05e9e113e088f4ebd63a5e808cfdec2191db495904d6d8091f04e082742e6343b02aa0778bb7",
		D: "3a7ef673a842256bb637b4c26f351638c1c499737e23eeed5c16dd532d18cfa9d2f572e5d82a816c2b0a887ec89986b257977bf766ee1bae26d9cc64b5a614b1f80819d128c95185aade29c3761e3d22a1fb6f6716c7cf35ffae5d90edb6fa9df7b83e50fa950910cedfb10aa04107dba03cca763e17a61377a6f2c9d1fbea1e6e536dee90051b8584cc1ca34e97eff8789f0410205095907c4d0ada9f007fcfceae583d75cde1f70826c60da45be7578549bbbba5860976a0be1671c6aa314d6845554a8ebe3d6ef9866769f677b4982f1380e7607e3ee1e6ce4fcff9972e5c4b0df99df782a19216975a5e82ff1261903f42c8c13c86cd2d911d3ce4f034a1",
		P: "c44204c1b8a7eec88029c9ef67a92d096d023295787aa16d6ffae573693d74d00ff88c78f26734c49edf6f1c67c220ca202d2886e2e5da5d1019465c62f4b056ee4470cfa9102c88613cb3576ed0e87a28401109e4e1b19113ff92f6d960ac79a790e04693753fe9f3f9b8e1c5682582f4ca56a712c5d93d3f7a67cc4a0aa1e7",
		Q: "e7ccf7603919890bd44ee6a769e36f8baefd80b6e3d108d0be271a453241ade13b521626d41b4161a8d27733ce8ac0b0dc9d690ba97e54800a68d2907b6c6c64402bd18666f433ac4e09fe3f5362d484a138266bdd8d597aa730601d0e9dceed1f064bbcbdf8c9c0b2eb90b54a1b8d67880d4645925734372f38e72e25182db1"},
}

const (
	jwtIssuer   = "https://idp.example.test/realm"
	jwtClientID = "spinport-portal"
	jwtNonce    = "n-0123456789abcdef"
)

var jwtNow = time.Unix(1700000000, 0)

func jwtRSAKey(i int) *rsa.PrivateKey {
	k := jwtTestRSAKeys[i]
	h := func(s string) *big.Int { n, _ := new(big.Int).SetString(s, 16); return n }
	priv := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: h(k.N), E: 65537}, D: h(k.D), Primes: []*big.Int{h(k.P), h(k.Q)}}
	priv.Precompute()
	return priv
}

// jwtECKey is a fixed P-256 key (private scalar 0x...01..), built without
// randomness.
func jwtECKey() *ecdsa.PrivateKey {
	d, _ := new(big.Int).SetString("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", 16)
	c := elliptic.P256()
	x, y := c.ScalarBaseMult(d.Bytes())
	return &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: c, X: x, Y: y}, D: d}
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwkForRSA(kid string, pub *rsa.PublicKey) string {
	return `{"kty":"RSA","use":"sig","alg":"RS256","kid":"` + kid + `","n":"` + b64u(pub.N.Bytes()) + `","e":"AQAB"}`
}

func jwkForEC(kid string, pub *ecdsa.PublicKey) string {
	return `{"kty":"EC","crv":"P-256","use":"sig","kid":"` + kid + `","x":"` + b64u(pub.X.FillBytes(make([]byte, 32))) +
		`","y":"` + b64u(pub.Y.FillBytes(make([]byte, 32))) + `"}`
}

// jwtClaims are raw JSON values by claim name; "" in an override deletes.
type jwtClaims map[string]string

func goodClaims() jwtClaims {
	return jwtClaims{
		"iss":   strconv.Quote(jwtIssuer),
		"sub":   `"user-42"`,
		"aud":   strconv.Quote(jwtClientID),
		"exp":   strconv.FormatInt(jwtNow.Unix()+300, 10),
		"iat":   strconv.FormatInt(jwtNow.Unix()-5, 10),
		"nonce": strconv.Quote(jwtNonce),
		"name":  `"Ada Lovelace"`,
		"email": `"ada@example.test"`,
	}
}

func (c jwtClaims) with(kv ...string) jwtClaims {
	out := jwtClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func (c jwtClaims) json() string {
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, k := range names {
		parts = append(parts, strconv.Quote(k)+":"+c[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// signJWT makes a compact JWS; key is *rsa.PrivateKey (RS256),
// *ecdsa.PrivateKey (ES256), []byte (HS256 secret) or nil (no signature).
func signJWT(header string, claims string, key interface{}) string {
	input := b64u([]byte(header)) + "." + b64u([]byte(claims))
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, _ = rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err == nil {
			sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		}
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	}
	return input + "." + b64u(sig)
}

func rsHeader(kid string) string { return `{"alg":"RS256","typ":"JWT","kid":"` + kid + `"}` }

func jwtTestKeys(t *testing.T) jwks {
	doc := `{"keys":[` + jwkForRSA("rsa-1", &jwtRSAKey(0).PublicKey) + `,` + jwkForEC("ec-1", &jwtECKey().PublicKey) + `]}`
	keys, err := parseJWKS([]byte(doc))
	if err != nil {
		t.Errorf("parseJWKS: %v", err)
	}
	return keys
}

func jwtCheck() idTokenCheck {
	return idTokenCheck{Issuer: jwtIssuer, ClientID: jwtClientID, Nonce: jwtNonce, Now: jwtNow, Skew: 60 * time.Second}
}

func TestIDTokenAccepted(t *testing.T) {
	keys := jwtTestKeys(t)
	for name, tok := range map[string]string{
		"RS256":               signJWT(rsHeader("rsa-1"), goodClaims().json(), jwtRSAKey(0)),
		"ES256":               signJWT(`{"alg":"ES256","kid":"ec-1"}`, goodClaims().json(), jwtECKey()),
		"RS256 without kid":   signJWT(`{"alg":"RS256"}`, goodClaims().json(), jwtRSAKey(0)),
		"aud array with azp":  signJWT(rsHeader("rsa-1"), goodClaims().with("aud", `["other","`+jwtClientID+`"]`, "azp", `"`+jwtClientID+`"`).json(), jwtRSAKey(0)),
		"expired within skew": signJWT(rsHeader("rsa-1"), goodClaims().with("exp", strconv.FormatInt(jwtNow.Unix()-30, 10)).json(), jwtRSAKey(0)),
		"iat within skew":     signJWT(rsHeader("rsa-1"), goodClaims().with("iat", strconv.FormatInt(jwtNow.Unix()+30, 10)).json(), jwtRSAKey(0)),
		"float times":         signJWT(rsHeader("rsa-1"), goodClaims().with("exp", "1700000300.5", "nbf", "1699999999.9").json(), jwtRSAKey(0)),
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
	good := goodClaims()
	rs := func(c jwtClaims) string { return signJWT(rsHeader("rsa-1"), c.json(), jwtRSAKey(0)) }
	valid := rs(good)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64u([]byte(good.with("sub", `"someone-else"`).json())) + "." + parts[2]
	pubN := jwtRSAKey(0).PublicKey.N.Bytes()
	now := jwtNow.Unix()
	cases := []struct{ name, token, want string }{
		{"wrong signature (other key, same kid)", signJWT(rsHeader("rsa-1"), good.json(), jwtRSAKey(1)), "signature does not verify"},
		{"tampered payload", tampered, "signature does not verify"},
		{"truncated signature", valid[:len(valid)-4], "signature does not verify"},
		{"wrong kid", signJWT(rsHeader("rsa-2"), good.json(), jwtRSAKey(1)), `no RS256 key with kid "rsa-2"`},
		{"RS256 header on the EC key's kid", signJWT(rsHeader("ec-1"), good.json(), jwtRSAKey(0)), "no RS256 key"},
		{"ES256 signature, wrong key", signJWT(`{"alg":"ES256","kid":"ec-1"}`, good.json(), jwtECKeyOther()), "signature does not verify"},
		{"expired", rs(good.with("exp", strconv.FormatInt(now-61, 10))), "expired"},
		{"no exp", rs(good.with("exp", "")), "no expiry"},
		{"exp a string", rs(good.with("exp", `"9999999999"`)), "no expiry"},
		{"iat in the future", rs(good.with("iat", strconv.FormatInt(now+120, 10))), "issued in the future"},
		{"no iat", rs(good.with("iat", "")), "no issue time"},
		{"nbf in the future", rs(good.with("nbf", strconv.FormatInt(now+120, 10))), "not valid yet"},
		{"wrong iss", rs(good.with("iss", `"https://evil.example.test/realm"`)), "issuer (iss)"},
		{"iss with trailing slash", rs(good.with("iss", strconv.Quote(jwtIssuer+"/"))), "issuer (iss)"},
		{"no iss", rs(good.with("iss", "")), "issuer (iss)"},
		{"wrong aud", rs(good.with("aud", `"someone-else"`)), "not meant for this client"},
		{"aud array without client", rs(good.with("aud", `["a","b"]`)), "not meant for this client"},
		{"no aud", rs(good.with("aud", "")), "no audience"},
		{"aud array with non-string", rs(good.with("aud", `["`+jwtClientID+`",1]`)), "aud) is malformed"},
		{"multiple aud, no azp", rs(good.with("aud", `["other","`+jwtClientID+`"]`)), "authorized party"},
		{"azp another client", rs(good.with("azp", `"other"`)), "authorized party"},
		{"wrong nonce", rs(good.with("nonce", `"replayed"`)), "nonce"},
		{"no nonce", rs(good.with("nonce", "")), "nonce"},
		{"no sub", rs(good.with("sub", "")), "subject"},
		{"empty sub", rs(good.with("sub", `""`)), "subject"},
		{"alg none", signJWT(`{"alg":"none"}`, good.json(), nil), "unsigned (alg none)"},
		{"alg None with the RSA signature", `eyJhbGciOiJOb25lIn0.` + parts[1] + "." + parts[2], "unsigned (alg none)"},
		{"HS256 keyed with the public key", signJWT(`{"alg":"HS256","kid":"rsa-1"}`, good.json(), pubN), "shared secret"},
		{"HS512", signJWT(`{"alg":"HS512"}`, good.json(), []byte("secret")), "shared secret"},
		{"PS256", signJWT(`{"alg":"PS256","kid":"rsa-1"}`, good.json(), jwtRSAKey(0)), "not supported"},
		{"no alg", signJWT(`{"kid":"rsa-1"}`, good.json(), jwtRSAKey(0)), "no alg"},
		{"crit header", signJWT(`{"alg":"RS256","kid":"rsa-1","crit":["exp"]}`, good.json(), jwtRSAKey(0)), "crit"},
		{"JWE", "a.b.c.d.e", "encrypted"},
		{"two parts", parts[0] + "." + parts[1], "compact serialization"},
		{"empty", "", "compact serialization"},
		{"payload not JSON", signJWT(rsHeader("rsa-1"), `not json`, jwtRSAKey(0)), "payload is not"},
		{"payload an array", signJWT(rsHeader("rsa-1"), `[1,2]`, jwtRSAKey(0)), "payload is not a JSON object"},
		{"header not JSON", b64u([]byte("{")) + "." + parts[1] + "." + parts[2], "header is not"},
		{"header an array", b64u([]byte(`["RS256"]`)) + "." + parts[1] + "." + parts[2], "header is not a JSON object"},
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

func jwtECKeyOther() *ecdsa.PrivateKey {
	d := big.NewInt(123456789)
	c := elliptic.P256()
	x, y := c.ScalarBaseMult(d.Bytes())
	return &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: c, X: x, Y: y}, D: d}
}

func TestIDTokenEmailVerified(t *testing.T) {
	keys := jwtTestKeys(t)
	for raw, want := range map[string]string{"true": "true", `"true"`: "true", "false": "false", `"false"`: "false", "": "", "1": ""} {
		c, err := verifyIDToken(signJWT(rsHeader("rsa-1"), goodClaims().with("email_verified", raw).json(), jwtRSAKey(0)), keys, jwtCheck())
		if err != nil || c.EmailVerified != want {
			t.Errorf("email_verified %s: got %q, %v; want %q", raw, c.EmailVerified, err, want)
		}
	}
}

// Malformed input must be refused, never panic: under TinyGo a panic traps
// the Spin instance. Deterministic mutations of a valid token and key set.
func TestIDTokenMalformedNeverPanics(t *testing.T) {
	keys := jwtTestKeys(t)
	valid := signJWT(rsHeader("rsa-1"), goodClaims().json(), jwtRSAKey(0))
	es := signJWT(`{"alg":"ES256","kid":"ec-1"}`, goodClaims().json(), jwtECKey())
	var inputs []string
	for _, tok := range []string{valid, es} {
		for i := 0; i < len(tok); i += 7 {
			inputs = append(inputs, tok[:i], tok[i:], tok[:i]+"."+tok[i:], tok[:i]+"!"+tok[i+1:])
		}
	}
	for _, seg := range []string{"", "null", "1", `"x"`, "[]", "{}", `{"alg":1}`, `{"alg":"RS256","kid":{}}`, `{"alg":"ES256","kid":"ec-1"}`, "\xff\xfe"} {
		for _, claims := range []string{"", "null", "{}", `{"aud":{},"exp":[],"iat":{},"nbf":"x","sub":1}`, "\x00"} {
			inputs = append(inputs, b64u([]byte(seg))+"."+b64u([]byte(claims))+"."+b64u([]byte("sig")),
				b64u([]byte(seg))+"."+b64u([]byte(claims))+"."+b64u(make([]byte, 64)),
				b64u([]byte(seg))+"."+b64u([]byte(claims))+"."+b64u(make([]byte, 256)))
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
	rsaPub := &jwtRSAKey(0).PublicKey
	ecPub := &jwtECKey().PublicKey
	good := jwkForRSA("good", rsaPub)
	small := `{"kty":"RSA","kid":"small","n":"` + b64u(make([]byte, 64)) + `","e":"AQAB"}`
	evenN := new(big.Int).Add(rsaPub.N, big.NewInt(1))
	even := `{"kty":"RSA","kid":"even","n":"` + b64u(evenN.Bytes()) + `","e":"AQAB"}`
	badE := `{"kty":"RSA","kid":"bad-e","n":"` + b64u(rsaPub.N.Bytes()) + `","e":"AA"}`
	hugeE := `{"kty":"RSA","kid":"huge-e","n":"` + b64u(rsaPub.N.Bytes()) + `","e":"AQAAAAAB"}`
	enc := `{"kty":"RSA","kid":"enc","use":"enc","n":"` + b64u(rsaPub.N.Bytes()) + `","e":"AQAB"}`
	ps := `{"kty":"RSA","kid":"ps","alg":"PS256","n":"` + b64u(rsaPub.N.Bytes()) + `","e":"AQAB"}`
	offCurve := `{"kty":"EC","crv":"P-256","kid":"off","x":"` + b64u(ecPub.X.FillBytes(make([]byte, 32))) + `","y":"` + b64u(make([]byte, 32)) + `"}`
	p384 := `{"kty":"EC","crv":"P-384","kid":"p384","x":"AA","y":"AA"}`
	okp := `{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`
	junk := `{"kty":"RSA","n":12,"e":null}`

	keys, err := parseJWKS([]byte(`{"keys":[` + strings.Join([]string{small, even, badE, hugeE, enc, ps, offCurve, p384, okp, junk, `"str"`, `null`, good, jwkForEC("ec", ecPub)}, ",") + `]}`))
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
