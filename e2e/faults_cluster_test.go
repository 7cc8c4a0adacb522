package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A tenant created while the Kubernetes API refused connections: the
// create answers 503, and a retry converges (it used to answer 409 for
// good, and secret variables failed with "namespace not found").
func TestClusterTenantCreatedWhileRefusedConverges(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	token := k.spinportToken(t, suffix)
	p := startAPIProxy(t, k)
	h := startClusterHost(t, "spinport-via-proxy", p.URL, p.CAFile, token)
	api := h.admin(t)
	tenant := "e2e-refused-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant

	p.Stop()
	if r := api.do("POST", "/api/v1/tenants", map[string]any{"slug": tenant}); !r.isProblem(503, "", "retry") {
		t.Fatalf("create while Kubernetes refuses: %s", r)
	}
	p.Restart(t)
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	if _, ok := k.object(t, nsPath(ns)); !ok {
		t.Fatal("the retried create did not create the namespace")
	}
	api.must(409, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})

	// Refused at creation again: a secret set before any deploy applies
	// the tenant's objects first.
	tenant2 := "e2e-refused2-" + suffix
	ns2 := "spinport-" + tenant2
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns2), "", nil) })
	p.Stop()
	api.do("POST", "/api/v1/tenants", map[string]any{"slug": tenant2})
	p.Restart(t)
	api.must(201, "POST", "/api/v1/tenants/"+tenant2+"/apps", map[string]any{"name": "web"})
	api.must(201, "PUT", "/api/v1/tenants/"+tenant2+"/apps/web/variables/db_password", map[string]any{"value": "s3cret", "secret": true})
	sec := k.mustObject(t, corePath(ns2, "secrets", "web-secrets"))
	if sec.s("data", "db_password") == "" {
		t.Errorf("the secret did not reach the tenant's namespace: %v", sec)
	}
	api.must(204, "DELETE", base, nil)
}

// The Kubernetes API hangs in the middle of a deploy and the client gives
// up (Spin's outbound HTTP has no timeout of its own, docs/aks.md): nothing
// is half-applied, and once the API answers again a retry with the same
// Idempotency-Key converges on the same revision.
func TestClusterHungAPIServerThenRetryConverges(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	token := k.spinportToken(t, suffix)
	p := startAPIProxy(t, k)
	h := startClusterHost(t, "spinport-via-proxy", p.URL, p.CAFile, token, map[string]string{"lock_ttl": "1s"})
	api := h.admin(t)
	tenant := "e2e-hung-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	api.must(201, "POST", base+"/apps", map[string]any{"name": "web", "replicas": 1})

	image := helloImage + "@" + digestOf("hung "+suffix)
	p.HangOn(func(r *http.Request) bool { return r.Method == "PATCH" && strings.Contains(r.URL.Path, "/spinapps/") })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	req, _ := http.NewRequestWithContext(ctx, "POST", h.URL+base+"/apps/web/deployments",
		strings.NewReader(`{"image":"`+image+`","source":"ci"}`))
	req.Header.Set("Authorization", "Bearer "+h.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "deploy-"+suffix)
	if res, err := apiHTTP.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("the deploy answered %d although the API server hangs", res.StatusCode)
	}
	cancel()
	p.Release()

	// Nothing half-written: no SpinApp, and the revision is not "applied".
	if _, ok := k.object(t, spinAppPath(ns, "web")); ok {
		t.Error("a SpinApp exists although its apply never completed")
	}
	eventually(t, 10*time.Second, "revision 1 to be recorded as not applied", func() string {
		r := api.do("GET", base+"/apps/web/revisions/1", nil)
		if r.Status != 200 || r.str("state") == "applied" {
			return r.String()
		}
		return ""
	})

	var r *apiResult
	eventually(t, 15*time.Second, "the retried deploy to converge", func() string {
		r = api.do("POST", base+"/apps/web/deployments", map[string]any{"image": image, "source": "ci"}, "Idempotency-Key", "deploy-"+suffix)
		if r.Status != 200 && r.Status != 201 {
			return r.String()
		}
		return ""
	})
	if r.num("number") != 1 || r.str("state") != "applied" {
		t.Errorf("retried deploy: %s", r)
	}
	if revs := api.must(200, "GET", base+"/apps/web/revisions", nil); revs.num("items.#") != 1 {
		t.Errorf("the retry made another revision: %s", revs)
	}
	sa := k.mustObject(t, spinAppPath(ns, "web"))
	checker{t, "SpinApp after the retry"}.eq("revision label", sa.s("metadata", "labels", "spinport.dev/revision"), "1")
	noTraps(t, h)
	api.must(204, "DELETE", base+"/apps/web", nil)
	api.must(204, "DELETE", base, nil)
}
