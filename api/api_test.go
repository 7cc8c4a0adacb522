//go:build !tinygo

package api

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
)

func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range routes {
		if rt.handle == nil {
			continue
		}
		parts := strings.Split(rt.path, "/")
		for i, s := range parts {
			if strings.HasPrefix(s, ":") {
				parts[i] = "{" + s[1:] + "}"
			}
		}
		served[rt.method+" "+strings.Join(parts, "/")] = true
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("openapi.json out of date:\n  routes missing from it: %v\n  documented but not served: %v", missing, extra)
	}
	h := newHarness(t)
	if r := h.do(caller{}, "GET", "/api/v1/openapi.json", ""); r.status != 200 || r.get("openapi").String() != "3.0.3" {
		t.Errorf("GET openapi.json: %d %.80s", r.status, r.body)
	}
}

func TestTenantAppDeployFlow(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	h.must(201, alice, "POST", "/api/v1/tenants", `{"slug":"acme","displayName":"Acme"}`)
	me := h.must(200, alice, "GET", "/api/v1/me", "")
	if me.get("tenants.0").String() != "acme" || me.get("csrfToken").String() != alice.csrf {
		t.Errorf("me: %s", me.body)
	}
	app := h.must(201, alice, "POST", "/api/v1/tenants/acme/apps", `{"name":"web","replicas":2,"domains":["www.acme.test"]}`)
	if app.get("defaultHost").String() != "web-acme.apps.example.test" || app.get("currentRevision").Type != 0 {
		t.Errorf("app: %s", app.body)
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	d := h.must(201, alice, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1@`+digest+`","gitRef":"refs/tags/v1","gitSha":"abcdef1"}`)
	if d.get("number").Int() != 1 || d.get("state").String() != "applied" || d.get("source").String() != "portal" || d.get("digest").String() != digest {
		t.Errorf("deploy: %s", d.body)
	}
	again := h.must(200, alice, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1@`+digest+`"}`)
	if again.get("number").Int() != 1 {
		t.Errorf("same digest made a new revision: %s", again.body)
	}
	h.must(201, alice, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web:v2"}`)
	// A variable change makes a config revision with the current image.
	h.must(201, alice, "PUT", "/api/v1/tenants/acme/apps/web/variables/greeting", `{"value":"hello"}`)
	revs := h.must(200, alice, "GET", "/api/v1/tenants/acme/apps/web/revisions", "")
	if n := revs.get("items.#").Int(); n != 3 || revs.get("items.0.cause").String() != "config" || revs.get("items.0.image").String() != "ghcr.io/acme/web:v2" {
		t.Errorf("revisions: %s", revs.body)
	}
	rb := h.must(201, alice, "POST", "/api/v1/tenants/acme/apps/web/rollback", `{"revision":1}`)
	if rb.get("rollbackOf").Int() != 1 || rb.get("number").Int() != 4 || !strings.Contains(rb.get("image").String(), "v1@") {
		t.Errorf("rollback: %s", rb.body)
	}
	got := h.must(200, alice, "GET", "/api/v1/tenants/acme/apps/web", "")
	if got.get("currentRevision").Int() != 4 {
		t.Errorf("current revision: %s", got.body)
	}
	one := h.must(200, alice, "GET", "/api/v1/tenants/acme/apps/web/revisions/3", "")
	if one.get("variables.0.name").String() != "greeting" {
		t.Errorf("revision 3: %s", one.body)
	}
	audit := h.must(200, alice, "GET", "/api/v1/tenants/acme/audit", "")
	actions := []string{}
	for _, a := range audit.get("items.#.action").Array() {
		actions = append(actions, a.String())
	}
	want := "rollback deploy.config variable.set deploy deploy app.create tenant.create"
	if strings.Join(actions, " ") != want {
		t.Errorf("audit actions %v, want %s", actions, want)
	}
	h.must(204, alice, "DELETE", "/api/v1/tenants/acme/apps/web", "")
	h.must(404, alice, "GET", "/api/v1/tenants/acme/apps/web", "")
	h.must(204, alice, "DELETE", "/api/v1/tenants/acme", "")
	if h.dep.applied[0] != "tenant acme" || h.dep.applied[len(h.dep.applied)-1] != "delete tenant acme" {
		t.Errorf("deployer saw %v", h.dep.applied)
	}
}

func TestSecretsNeverStoredOrShown(t *testing.T) {
	h := newHarness(t)
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`)
	const secret = "s3cr3t-value-never-in-kv"
	v := h.must(201, admin, "PUT", "/api/v1/tenants/acme/apps/web/variables/db_password", `{"value":"`+secret+`","secret":true}`)
	list := h.must(200, admin, "GET", "/api/v1/tenants/acme/apps/web/variables", "")
	tok := h.must(201, admin, "POST", "/api/v1/tenants/acme/tokens", `{"name":"ci","scopes":["deploy"]}`)
	tokenSecret := tok.get("secret").String()
	if !strings.HasPrefix(tokenSecret, "spt_") {
		t.Fatalf("token: %s", tok.body)
	}
	tokens := h.must(200, admin, "GET", "/api/v1/tenants/acme/tokens", "")
	for _, body := range []string{v.body, list.body, tokens.body} {
		if strings.Contains(body, secret) || strings.Contains(body, tokenSecret[21:]) {
			t.Errorf("secret in response: %s", body)
		}
	}
	if h.dep.secrets["acme/web/db_password"] != secret {
		t.Errorf("secret did not reach the deployer")
	}
	for _, k := range h.mem.Keys() {
		val, _ := h.mem.Get(k)
		if strings.Contains(string(val), secret) || strings.Contains(string(val), tokenSecret[21:]) || strings.Contains(k, tokenSecret[21:]) {
			t.Errorf("KV key %s holds a secret in plain text", k)
		}
	}
	// The token works, and stops working once revoked.
	ci := caller{bearer: tokenSecret}
	h.must(201, ci, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1","source":"ci"}`)
	h.must(204, admin, "DELETE", "/api/v1/tenants/acme/tokens/"+tok.get("token.id").String(), "")
	h.must(401, ci, "GET", "/api/v1/tenants/acme/apps", "")
}

func TestValidationMessages(t *testing.T) {
	h := newHarness(t)
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`)
	cases := []struct {
		method, path, body string
		status             int
		field, detail      string
	}{
		{"POST", "/api/v1/tenants", `{"slug":"Bad_Name"}`, 400, "slug", "lowercase"},
		{"POST", "/api/v1/tenants", `{"slug":"a-very-long-tenant-name-x"}`, 400, "slug", "1-20"},
		{"POST", "/api/v1/tenants", `{"slug":"ok","colour":"red"}`, 400, "colour", "unknown field"},
		{"POST", "/api/v1/tenants", `{"slug":`, 400, "", "not valid JSON"},
		{"POST", "/api/v1/tenants", `[1]`, 400, "", "JSON object"},
		{"POST", "/api/v1/tenants", `{"slug":"acme"}`, 409, "", "already exists"},
		{"POST", "/api/v1/tenants/acme/apps", `{"name":"web2","replicas":0}`, 400, "replicas", "at least 1"},
		{"POST", "/api/v1/tenants/acme/apps", `{"name":"web2","replicas":1,"autoscaling":{"minReplicas":1,"maxReplicas":2}}`, 400, "replicas", "not both"},
		{"POST", "/api/v1/tenants/acme/apps", `{"name":"web2","replicas":"two"}`, 400, "replicas", "integer"},
		{"POST", "/api/v1/tenants/acme/apps", `{"name":"web2","domains":["x.apps.example.test"]}`, 400, "domains", "base domain"},
		{"POST", "/api/v1/tenants/acme/apps", `{"name":"web2","domains":["https://x.com"]}`, 400, "domains", "host name"},
		{"POST", "/api/v1/tenants/acme/apps", `{"name":"web2","replicas":9}`, 403, "", "maxReplicasPerApp"},
		{"POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"nginx:latest"}`, 400, "image", "registry"},
		{"POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web"}`, 400, "image", "tag or a digest"},
		{"POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web@sha256:1234"}`, 400, "image", "digest"},
		{"POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/Acme/web:v1"}`, 400, "image", "repository"},
		{"POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1","source":"cron"}`, 400, "source", "portal, api or ci"},
		{"PUT", "/api/v1/tenants/acme/apps/web/variables/Bad-Name", `{"value":"x"}`, 400, "name", "SPIN_VARIABLE_"},
		{"PUT", "/api/v1/tenants/acme/apps/web/variables/ok", `{}`, 400, "value", "required"},
		{"POST", "/api/v1/tenants/acme/apps/web/rollback", `{"revision":99}`, 404, "revision", "no revision 99"},
		{"GET", "/api/v1/tenants/acme/apps?limit=0", ``, 400, "limit", "1 to 200"},
		{"GET", "/api/v1/tenants/acme/apps?cursor=zz", ``, 400, "cursor", "cursor"},
		{"GET", "/api/v1/tenants/acme/apps/web/revisions/x", ``, 400, "revision", "positive"},
		{"POST", "/api/v1/tenants/acme/tokens", `{"name":"x","scopes":["root"]}`, 400, "scopes", "read, deploy or manage"},
		{"GET", "/api/v1/nope", ``, 404, "", "openapi.json"},
	}
	for _, c := range cases {
		r := h.do(admin, c.method, c.path, c.body)
		if r.status != c.status || r.get("field").String() != c.field || !strings.Contains(r.get("detail").String(), c.detail) {
			t.Errorf("%s %s %s: got %d %s; want %d field=%q detail~%q", c.method, c.path, c.body, r.status, r.body, c.status, c.field, c.detail)
		}
		if r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: content type %q", c.method, c.path, r.header.Get("Content-Type"))
		}
	}
	big := `{"slug":"x","displayName":"` + strings.Repeat("a", 70<<10) + `"}`
	if r := h.do(admin, "POST", "/api/v1/tenants", big); r.status != 413 {
		t.Errorf("big body: %d", r.status)
	}
	if r := h.do(caller{}, "GET", "/api/v1/me", ""); r.status != 401 || !strings.Contains(r.get("detail").String(), "Bearer") {
		t.Errorf("anonymous: %d %s", r.status, r.body)
	}
	if r := h.do(caller{bearer: "spt_nope"}, "GET", "/api/v1/me", ""); r.status != 401 {
		t.Errorf("bad token: %d", r.status)
	}
}

