//go:build !tinygo

package api

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spinport/spinport"
)

// A token created with an Idempotency-Key: the secret is in the first
// answer only; a replay says so without it, and no KV key holds it.
func TestIdempotentTokenCreateNeverStoresTheSecret(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	h.must(201, alice, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	body := `{"name":"ci","scopes":["deploy"]}`
	first := h.must(201, alice, "POST", "/api/v1/tenants/acme/tokens", body, "Idempotency-Key", "tok-1")
	secret := first.get("secret").String()
	if !strings.HasPrefix(secret, "spt_") {
		t.Fatalf("first answer: %s", first.body)
	}
	again := h.must(409, alice, "POST", "/api/v1/tenants/acme/tokens", body, "Idempotency-Key", "tok-1")
	if again.header.Get("Idempotent-Replayed") != "true" || strings.Contains(again.body, secret[21:]) ||
		!strings.Contains(again.get("detail").String(), "shown once") || !strings.Contains(again.get("detail").String(), first.get("token.id").String()) {
		t.Fatalf("replay: %v %s", again.header, again.body)
	}
	for _, k := range h.mem.Keys() {
		v, _ := h.mem.Get(k)
		if strings.Contains(string(v), secret[21:]) {
			t.Errorf("KV key %s holds the token secret: %s", k, v)
		}
	}
}

func TestIdempotencyKeyWithAnotherRequest(t *testing.T) {
	h := newHarness(t)
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`, "Idempotency-Key", "k")
	r := h.must(422, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"api"}`, "Idempotency-Key", "k")
	if r.get("field").String() != "Idempotency-Key" {
		t.Errorf("422 names no field: %s", r.body)
	}
	h.must(404, admin, "GET", "/api/v1/tenants/acme/apps/api", "")
}

// A claim left by a request whose instance died blocks retries for
// lock_ttl only.
func TestStaleIdempotencyClaimDoesNotBlock(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	now := time.Now()
	h.srv.DB.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h.srv.DB.LockTTL = 30 * time.Second
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	body := `{"name":"web"}`
	// The first request claimed the key, then its instance died.
	if first, _, err := h.srv.DB.ClaimIdempotency("admin\x00POST\x00/api/v1/tenants/acme/apps\x00k", requestHash("POST", "/api/v1/tenants/acme/apps", []byte(body))); err != nil || !first {
		t.Fatal(first, err)
	}
	h.must(409, admin, "POST", "/api/v1/tenants/acme/apps", body, "Idempotency-Key", "k")
	mu.Lock()
	now = now.Add(31 * time.Second)
	mu.Unlock()
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", body, "Idempotency-Key", "k")
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", body, "Idempotency-Key", "k") // replayed
}

