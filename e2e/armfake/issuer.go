package armfake

// Issuer is a minimal OpenID issuer for tests that have no cluster: an
// ES256 key, its discovery document and JWKS (served at the paths
// kube-apiserver uses), and service-account-like assertions signed with
// it. With a cluster, use the kube-apiserver's own issuer instead
// (FederatedCredential.DiscoveryURL = the API server URL).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer signs assertions as Name. Serve it (httptest.NewServer) and put
// its URL in FederatedCredential.DiscoveryURL.
type Issuer struct {
	Name string // the iss claim, e.g. "https://kubernetes.default.svc.cluster.local"
	key  *ecdsa.PrivateKey
}

// NewIssuer makes an issuer with a fresh P-256 key.
func NewIssuer(name string) (*Issuer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Issuer{Name: name, key: k}, nil
}

func (is *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		json.NewEncoder(w).Encode(map[string]any{"issuer": is.Name, "jwks_uri": is.Name + "/openid/v1/jwks",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"ES256"}})
	case "/openid/v1/jwks":
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: "es256-1", Algorithm: "ES256", Use: "sig"}}})
	default:
		http.NotFound(w, r)
	}
}

// Assertion returns a token like a TokenRequest answer: sub, aud, iat,
// nbf, exp (now+ttl).
func (is *Issuer) Assertion(subject, audience string, now time.Time, ttl time.Duration) (string, error) {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: is.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "es256-1"))
	if err != nil {
		return "", err
	}
	return jwt.Signed(sig).Claims(jwt.Claims{Issuer: is.Name, Subject: subject, Audience: jwt.Audience{audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(ttl))}).Serialize()
}
