package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/spinport/spinport/spinhost"
)

// App KV stores in both modes, through the real .wasm on the loopback
// cluster with spinport's RBAC token (k8sproxy/rbac.yaml) and two real
// redis-servers:
//   - a tenant with its own Redis (URL set by an admin, kept only in the
//     Secret spinport-tenant-redis, read back by name under RBAC's
//     resourceNames): each KV app's runtime config points at its own
//     database of that Redis, and those URLs work and keep the apps apart;
//   - tenants on the shared app Redis (app_redis_databases = 3): the first
//     two get databases 1 and 2, the third a 422 that names the way out,
//     and after an admin gives it its own Redis its KV app deploys.
//
// kwok runs no pod, so the test connects to each runtime config's URL
// itself, which is what Spin's Redis KV provider would do in the pod.
func TestClusterTenantRedis(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	shared := startRedisServer(t)
	own := startRedisServer(t)
	const ownPass = "tenant-own-redis-pass"
	if err := own.Client.ConfigSet(context.Background(), "requirepass", ownPass).Err(); err != nil {
		t.Fatal(err)
	}
	ownURL := "redis://:" + ownPass + "@" + own.Addr
	token := k.spinportToken(t, suffix)
	h := startClusterHost(t, "spinport", k.URL, k.CAFile, token,
		map[string]string{"app_redis_url": "redis://" + shared.Addr, "app_redis_databases": "3"})
	api := h.admin(t)

	tenants := []string{"e2e-own-" + suffix, "e2e-sh1-" + suffix, "e2e-sh2-" + suffix, "e2e-sh3-" + suffix}
	for _, tn := range tenants {
		ns := "spinport-" + tn
		t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
		api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tn})
	}
	base := func(tn string) string { return "/api/v1/tenants/" + tn }
	deploy := func(tn, app string) *apiResult {
		api.must(201, "POST", base(tn)+"/apps", map[string]any{"name": app, "kv": true})
		return api.do("POST", base(tn)+"/apps/"+app+"/deployments", map[string]any{"image": helloImage + "@" + digestOf(tn+app)})
	}
	kvURL := func(tn, app string) string {
		sec := k.mustObject(t, corePath("spinport-"+tn, "secrets", app+"-runtime-config"))
		toml, _ := base64.StdEncoding.DecodeString(sec.s("data", "runtime-config.toml"))
		m := regexp.MustCompile(`(?m)^url = "([^"]*)"$`).FindSubmatch(toml)
		if m == nil {
			t.Fatalf("%s/%s runtime config has no KV url: %q", tn, app, toml)
		}
		return string(m[1])
	}

	// The tenant with its own Redis.
	ownT := tenants[0]
	set := api.must(201, "PUT", base(ownT)+"/redis", map[string]any{"url": ownURL, "databases": 2})
	for _, tn := range []string{"web", "api"} {
		if r := deploy(ownT, tn); r.Status != 201 {
			t.Fatalf("deploy %s: %s", tn, r)
		}
	}
	full := deploy(ownT, "jobs")
	if !full.isProblem(422, "", "2 databases") {
		t.Errorf("a third KV app on a 2-database Redis: %s", full)
	}
	webURL, apiURL := kvURL(ownT, "web"), kvURL(ownT, "api")
	if webURL != ownURL+"/0" || apiURL != ownURL+"/1" {
		t.Errorf("runtime configs point at %s and %s, want %s/0 and /1", webURL, apiURL, ownURL)
	}
	for app, u := range map[string]string{"web": webURL, "api": apiURL} {
		opt, err := redis.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		if err := c.Set(context.Background(), "owner", app, 0).Err(); err != nil {
			t.Errorf("%s's runtime config URL does not work: %v", app, err)
		}
		c.Close()
	}
	for db, want := range []string{"web", "api"} {
		opt, _ := redis.ParseURL(ownURL + "/" + string(rune('0'+db)))
		c := redis.NewClient(opt)
		if got, _ := c.Get(context.Background(), "owner").Result(); got != want {
			t.Errorf("database %d of the tenant's Redis holds %q, want only %s's key", db, got, want)
		}
		c.Close()
	}
	sec := k.mustObject(t, corePath("spinport-"+ownT, "secrets", "spinport-tenant-redis"))
	if u, _ := base64.StdEncoding.DecodeString(sec.s("data", "url")); string(u) != ownURL {
		t.Errorf("Secret spinport-tenant-redis holds %q", u)
	}
	view := api.must(200, "GET", base(ownT)+"/redis", nil)
	for _, r := range []*apiResult{set, view, full} {
		if strings.Contains(string(r.Body), ownPass) || strings.Contains(string(r.Body), own.Addr) {
			t.Errorf("an answer shows the tenant's Redis: %s", r)
		}
	}
	if apps, _ := view.get("apps").([]any); view.str("mode") != "own" || len(apps) != 2 {
		t.Errorf("GET redis: %s", view)
	}
	k.checkPodReferences(t, "spinport-"+ownT, "web")

	// The RBAC grant is by name: spinport's token reads that Secret and no other.
	get := func(name string) int {
		req, _ := http.NewRequest("GET", k.URL+corePath("spinport-"+ownT, "secrets", name), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := k.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if a, b := get("spinport-tenant-redis"), get("web-runtime-config"); a != 200 || b != 403 {
		t.Errorf("spinport's token: GET spinport-tenant-redis %d (want 200), web-runtime-config %d (want 403)", a, b)
	}

	// Shared Redis: databases 1 and 2, then a clear refusal.
	for i, tn := range tenants[1:3] {
		if r := deploy(tn, "web"); r.Status != 201 {
			t.Fatalf("deploy %s: %s", tn, r)
		}
		if got, want := kvURL(tn, "web"), "redis://"+shared.Addr+"/"+string(rune('1'+i)); got != want {
			t.Errorf("%s runtime config url %s, want %s", tn, got, want)
		}
	}
	sh3 := tenants[3]
	if r := deploy(sh3, "web"); !r.isProblem(422, "", "PUT /api/v1/tenants/"+sh3+"/redis") {
		t.Errorf("the third tenant on a 3-database shared Redis: %s", r)
	}
	api.must(201, "PUT", base(sh3)+"/redis", map[string]any{"url": ownURL, "databases": 16})
	api.must(201, "POST", base(sh3)+"/apps/web/deployments", map[string]any{"image": helloImage + "@" + digestOf("sh3 again")})
	if got := kvURL(sh3, "web"); got != ownURL+"/0" {
		t.Errorf("after its own Redis: %s", got)
	}

	// Nowhere in spinport's records (Spin's SQLite KV store).
	db, err := sql.Open("sqlite", "file:"+filepath.Join(h.StateDir, spinhost.DefaultKVFilename)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT key, value FROM spin_key_value`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var key string
		var v []byte
		if err := rows.Scan(&key, &v); err != nil {
			t.Fatal(err)
		}
		n++
		if bytes.Contains(v, []byte(ownPass)) || bytes.Contains(v, []byte(own.Addr)) {
			t.Errorf("KV key %s holds the tenant's Redis URL: %s", key, v)
		}
	}
	if n == 0 {
		t.Error("read no KV records: the check above checked nothing")
	}

	// Deleting the tenant forgets its Redis with the namespace.
	api.must(204, "DELETE", base(ownT)+"/apps/web", nil)
	api.must(204, "DELETE", base(ownT)+"/apps/api", nil)
	api.must(204, "DELETE", base(ownT)+"/apps/jobs", nil)
	api.must(204, "DELETE", base(ownT), nil)
}