func TestParallelDeletesThroughTheAPI(t *testing.T) {
	h := newHarness(t)
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme","quotas":{"maxApps":3}}`)
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`)
	var wg sync.WaitGroup
	codes := make(chan int, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- h.do(admin, "DELETE", "/api/v1/tenants/acme/apps/web", "").status
		}()
	}
	wg.Wait()
	close(codes)
	ok := 0
	for c := range codes {
		switch c {
		case 204:
			ok++
		case 404:
		default:
			t.Errorf("parallel delete answered %d", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d deletes answered 204, want 1", ok)
	}
	for _, n := range []string{"a", "b", "c"} {
		h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"`+n+`"}`)
	}
	if r := h.do(admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"d"}`); r.status != 403 || r.get("quota").String() != "maxApps" {
		t.Fatalf("a 4th app under maxApps=3: %d %s", r.status, r.body)
	}
}

func TestAppTokenSeesOnlyItsAppsAudit(t *testing.T) {
	h, callers := world(t)
	owner := callers["owner"]
	h.must(201, owner, "PUT", "/api/v1/tenants/acme/apps/api/variables/db_password", `{"value":"x","secret":true}`)
	h.must(201, owner, "POST", "/api/v1/tenants/acme/apps/api/deployments", `{"image":"ghcr.io/acme/private-api:v9"}`)
	tok := h.token(owner, "acme", `"read"`, "web")
	r := h.must(200, tok, "GET", "/api/v1/tenants/acme/audit?limit=2", "")
	seen := 0
	for page := 0; page < 20; page++ {
		for _, e := range r.get("items").Array() {
			seen++
			target := e.Get("target").String()
			if target != "app/web" && !strings.HasPrefix(target, "app/web/") {
				t.Errorf("app token sees %s", e.Raw)
			}
		}
		if strings.Contains(r.body, "private-api") || strings.Contains(r.body, "db_password") {
			t.Errorf("app token sees another app's details: %s", r.body)
		}
		next := r.get("nextCursor").String()
		if next == "" {
			break
		}
		r = h.must(200, tok, "GET", "/api/v1/tenants/acme/audit?limit=2&cursor="+next, "")
	}
	if seen < 2 {
		t.Errorf("the app token saw %d events of its own app", seen)
	}
	if all := h.must(200, owner, "GET", "/api/v1/tenants/acme/audit?limit=200", ""); !strings.Contains(all.body, "private-api") {
		t.Errorf("the owner lost the full audit log: %s", all.body)
	}
}

func TestReservedNames(t *testing.T) {
	h := newHarness(t)
	for _, slug := range []string{"default", "kube-system", "kube-public", "kube-node-lease", "system", "spinport", "kube-x"} {
		r := h.must(400, admin, "POST", "/api/v1/tenants", `{"slug":"`+slug+`"}`)
		if r.get("field").String() != "slug" || !strings.Contains(r.get("detail").String(), "reserved") {
			t.Errorf("tenant %s: %s", slug, r.body)
		}
	}
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	for _, name := range []string{"default", "kube-system", "containerd-shim-spin"} {
		r := h.must(400, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"`+name+`"}`)
		if r.get("field").String() != "name" || !strings.Contains(r.get("detail").String(), "reserved") {
			t.Errorf("app %s: %s", name, r.body)
		}
	}
}

// A tenant created while Kubernetes refused converges on retry, and a
// secret set before any deploy first applies the tenant's objects.
func TestTenantCreatedWhileKubernetesRefusedConverges(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.user("alice"), h.user("bob")
	h.dep.fail = &spinport.Error{Kind: spinport.Unavailable, Title: "Kubernetes unavailable", Detail: "tenant acme: the Kubernetes API server did not answer; retry"}
	r := h.must(503, alice, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	if r.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After: %v", r.header)
	}
	h.dep.fail = nil
	h.must(409, bob, "POST", "/api/v1/tenants", `{"slug":"acme"}`) // someone else's slug stays theirs
	h.must(201, alice, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(409, alice, "POST", "/api/v1/tenants", `{"slug":"acme"}`) // converged: now a real duplicate
	applied := strings.Join(h.dep.applied, "\n")
	if strings.Count(applied, "tenant acme") != 1 {
		t.Fatalf("tenant objects applied: %q", applied)
	}

	// Refused again at creation; the first secret applies the tenant first.
	h.dep.fail = errors.New("kubernetes refused")
	h.do(alice, "POST", "/api/v1/tenants", `{"slug":"beta"}`)
	h.dep.fail = nil
	h.must(201, alice, "POST", "/api/v1/tenants/beta/apps", `{"name":"web"}`)
	h.dep.applied = nil
	h.must(201, alice, "PUT", "/api/v1/tenants/beta/apps/web/variables/pw", `{"value":"x","secret":true}`)
	if len(h.dep.applied) < 2 || h.dep.applied[0] != "tenant beta" || h.dep.applied[1] != "secret beta/web/pw" {
		t.Fatalf("secret on a pending tenant: %q", h.dep.applied)
	}
}
