// Package oidctest has fixtures for tests of OpenID Connect sign-in: fixed
// signing keys, their JWKs, ID token claims and a JWS signer. Tests only:
// the private keys are published here, never trust them.
//
// No key generation and no network, so tests built on it run under TinyGo.
package oidctest

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
	"time"
)

// Fixed 2048-bit test keys (hex): generating RSA keys under TinyGo is slow.
var rsaKeys = []struct{ N, D, P, Q string }{
	{N: "dd6d4f6a67e4b982b4b33bd958a5ed0ac0f9db0035f87889d8d4c622fe028d9732f22f67903b9f11862439d9ec84f3a291b2269aa95fb1c155ce9f28064c07931c6d5ac35c9936f11fa90a5926703843b440f4e5802cea9f95089e796f38f17b7871aef4c31f16502580a627616d0138f64d1cc518ea69cf3a4fd3d1929388ad06430b49b94e6009760b457979ed97009bb9460324cb077572c293ad73a476518ad21dc8e138dd7ba36d9a2ba7a63926f179a6accd5cd510126be8f057d1067a430be35df1fa65cf6f50f85602216fc48800e9224e2880be01c02af1f0e1e0c9ca8714f97025cf85a503475f23bb58aedc619368cbac825af55f6f4d2c999eed",
		D: "1b7dc49824ad8665c6bb21115f5afc76f316225d6096089b2ebf5e193e99c10c167070b7c635ccce4f6e047bbccc95f6276a2bb6549493bc7a039509925c92ad2e609a5dfa8b7041982973e6352a46260bc56bd269ab49f705b923f9d63806ed4a3b2d1a68f65d5e1685e63b29f2af6debd08fa39df00eb2829e22219935f58830c05557413eba4ca49f8cd26e37e6b248d38c7b81343bc879f3f2ca68b7077bd87c0fc433d8027529838474f912f960dac6a5012ca0ed724717c77cbf4b0f91335633d67e507fc30d09488e1e9dfcd10c1770baa018348b0696ab638649f0b5bc3359db7ecda4bf399ad61c07f7ec11e72fc2175e2ed479e7bc6b00bc7bc1a9",
		P: "f6a8d0bf737bae37c8481de586b962b77c1d4f319c9c2d0e39e2606aa9030aa31816a1366ea0b73d99b408d27882e58537fafe439e89a76da3cfa6c3b8e6cac53c127f783e80b6898c29217601ebe3333b9d1331ab2c5e0b53ef55203144eadf0db6ee75e61c80869c5078030ccaee8b4095db04bf32d5efc36c7adc498b6199",
		Q: "e5cfe271764c87d23348239f466f40eb73b27b39b69108044c302557e708f4da48ab9b251ef40a7cbe37c377cbbe234da71ae9f3cb1425343c087a6173e37b2a80921c2e4f9f57ae40f7220c91c8080225f7987e047fdb05130603d19df725a3baee35f36bec3458119bb3bf79e9ac310cf3cd5f4405ff6ca0b9a18e8c60a475"},
	{N: "b1b4b48c0f1da6aa78f64af39f6645ade7f964923d7c818d551941d945ab4dfbc86866c1d1bf70bac9812fe5cfb4cde8bea5ea2d0254f9037bb5a87a3420bb7e84f485eb2b54b84d23594de67c3786f85bf7b5b271076aa4c48441d3f74fff4c9a7ba6bac4bff389c2771de55ce06069a97f2efe1282bfc764871263ff7373c52843f5f943c9455b209f1b80464beedbe9bcc1b4c4a2c9ed82461c6f3be668b8b46b99975ccb1b4c13ab47cd96aa0df0249249031e6b446eef8919d65ee833c2796ed16c625b8cf21cb104bb332530c0e2ee8a03de265d39701f05e9e113e088f4ebd63a5e808cfdec2191db495904d6d8091f04e082742e6343b02aa0778bb7",
		D: "3a7ef673a842256bb637b4c26f351638c1c499737e23eeed5c16dd532d18cfa9d2f572e5d82a816c2b0a887ec89986b257977bf766ee1bae26d9cc64b5a614b1f80819d128c95185aade29c3761e3d22a1fb6f6716c7cf35ffae5d90edb6fa9df7b83e50fa950910cedfb10aa04107dba03cca763e17a61377a6f2c9d1fbea1e6e536dee90051b8584cc1ca34e97eff8789f0410205095907c4d0ada9f007fcfceae583d75cde1f70826c60da45be7578549bbbba5860976a0be1671c6aa314d6845554a8ebe3d6ef9866769f677b4982f1380e7607e3ee1e6ce4fcff9972e5c4b0df99df782a19216975a5e82ff1261903f42c8c13c86cd2d911d3ce4f034a1",
		P: "c44204c1b8a7eec88029c9ef67a92d096d023295787aa16d6ffae573693d74d00ff88c78f26734c49edf6f1c67c220ca202d2886e2e5da5d1019465c62f4b056ee4470cfa9102c88613cb3576ed0e87a28401109e4e1b19113ff92f6d960ac79a790e04693753fe9f3f9b8e1c5682582f4ca56a712c5d93d3f7a67cc4a0aa1e7",
		Q: "e7ccf7603919890bd44ee6a769e36f8baefd80b6e3d108d0be271a453241ade13b521626d41b4161a8d27733ce8ac0b0dc9d690ba97e54800a68d2907b6c6c64402bd18666f433ac4e09fe3f5362d484a138266bdd8d597aa730601d0e9dceed1f064bbcbdf8c9c0b2eb90b54a1b8d67880d4645925734372f38e72e25182db1"},
}

