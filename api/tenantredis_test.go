//go:build !tinygo

package api

import (
	"strings"
	"testing"
)

// A tenant's own Redis: only an installation admin sets it, the URL reaches
// only the deployer (a Kubernetes Secret), never the KV store or an answer;
// each KV-bound app gets a database of its own, and a full Redis is a
// refusal that says what to do.
func TestTenantRedis(t *testing.T) {
	h := newHarness(t)
	h.srv.Config.AppKV, h.srv.Config.AppRedisDBs = true, 16
	T := "/api/v1/tenants/acme"
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	owner := h.user("olivia")
	h.must(201, admin, "POST", T+"/members", `{"user":"olivia","role":"owner"}`)
	for _, name := range []string{"web", "api", "jobs"} {
		h.must(201, admin, "POST", T+"/apps", `{"name":"`+name+`","kv":true}`)
	}
	// Before: the tenant is on the shared Redis.
	h.must(201, admin, "POST", T+"/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1"}`)
	if v := h.must(200, owner, "GET", T+"/redis", ""); v.get("mode").String() != "shared" || v.get("database").Int() != 1 {
		t.Errorf("shared view: %s", v.body)
	}

	const pw = "tenant-redis-pass-never-stored"
	url := "rediss://:" + pw + "@acme-cache.redis.cache.windows.net:6380"
	if r := h.do(owner, "PUT", T+"/redis", `{"url":"`+url+`"}`); r.status != 403 {
		t.Errorf("an owner set the tenant's Redis: %d %s", r.status, r.body)
	}
	for body, field := range map[string]string{
		`{"url":"http://cache:6379"}`:          "url",
		`{"url":"redis://cache:6379/3"}`:       "url",
		`{"url":"redis://"}`:                   "url",
		`{"url":"` + url + `","databases":65}`: "databases",
		`{"url":"` + url + `","databases":-1}`: "databases",
		`{"databases":2}`:                      "url",
		`{"url":"redis://:a b@cache:6379"}`:    "url",
	} {
		if r := h.do(admin, "PUT", T+"/redis", body); r.status != 400 || r.get("field").String() != field {
			t.Errorf("PUT %s: %d %s, want 400 naming %s", body, r.status, r.body, field)
		}
	}
	set := h.must(201, admin, "PUT", T+"/redis", `{"url":"`+url+`","databases":2}`)
	if set.get("mode").String() != "own" || set.get("databases").Int() != 2 || h.dep.redisURL != url {
		t.Errorf("set: %s (deployer got %q)", set.body, h.dep.redisURL)
	}

	h.dep.applied = nil
	h.must(201, admin, "POST", T+"/apps/web/deployments", `{"image":"ghcr.io/acme/web:v2"}`)
	h.must(201, admin, "POST", T+"/apps/api/deployments", `{"image":"ghcr.io/acme/api:v1"}`)
	got := strings.Join(h.dep.applied, "\n")
	if !strings.Contains(got, "acme/web ghcr.io/acme/web:v2 kv own 0") || !strings.Contains(got, "acme/api ghcr.io/acme/api:v1 kv own 1") {
		t.Errorf("applies: %s", got)
	}
	full := h.do(admin, "POST", T+"/apps/jobs/deployments", `{"image":"ghcr.io/acme/jobs:v1"}`)
	if full.status != 422 || !strings.Contains(full.get("detail").String(), "2 databases") || !strings.Contains(full.get("detail").String(), "PUT /api/v1/tenants/acme/redis") {
		t.Errorf("third KV app on a 2-database Redis: %d %s", full.status, full.body)
	}
	v := h.must(200, owner, "GET", T+"/redis", "")
	if v.get("apps.#").Int() != 2 || v.get("apps.0.app").String() != "web" || v.get("apps.1.database").Int() != 1 {
		t.Errorf("own view: %s", v.body)
	}
	for _, body := range []string{set.body, v.body, full.body} {
		if strings.Contains(body, pw) || strings.Contains(body, "acme-cache") {
			t.Errorf("an answer shows the tenant's Redis: %s", body)
		}
	}
	for _, k := range h.mem.Keys() {
		if b, _ := h.mem.Get(k); strings.Contains(string(b), pw) || strings.Contains(string(b), "acme-cache") {
			t.Errorf("KV key %s holds the tenant's Redis URL: %s", k, b)
		}
	}

	// Back to the shared Redis: the app finds the tenant's database there.
	h.must(403, owner, "DELETE", T+"/redis", "")
	h.must(204, admin, "DELETE", T+"/redis", "")
	h.must(404, admin, "DELETE", T+"/redis", "")
	h.dep.applied = nil
	h.must(201, admin, "POST", T+"/apps/jobs/deployments", `{"image":"ghcr.io/acme/jobs:v1"}`)
	if got := strings.Join(h.dep.applied, "\n"); !strings.Contains(got, "kv shared 1") {
		t.Errorf("after the tenant's Redis was removed: %s", got)
	}
}

// The shared app Redis holds one database per tenant; the tenant past its
// last database is refused with the way out (its own Redis), and once an
// admin gives it one, its KV apps deploy.
func TestSharedRedisFullOffersTheTenantsOwn(t *testing.T) {
	h := newHarness(t)
	h.srv.Config.AppKV, h.srv.Config.AppRedisDBs = true, 3 // databases 1 and 2 for tenants
	for _, slug := range []string{"t1", "t2", "t3"} {
		T := "/api/v1/tenants/" + slug
		h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"`+slug+`"}`)
		h.must(201, admin, "POST", T+"/apps", `{"name":"web","kv":true}`)
		r := h.do(admin, "POST", T+"/apps/web/deployments", `{"image":"ghcr.io/x/web:v1"}`)
		if slug != "t3" && r.status != 201 {
			t.Fatalf("%s: %d %s", slug, r.status, r.body)
		}
		if slug == "t3" && (r.status != 422 || !strings.Contains(r.get("detail").String(), "PUT /api/v1/tenants/t3/redis")) {
			t.Fatalf("third tenant on a 3-database shared Redis: %d %s", r.status, r.body)
		}
	}
	h.must(201, admin, "PUT", "/api/v1/tenants/t3/redis", `{"url":"redis://:pw@t3-cache:6379"}`)
	h.must(201, admin, "POST", "/api/v1/tenants/t3/apps/web/deployments", `{"image":"ghcr.io/x/web:v1"}`)
}
