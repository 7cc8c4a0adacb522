//go:build !tinygo

package oidc

// Fuzz targets of the ID token verifier and the JWKS parser. Native only
// (testing.F).

import (
	"strings"
	"testing"

	"github.com/spinport/spinport/oidc/oidctest"
)

func FuzzVerifyIDToken(f *testing.F) {
	f.Add(oidctest.SignJWT(oidctest.RSHeader("rsa-1"), oidctest.GoodClaims().JSON(), oidctest.RSAKey(0)))
	f.Add(oidctest.SignJWT(`{"alg":"ES256","kid":"ec-1"}`, oidctest.GoodClaims().JSON(), oidctest.ECKey()))
	f.Add(oidctest.SignJWT(`{"alg":"none"}`, oidctest.GoodClaims().JSON(), nil))
	f.Add("e30.e30.")
	keys, err := parseJWKS([]byte(`{"keys":[` + oidctest.JWKForRSA("rsa-1", &oidctest.RSAKey(0).PublicKey) + `,` + oidctest.JWKForEC("ec-1", &oidctest.ECKey().PublicKey) + `]}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		_, _ = verifyIDToken(tok, keys, jwtCheck())
	})
}

func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[` + oidctest.JWKForRSA("rsa-1", &oidctest.RSAKey(0).PublicKey) + `,` + oidctest.JWKForEC("ec-1", &oidctest.ECKey().PublicKey) + `]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := parseJWKS(b)
		if err == nil {
			_, _ = verifyIDToken("eyJhbGciOiJSUzI1NiJ9.e30.AAAA", keys, jwtCheck())
			_, _ = verifyIDToken("eyJhbGciOiJFUzI1NiJ9.e30."+strings.Repeat("A", 86), keys, jwtCheck())
		}
	})
}