// What GoodClaims are for.
const (
	Issuer   = "https://idp.example.test/realm"
	ClientID = "spinport-portal"
	Nonce    = "n-0123456789abcdef"
)

// Now is the time GoodClaims are valid at.
var Now = time.Unix(1700000000, 0)

// RSAKey is fixed 2048-bit RSA test key i (0 or 1).
func RSAKey(i int) *rsa.PrivateKey {
	k := rsaKeys[i]
	h := func(s string) *big.Int { n, _ := new(big.Int).SetString(s, 16); return n }
	priv := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: h(k.N), E: 65537}, D: h(k.D), Primes: []*big.Int{h(k.P), h(k.Q)}}
	priv.Precompute()
	return priv
}

// ECKey is a fixed P-256 key, built without randomness.
func ECKey() *ecdsa.PrivateKey {
	d, _ := new(big.Int).SetString("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721", 16)
	return ecKey(d)
}

// OtherECKey is a second fixed P-256 key, not ECKey.
func OtherECKey() *ecdsa.PrivateKey { return ecKey(big.NewInt(123456789)) }

func ecKey(d *big.Int) *ecdsa.PrivateKey {
	c := elliptic.P256()
	x, y := c.ScalarBaseMult(d.Bytes())
	return &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: c, X: x, Y: y}, D: d}
}

// B64 is base64url without padding.
func B64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// JWKForRSA is the JWK (RS256, sig) of pub.
func JWKForRSA(kid string, pub *rsa.PublicKey) string {
	return `{"kty":"RSA","use":"sig","alg":"RS256","kid":"` + kid + `","n":"` + B64(pub.N.Bytes()) + `","e":"AQAB"}`
}

// JWKForEC is the JWK (P-256, sig) of pub.
func JWKForEC(kid string, pub *ecdsa.PublicKey) string {
	return `{"kty":"EC","crv":"P-256","use":"sig","kid":"` + kid + `","x":"` + B64(pub.X.FillBytes(make([]byte, 32))) +
		`","y":"` + B64(pub.Y.FillBytes(make([]byte, 32))) + `"}`
}

// Claims are raw JSON values by claim name.
type Claims map[string]string

// GoodClaims are valid ID token claims for Issuer, ClientID and Nonce at Now.
func GoodClaims() Claims {
	return Claims{
		"iss":   strconv.Quote(Issuer),
		"sub":   `"user-42"`,
		"aud":   strconv.Quote(ClientID),
		"exp":   strconv.FormatInt(Now.Unix()+300, 10),
		"iat":   strconv.FormatInt(Now.Unix()-5, 10),
		"nonce": strconv.Quote(Nonce),
		"name":  `"Ada Lovelace"`,
		"email": `"ada@example.test"`,
	}
}

// With returns a copy of c with claims set (name, raw JSON value pairs); an
// empty value deletes the claim.
func (c Claims) With(kv ...string) Claims {
	out := Claims{}
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

// JSON is the claims as a JSON object, names sorted.
func (c Claims) JSON() string {
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

// SignJWT makes a compact JWS; key is *rsa.PrivateKey (RS256),
// *ecdsa.PrivateKey (ES256), []byte (HS256 secret) or nil (no signature).
func SignJWT(header string, claims string, key interface{}) string {
	input := B64([]byte(header)) + "." + B64([]byte(claims))
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
	return input + "." + B64(sig)
}

// RSHeader is a JWS header for RS256 with kid.
func RSHeader(kid string) string { return `{"alg":"RS256","typ":"JWT","kid":"` + kid + `"}` }
