//go:build !tinygo

package api

import (
	"strings"
	"sync"
	"testing"

	"github.com/spinport/spinport"
)

// Push credentials: the password is in the answer that generated it and
// nowhere else (KV, lists, a replay), the scope follows the tenant's apps,
// rotation uses the other password slot, and revocation and tenant
// deletion clean up the registry.
func TestPushCredentials(t *testing.T) {
	h := newHarness(t)
	T := "/api/v1/tenants/acme"
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	off := h.do(admin, "POST", T+"/push-credentials", `{"name":"ci"}`)
	if off.status != 422 || !strings.Contains(off.get("detail").String(), "acr_registry") {
		t.Errorf("without an installation registry: %d %s", off.status, off.body)
	}
	reg := &fakePush{}
	h.srv.Registry = reg
	if r := h.do(admin, "POST", T+"/push-credentials", `{"name":"ci"}`); r.status != 422 || !strings.Contains(r.get("detail").String(), "no apps") {
		t.Errorf("a tenant without apps: %d %s", r.status, r.body)
	}
	h.must(201, admin, "POST", T+"/apps", `{"name":"web"}`)
	if r := h.do(admin, "POST", T+"/push-credentials", `{"name":"CI!"}`); r.status != 400 || r.get("field").String() != "name" {
		t.Errorf("a bad name: %d %s", r.status, r.body)
	}
	if r := h.do(admin, "POST", T+"/push-credentials", `{"name":"ci","expiresInDays":400}`); r.status != 400 || r.get("field").String() != "expiresInDays" {
		t.Errorf("a long expiry: %d %s", r.status, r.body)
	}
	c := h.must(201, admin, "POST", T+"/push-credentials", `{"name":"ci","expiresInDays":30}`, "Idempotency-Key", "push-1")
	pw := c.get("password").String()
	if pw == "" || c.get("credential.username").String() != "spinport-acme-ci" || c.get("repository").String() != "acr.example.test/acme/<app>" ||
		!strings.Contains(c.get("login").String(), "spin registry login acr.example.test --username spinport-acme-ci --password-stdin") ||
		c.get("push").String() != "spin registry push acr.example.test/acme/<app>:<tag>" {
		t.Errorf("created: %s", c.body)
	}
	if strings.Join(reg.scopes["acme"], ",") != "web" {
		t.Errorf("scope %v, want the tenant's one app", reg.scopes["acme"])
	}
	replay := h.do(admin, "POST", T+"/push-credentials", `{"name":"ci","expiresInDays":30}`, "Idempotency-Key", "push-1")
	if replay.status != 409 || strings.Contains(replay.body, pw) {
		t.Errorf("replay: %d %s", replay.status, replay.body)
	}
	h.must(409, admin, "POST", T+"/push-credentials", `{"name":"ci"}`)
	list := h.must(200, admin, "GET", T+"/push-credentials", "")
	if list.get("items.#").Int() != 1 || strings.Contains(list.body, pw) || list.get("items.0.passwordSlot").Int() != 1 {
		t.Errorf("list: %s", list.body)
	}
	rot := h.must(200, admin, "POST", T+"/push-credentials/ci/rotate", "")
	if p2 := rot.get("password").String(); p2 == "" || p2 == pw || rot.get("credential.passwordSlot").Int() != 2 || !strings.HasSuffix(p2, "slot2") {
		t.Errorf("rotated: %s", rot.body)
	}
	// The scope follows the apps while the tenant has credentials.
	h.must(201, admin, "POST", T+"/apps", `{"name":"api"}`)
	if strings.Join(reg.scopes["acme"], ",") != "web,api" {
		t.Errorf("scope after a new app: %v", reg.scopes["acme"])
	}
	h.must(204, admin, "DELETE", T+"/apps/api", "")
	if strings.Join(reg.scopes["acme"], ",") != "web" {
		t.Errorf("scope after deleting an app: %v", reg.scopes["acme"])
	}
	for _, k := range h.mem.Keys() {
		if v, _ := h.mem.Get(k); strings.Contains(string(v), "acr-pw-") {
			t.Errorf("KV key %s holds a registry password", k)
		}
	}
	audit := h.must(200, admin, "GET", T+"/audit?limit=200", "")
	for _, a := range []string{"azure.acr.scope", "azure.acr.credentials"} {
		if !strings.Contains(audit.body, `"action":"`+a+`"`) {
			t.Errorf("audit lacks %s: %s", a, audit.body)
		}
	}
	// Azure down: a 503 that says so, nothing recorded.
	reg.fail = &spinport.Error{Kind: spinport.Unavailable, Title: "Azure unavailable", Detail: "ACR: 503 ServiceUnavailable"}
	if r := h.do(admin, "POST", T+"/push-credentials", `{"name":"ci2"}`); r.status != 503 || !strings.Contains(r.get("detail").String(), "ServiceUnavailable") {
		t.Errorf("Azure down: %d %s", r.status, r.body)
	}
	reg.fail = nil
	if r := h.must(200, admin, "GET", T+"/push-credentials", ""); r.get("items.#").Int() != 1 {
		t.Errorf("a failed create left a record: %s", r.body)
	}
	h.must(204, admin, "DELETE", T+"/push-credentials/ci", "")
	h.must(404, admin, "DELETE", T+"/push-credentials/ci", "")
	if reg.tokens["acme/ci"] {
		t.Error("revoked credential's token still in the registry")
	}
	h.must(201, admin, "POST", T+"/push-credentials", `{"name":"ci3"}`)
	h.must(204, admin, "DELETE", T+"/apps/web", "")
	h.must(204, admin, "DELETE", T, "")
	if len(reg.tokens) != 0 || reg.scopes["acme"] != nil {
		t.Errorf("after the tenant was deleted: tokens %v, scopes %v", reg.tokens, reg.scopes)
	}
}