func TestRegistryAllowlist(t *testing.T) {
	h := newHarness(t)
	h.srv.Config.RegistryAllowlist = ParseAllowlist("ghcr.io/acme, myacr.azurecr.io")
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`)
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1"}`)
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"myacr.azurecr.io/x/y:v1"}`)
	r := h.must(403, admin, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/evil/web:v1"}`)
	if !strings.Contains(r.get("detail").String(), "ghcr.io/acme, myacr.azurecr.io") {
		t.Errorf("allow-list message: %s", r.body)
	}
}

func TestQuotaNamedInError(t *testing.T) {
	h := newHarness(t)
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme","quotas":{"maxApps":2,"maxReplicasPerApp":3,"maxTotalReplicas":4}}`)
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"a","replicas":3}`)
	r := h.must(403, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"b","replicas":2}`)
	if r.get("quota").String() != "maxTotalReplicas" {
		t.Errorf("quota: %s", r.body)
	}
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"b","replicas":1}`)
	if r := h.must(403, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"c"}`); r.get("quota").String() != "maxApps" {
		t.Errorf("quota: %s", r.body)
	}
	if r := h.must(403, admin, "PATCH", "/api/v1/tenants/acme/apps/b", `{"replicas":2}`); r.get("quota").String() != "maxTotalReplicas" {
		t.Errorf("scale quota: %s", r.body)
	}
	usage := h.must(200, admin, "GET", "/api/v1/tenants/acme", "")
	if usage.get("usage.apps").Int() != 2 || usage.get("usage.replicas").Int() != 4 {
		t.Errorf("usage: %s", usage.body)
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	first := h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`, "Idempotency-Key", "k1")
	again := h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`, "Idempotency-Key", "k1")
	if again.header.Get("Idempotent-Replayed") != "true" || again.body != first.body {
		t.Errorf("replay: %v %s", again.header, again.body)
	}
	conflictAnswer := h.must(409, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`, "Idempotency-Key", "k2")
	replayed := h.must(409, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`, "Idempotency-Key", "k2")
	if replayed.body != conflictAnswer.body || replayed.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("replayed problem: %v %s", replayed.header, replayed.body)
	}
	d1 := h.must(201, admin, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/a/b:v1"}`, "Idempotency-Key", "deploy-1")
	d2 := h.must(201, admin, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/a/b:v1"}`, "Idempotency-Key", "deploy-1")
	if d1.get("number").Int() != d2.get("number").Int() {
		t.Errorf("idempotent deploy made two revisions")
	}
}

func TestCSRFRequiredForCookieWrites(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	noCSRF := caller{cookie: alice.cookie}
	r := h.do(noCSRF, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	if r.status != 403 || !strings.Contains(r.get("detail").String(), "X-CSRF-Token") {
		t.Errorf("write without CSRF: %d %s", r.status, r.body)
	}
	h.must(200, noCSRF, "GET", "/api/v1/me", "")
	wrong := caller{cookie: alice.cookie, csrf: "wrong"}
	h.must(403, wrong, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(201, alice, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
}

func TestAdminSignInSetsSession(t *testing.T) {
	h := newHarness(t)
	h.must(401, caller{}, "POST", "/auth/session", `{"token":"wrong"}`)
	r := h.must(200, caller{}, "POST", "/auth/session", `{"token":"`+testAdminToken+`"}`)
	var cookie string
	for _, c := range strings.Split(r.header.Get("Set-Cookie"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(c), sessionCookie+"="); ok {
			cookie = v
		}
	}
	sc := r.header.Get("Set-Cookie")
	if cookie == "" || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") || strings.Contains(sc, "Secure") {
		t.Fatalf("cookie: %s", sc)
	}
	sess := caller{cookie: cookie, csrf: r.get("csrfToken").String()}
	if me := h.must(200, sess, "GET", "/api/v1/me", ""); !me.get("admin").Bool() {
		t.Errorf("me: %s", me.body)
	}
	h.must(204, sess, "POST", "/auth/logout", "")
	h.must(401, sess, "GET", "/api/v1/me", "")
}

// TestConcurrentAPIWrites runs 50 app creations and 50 deploys at once
// through the HTTP API (native; the same runs against real Redis through
// the .wasm in e2e/).
func TestConcurrentAPIWrites(t *testing.T) {
	h := newHarness(t)
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme","quotas":{"maxApps":100,"maxReplicasPerApp":5,"maxTotalReplicas":500}}`)
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			if r := h.do(admin, "POST", "/api/v1/tenants/acme/apps", fmt.Sprintf(`{"name":"app-%d"}`, i)); r.status != 201 {
				t.Errorf("create %d: %d %s", i, r.status, r.body)
			}
		}(i)
		go func(i int) {
			defer wg.Done()
			if r := h.do(admin, "POST", "/api/v1/tenants/acme/apps/web/deployments", fmt.Sprintf(`{"image":"ghcr.io/a/web:v%d"}`, i)); r.status != 201 {
				t.Errorf("deploy %d: %d %s", i, r.status, r.body)
			}
		}(i)
	}
	wg.Wait()
	apps := h.must(200, admin, "GET", "/api/v1/tenants/acme/apps?limit=200", "")
	if n := apps.get("items.#").Int(); n != 51 {
		t.Errorf("%d apps listed, want 51", n)
	}
	revs := h.must(200, admin, "GET", "/api/v1/tenants/acme/apps/web/revisions?limit=200", "")
	seen := map[string]bool{}
	for _, im := range revs.get("items.#.image").Array() {
		seen[im.String()] = true
	}
	if len(seen) != 50 || revs.get("items.#").Int() != 50 {
		t.Errorf("%d revisions with %d distinct images, want 50/50", revs.get("items.#").Int(), len(seen))
	}
}
