package armfake

// The Entra fake against a self-made ES256 issuer in-process (no cluster):
// the assertion checks that real Entra ID applies to a federated
// credential, one mismatch at a time.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

type issuer struct {
	srv  *httptest.Server
	key  any
	alg  jose.SignatureAlgorithm
	kid  string
	name string // iss
}

func newIssuer(t *testing.T, alg jose.SignatureAlgorithm) *issuer {
	t.Helper()
	is := &issuer{alg: alg, kid: "k1"}
	var pub any
	switch alg {
	case jose.ES256:
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		is.key, pub = k, &k.PublicKey
	case jose.RS256:
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		is.key, pub = k, &k.PublicKey
	}
	mux := http.NewServeMux()
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	// The issuer name is not the URL it is served at (like a cluster's
	// https://kubernetes.default.svc): Entra fetches from DiscoveryURL.
	is.name = "https://kubernetes.default.svc.cluster.local"
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.name, "jwks_uri": "https://10.0.0.1:6443/openid/v1/jwks"})
	})
	mux.HandleFunc("/openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: is.kid, Algorithm: string(alg), Use: "sig"}}})
	})
	return is
}

func (is *issuer) sign(t *testing.T, c jwt.Claims) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: is.alg, Key: is.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", is.kid))
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const sub = "system:serviceaccount:spinport-system:spinport"

func claims(is *issuer, now time.Time) jwt.Claims {
	return jwt.Claims{Issuer: is.name, Subject: sub, Audience: jwt.Audience{FederatedAudience},
		Expiry: jwt.NewNumericDate(now.Add(10 * time.Minute)), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), IssuedAt: jwt.NewNumericDate(now)}
}

func post(t *testing.T, url string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(url, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestAzureEntraFakeFederatedCredential(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256} {
		t.Run(string(alg), func(t *testing.T) {
			is := newIssuer(t, alg)
			other := newIssuer(t, alg) // same issuer name, different key
			e := NewEntra("tenant-1", is.srv.Client())
			e.AddFederated("app-1", FederatedCredential{Issuer: is.name, Subject: sub, DiscoveryURL: is.srv.URL})
			srv := httptest.NewServer(e)
			defer srv.Close()
			tokenURL := srv.URL + "/tenant-1/oauth2/v2.0/token"
			now := time.Now()
			form := func(assertion string) url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "client_id": {"app-1"}, "scope": {ARMScope},
					"client_assertion_type": {AssertionType}, "client_assertion": {assertion}}
			}

			status, m := post(t, tokenURL, form(is.sign(t, claims(is, now))))
			if status != 200 || m["token_type"] != "Bearer" || m["expires_in"].(float64) != 3600 {
				t.Fatalf("good assertion: %d %v", status, m)
			}
			if tok, _ := m["access_token"].(string); !e.Valid(tok, now) || e.Valid(tok, now.Add(2*time.Hour)) || e.Valid("forged", now) {
				t.Error("Valid does not follow what was issued")
			}

			bad := map[string]string{}
			c := claims(is, now)
			c.Audience = jwt.Audience{"https://kubernetes.default.svc"}
			bad["AADSTS700212"] = is.sign(t, c)
			c = claims(is, now)
			c.Subject = "system:serviceaccount:default:other"
			bad["AADSTS700213"] = is.sign(t, c)
			c = claims(is, now)
			c.Issuer = "https://evil.example"
			bad["AADSTS700211"] = is.sign(t, c)
			c = claims(is, now.Add(-time.Hour))
			bad["AADSTS700024"] = is.sign(t, c)
			bad["AADSTS700027"] = other.sign(t, claims(is, now))
			for code, assertion := range bad {
				status, m := post(t, tokenURL, form(assertion))
				desc, _ := m["error_description"].(string)
				if status != 401 || m["error"] != "invalid_client" || !strings.HasPrefix(desc, code+":") {
					t.Errorf("%s: %d %v", code, status, m)
				}
				if strings.Contains(desc, assertion) {
					t.Errorf("%s: the assertion is echoed", code)
				}
			}

			f := form(is.sign(t, claims(is, now)))
			f.Set("scope", "https://graph.microsoft.com/.default")
			if status, m := post(t, tokenURL, f); status != 400 || m["error"] != "invalid_scope" {
				t.Errorf("other scope: %d %v", status, m)
			}
			f = form(is.sign(t, claims(is, now)))
			f.Set("client_id", "app-2")
			if status, m := post(t, tokenURL, f); status != 400 || m["error"] != "unauthorized_client" {
				t.Errorf("unknown app: %d %v", status, m)
			}
			if status, m := post(t, srv.URL+"/tenant-2/oauth2/v2.0/token", form(is.sign(t, claims(is, now)))); status != 400 || !strings.HasPrefix(m["error_description"].(string), "AADSTS90002") {
				t.Errorf("other tenant: %d %v", status, m)
			}
		})
	}
}

func TestAzureEntraFakeClientSecret(t *testing.T) {
	e := NewEntra("tenant-1", nil)
	e.AddSecret("app-s", "s3cret")
	srv := httptest.NewServer(e)
	defer srv.Close()
	u := srv.URL + "/tenant-1/oauth2/v2.0/token"
	f := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app-s"}, "scope": {ARMScope}, "client_secret": {"s3cret"}}
	if status, m := post(t, u, f); status != 200 || m["access_token"] == "" {
		t.Errorf("secret: %d %v", status, m)
	}
	f.Set("client_secret", "wrong")
	if status, m := post(t, u, f); status != 401 || m["error"] != "invalid_client" || !strings.HasPrefix(m["error_description"].(string), "AADSTS7000215") {
		t.Errorf("wrong secret: %d %v", status, m)
	}
	f.Del("client_secret")
	if status, m := post(t, u, f); status != 401 || !strings.HasPrefix(m["error_description"].(string), "AADSTS7000216") {
		t.Errorf("no credential: %d %v", status, m)
	}
}