// With acr_restrict_deploys, images from the installation registry must
// be in the tenant's own repositories.
func TestDeploysRestrictedToTheTenantsRepositories(t *testing.T) {
	h := newHarness(t)
	h.srv.Registry = &fakePush{}
	h.srv.Config.RestrictRegistryRepos = true
	T := "/api/v1/tenants/acme"
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(201, admin, "POST", T+"/apps", `{"name":"web"}`)
	if r := h.do(admin, "POST", T+"/apps/web/deployments", `{"image":"acr.example.test/beta/web:v1"}`); r.status != 403 || r.get("field").String() != "image" {
		t.Errorf("another tenant's repository: %d %s", r.status, r.body)
	}
	h.must(201, admin, "POST", T+"/apps/web/deployments", `{"image":"acr.example.test/acme/web:v1"}`)
	h.must(201, admin, "POST", T+"/apps/web/deployments", `{"image":"ghcr.io/beta/web:v1"}`) // other registries are the allowlist's business
}

// fakeDNS manages the zones apps.example.test and managed.test and records what it points.
type fakeDNS struct {
	mu      sync.Mutex
	records map[string]string // host -> owner
	proofs  map[string]string // host -> TXT challenge value
	taken   map[string]bool   // hosts with a record that is not spinport's
}

func (f *fakeDNS) Manages(host string) bool {
	return strings.HasSuffix(host, ".apps.example.test") || strings.HasSuffix(host, ".managed.test")
}
func (f *fakeDNS) Point(host, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.taken[host] {
		return &spinport.Error{Kind: spinport.Conflict, Detail: "DNS record " + host + " exists and is not spinport's"}
	}
	f.records[host] = owner
	return nil
}
func (f *fakeDNS) Prove(host, token, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.proofs == nil {
		f.proofs = map[string]string{}
	}
	f.proofs[host] = token
	return nil
}
func (f *fakeDNS) Remove(host, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.records[host] == owner {
		delete(f.records, host)
	}
	return nil
}

// App hosts in managed zones get records when deployed and lose them
// with the host or the app; a record in the way fails the revision with
// a 409 and a retry converges once it is cleared.
func TestManagedDNSRecordsFollowTheApp(t *testing.T) {
	h := newHarness(t)
	dns := &fakeDNS{records: map[string]string{}, taken: map[string]bool{"www.managed.test": true}}
	h.srv.DNS = dns
	T := "/api/v1/tenants/acme"
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(201, admin, "POST", T+"/apps", `{"name":"web","domains":["www.managed.test","shop.acme.test"]}`)
	r := h.do(admin, "POST", T+"/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1"}`)
	if r.status != 409 || !strings.Contains(r.get("detail").String(), "www.managed.test") {
		t.Fatalf("a record in the way: %d %s", r.status, r.body)
	}
	dns.taken = nil
	h.must(201, admin, "POST", T+"/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1"}`) // the retry converges
	if dns.records["web-acme.apps.example.test"] != "acme/web" || dns.records["www.managed.test"] != "acme/web" || len(dns.records) != 2 {
		t.Errorf("records %v: want the default host and www, not the unmanaged shop.acme.test", dns.records)
	}
	h.must(200, admin, "PATCH", T+"/apps/web", `{"domains":["shop.acme.test"]}`)
	if _, ok := dns.records["www.managed.test"]; ok || len(dns.records) != 1 {
		t.Errorf("after removing www: %v", dns.records)
	}
	h.must(204, admin, "DELETE", T+"/apps/web", "")
	if len(dns.records) != 0 {
		t.Errorf("after deleting the app: %v", dns.records)
	}
}
