package e2e

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ciIssuer is a loopback OIDC issuer that mints GitHub Actions- and
// GitLab-shaped ID tokens: real RS256 signatures, a served discovery
// document and JWKS, as token.actions.githubusercontent.com serves them.
type ciIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	URL string
}

func startCIIssuer(t *testing.T) *ciIssuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ci := &ciIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": ci.URL, "jwks_uri": ci.URL + "/.well-known/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"}, "response_types_supported": []string{"id_token"}})
	})
	mux.HandleFunc("/.well-known/jwks", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]any{{"kty": "RSA", "kid": "ci-1", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	ci.srv = httptest.NewTLSServer(mux)
	t.Cleanup(ci.srv.Close)
	ci.URL = ci.srv.URL
	return ci
}

// token signs claims (iss, iat, exp and a fresh jti added unless given).
func (ci *ciIssuer) token(t *testing.T, claims map[string]any) string {
	now := time.Now().Unix()
	full := map[string]any{"iss": ci.URL, "iat": now, "nbf": now, "exp": now + 300, "jti": randomSuffix() + randomSuffix()}
	for k, v := range claims {
		full[k] = v
	}
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": "ci-1", "typ": "JWT"})
	p, _ := json.Marshal(full)
	enc := base64.RawURLEncoding.EncodeToString
	signing := enc(h) + "." + enc(p)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ci.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc(sig)
}

// CI without stored secrets, through the real .wasm on the loopback
// cluster: a trust policy on an app lets a GitHub Actions job whose OIDC
// token matches (numeric ids, ref pattern, workflow) deploy it with a
// short-lived token; everything else is refused naming the claim.
func TestClusterCIExchange(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	iss := startCIIssuer(t)
	caFile := caBundle(t, k.CAFile, iss.srv.Certificate())
	const aud = "https://spinport.e2e.test"
	h := startClusterHost(t, "spinport", k.URL, caFile, k.spinportToken(t, suffix), map[string]string{
		"ci_issuer_1": iss.URL, "ci_issuer_2": iss.URL, "ci_audience": aud, "ci_token_ttl": "10m"})
	api := h.admin(t)
	tenant, other := "e2e-ci-"+suffix, "e2e-ci2-"+suffix
	for _, tn := range []string{tenant, other} {
		ns := "spinport-" + tn
		t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
		api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tn})
		api.must(201, "POST", "/api/v1/tenants/"+tn+"/apps", map[string]any{"name": "web"})
	}
	base := "/api/v1/tenants/" + tenant + "/apps/web"
	// Registered before the repository's first run: only ids and patterns.
	tp := api.must(201, "POST", base+"/trust-policies", map[string]any{"provider": "github", "issuer": iss.URL,
		"repositoryId": "4242", "repositoryOwnerId": "77", "repository": "acme/web", "refs": []string{"refs/tags/v*"},
		"workflow": "acme/web/.github/workflows/deploy.yml@"})
	good := map[string]any{"aud": aud, "sub": "repo:acme/web:ref:refs/tags/v1.0.0", "repository": "acme/web", "repository_id": "4242",
		"repository_owner_id": "77", "ref": "refs/tags/v1.0.0", "ref_type": "tag", "sha": "0123456789abcdef0123456789abcdef01234567",
		"job_workflow_ref": "acme/web/.github/workflows/deploy.yml@refs/tags/v1.0.0", "run_id": "9001"}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	exchange := func(tok, tn string) *apiResult {
		return h.client(t, "").do("POST", "/api/v1/ci/token", map[string]any{"token": tok, "tenant": tn, "app": "web"})
	}

	goodTok := iss.token(t, good)
	r := exchange(goodTok, tenant)
	if r.Status != 201 || !strings.HasPrefix(r.str("token"), "spt_") {
		t.Fatalf("exchange: %s", r)
	}
	ciAPI := h.client(t, r.str("token"))
	dep := ciAPI.must(201, "POST", base+"/deployments", map[string]any{"image": helloImage + "@" + digestOf("ci "+suffix)})
	if dep.str("source") != "ci" || dep.str("gitRef") != "refs/tags/v1.0.0" || dep.str("gitSha") != good["sha"] {
		t.Errorf("the revision does not record the run: %s", dep)
	}
	ciAPI.must(200, "GET", base+"/status", nil) // it may read the status while waiting
	if r := ciAPI.do("POST", "/api/v1/tenants/"+tenant+"/apps", map[string]any{"name": "more"}); r.Status != 403 && r.Status != 404 {
		t.Errorf("the CI token did more than deploy its app: %s", r)
	}

	for _, c := range []struct {
		name, claim string
		tok         string
		tenant      string
	}{
		{"a replayed token", "jti", goodTok, tenant},
		{"another repository id", "repository_id", iss.token(t, with("repository_id", "4243")), tenant},
		{"a branch instead of a tag", "ref", iss.token(t, with("ref", "refs/heads/main")), tenant},
		{"another workflow", "job_workflow_ref", iss.token(t, with("job_workflow_ref", "acme/web/.github/workflows/evil.yml@refs/tags/v1.0.0")), tenant},
		{"another audience", "aud", iss.token(t, with("aud", "https://someone-else")), tenant},
		{"an expired token", "exp", iss.token(t, with("exp", time.Now().Unix()-600)), tenant},
		{"another tenant's app", "no trust policy", iss.token(t, good), other},
	} {
		if r := exchange(c.tok, c.tenant); r.Status != 403 || !strings.Contains(r.str("detail"), c.claim) {
			t.Errorf("%s: %s", c.name, r)
		}
	}
	// The revision records the run as the platform signed it.
	if revs := api.must(200, "GET", base+"/revisions", nil); !strings.Contains(string(revs.Body), `"ci":{"issuer":"`+iss.URL+`","repository":"acme/web","ref":"refs/tags/v1.0.0"`) ||
		!strings.Contains(string(revs.Body), `"run":"9001"`) {
		t.Errorf("revision CI record: %s", revs)
	}

	// GitLab CI: a project id, a bare ref name with its type, protected refs only.
	api.must(201, "POST", base+"/trust-policies", map[string]any{"provider": "gitlab", "issuer": iss.URL, "projectId": "123",
		"refs": []string{"refs/heads/main"}, "protectedOnly": true})
	gl := map[string]any{"aud": aud, "sub": "project_path:acme/web:ref_type:branch:ref:main", "project_id": "123", "project_path": "acme/web",
		"ref": "main", "ref_type": "branch", "ref_protected": "true", "ci_commit_sha": "89abcdef0123456789abcdef0123456789abcdef", "pipeline_id": "55"}
	if r := exchange(iss.token(t, gl), tenant); r.Status != 201 {
		t.Errorf("GitLab exchange: %s", r)
	}
	gl["ref_protected"] = "false"
	if r := exchange(iss.token(t, gl), tenant); r.Status != 403 || !strings.Contains(r.str("detail"), "ref_protected") {
		t.Errorf("GitLab unprotected ref: %s", r)
	}

	// The CLI does the same exchange in CI (spinportctl ci-token), then deploys.
	bin := buildCLI(t)
	cli := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append([]string{"SPINPORT_URL=" + h.URL, "HOME=" + t.TempDir()}, env...)
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	ciTok, err := cli([]string{"SPINPORT_OIDC_TOKEN=" + iss.token(t, good)}, "ci-token", tenant+"/web")
	if err != nil || !strings.HasPrefix(ciTok, "spt_") {
		t.Fatalf("spinportctl ci-token: %q %v", ciTok, err)
	}
	if out, err := cli([]string{"SPINPORT_TOKEN=" + ciTok}, "deploy", tenant+"/web", helloImage+"@"+digestOf("cli ci "+suffix)); err != nil {
		t.Errorf("spinportctl deploy with the exchanged token: %q %v", out, err)
	}
	// A token signed by a key the issuer does not publish.
	forged := strings.Split(iss.token(t, good), ".")
	other2 := startCIIssuer(t)
	forged[2] = strings.Split(other2.token(t, good), ".")[2]
	if r := exchange(strings.Join(forged, "."), tenant); r.Status != 403 || !strings.Contains(r.str("detail"), "signature") {
		t.Errorf("a forged signature: %s", r)
	}
	// The audit log shows the policy and the CI deploy; removing the
	// policy stops new exchanges.
	audit := api.must(200, "GET", "/api/v1/tenants/"+tenant+"/audit?limit=100", nil)
	for _, a := range []string{"trust.create", "ci.exchange", "deploy"} {
		if !strings.Contains(string(audit.Body), `"action":"`+a+`"`) {
			t.Errorf("audit lacks %s", a)
		}
	}
	api.must(204, "DELETE", base+"/trust-policies/"+tp.str("id"), nil)
	if r := exchange(iss.token(t, good), tenant); r.Status != 403 {
		t.Errorf("after the policy was removed: %s", r)
	}
}
