//go:build !tinygo

package api

import (
	"strings"
	"testing"
)

// world builds tenant acme (alice owner, bob deployer, carol viewer, three
// API tokens) with apps web and api and one deploy, and tenant other (dave).
func world(t *testing.T) (*harness, map[string]caller) {
	h := newHarness(t)
	alice, bob, carol, dave := h.user("alice"), h.user("bob"), h.user("carol"), h.user("dave")
	h.user("erin")
	h.must(201, alice, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(201, alice, "POST", "/api/v1/tenants/acme/members", `{"user":"bob","role":"deployer"}`)
	h.must(201, alice, "POST", "/api/v1/tenants/acme/members", `{"user":"carol","role":"viewer"}`)
	h.must(201, alice, "POST", "/api/v1/tenants/acme/apps", `{"name":"web","domains":["www.acme.test"]}`)
	h.must(201, alice, "POST", "/api/v1/tenants/acme/apps", `{"name":"api"}`)
	h.must(201, alice, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1"}`)
	h.must(201, alice, "PUT", "/api/v1/tenants/acme/apps/web/variables/greeting", `{"value":"hi"}`)
	h.must(201, alice, "PUT", "/api/v1/tenants/acme/registries/ghcr.io", `{"username":"acme-ci","password":"pull-pw"}`)
	h.srv.Registry = &fakePush{}
	h.must(201, alice, "POST", "/api/v1/tenants/acme/push-credentials", `{"name":"ci"}`)
	tokRead := h.token(alice, "acme", `"read"`, "")
	tokDeploy := h.token(alice, "acme", `"deploy"`, "")
	tokManage := h.token(alice, "acme", `"manage"`, "")
	h.must(201, dave, "POST", "/api/v1/tenants", `{"slug":"other"}`)
	tokOther := h.token(dave, "other", `"manage"`, "")
	return h, map[string]caller{
		"owner": alice, "deployer": bob, "viewer": carol, "outsider": dave,
		"token-read": tokRead, "token-deploy": tokDeploy, "token-manage": tokManage, "token-other-tenant": tokOther,
	}
}

var callerRole = map[string]string{
	"owner": "owner", "deployer": "deployer", "viewer": "viewer",
	"token-read": "viewer", "token-deploy": "deployer", "token-manage": "owner",
}

func TestEveryEndpointByRoleAndTenant(t *testing.T) {
	const T = "/api/v1/tenants/acme"
	endpoints := []struct {
		method, path, body string
		need               string
		humanOnly          bool
	}{
		{"GET", T, "", "viewer", false},
		{"PATCH", T, `{"displayName":"Acme Inc"}`, "owner", true},
		{"DELETE", T, "", "owner", true},
		{"GET", T + "/members", "", "viewer", false},
		{"POST", T + "/members", `{"user":"erin","role":"viewer"}`, "owner", true},
		{"PATCH", T + "/members/bob", `{"role":"viewer"}`, "owner", true},
		{"DELETE", T + "/members/carol", "", "owner", true},
		{"GET", T + "/apps", "", "viewer", false},
		{"POST", T + "/apps", `{"name":"new"}`, "owner", false},
		{"GET", T + "/apps/web", "", "viewer", false},
		{"PATCH", T + "/apps/web", `{"replicas":2}`, "deployer", false},
		{"PATCH", T + "/apps/web", `{"domains":["www.acme.test"]}`, "owner", false},
		{"DELETE", T + "/apps/web", "", "owner", false},
		{"POST", T + "/apps/web/deployments", `{"image":"ghcr.io/acme/web:v2"}`, "deployer", false},
		{"GET", T + "/apps/web/revisions", "", "viewer", false},
		{"GET", T + "/apps/web/revisions/1", "", "viewer", false},
		{"POST", T + "/apps/web/rollback", `{"revision":1}`, "deployer", false},
		{"GET", T + "/apps/web/status", "", "viewer", false},
		{"GET", T + "/apps/web/logs?tail=5", "", "viewer", false},
		{"GET", T + "/apps/web/variables", "", "viewer", false},
		{"PUT", T + "/apps/web/variables/color", `{"value":"blue"}`, "deployer", false},
		{"DELETE", T + "/apps/web/variables/greeting", "", "deployer", false},
		{"GET", T + "/tokens", "", "owner", true},
		{"POST", T + "/tokens", `{"name":"x","scopes":["read"]}`, "owner", true},
		{"GET", T + "/registries", "", "viewer", false},
		{"PUT", T + "/registries/myacr.azurecr.io", `{"username":"u","password":"p"}`, "owner", false},
		{"DELETE", T + "/registries/ghcr.io", "", "owner", false},
		{"GET", T + "/audit", "", "viewer", false},
		{"GET", T + "/apps/web/domains", "", "viewer", false},
		{"POST", T + "/apps/web/domains/www.acme.test/verify", "", "owner", false},
		{"GET", T + "/apps/web/trust-policies", "", "viewer", false},
		{"POST", T + "/apps/web/trust-policies", `{"provider":"github","repositoryId":"1","repositoryOwnerId":"2","refs":["refs/tags/v*"]}`, "owner", true},
		{"GET", T + "/push-credentials", "", "viewer", false},
		{"POST", T + "/push-credentials", `{"name":"ci2"}`, "owner", true},
		{"POST", T + "/push-credentials/ci/rotate", "", "owner", true},
		{"DELETE", T + "/push-credentials/ci", "", "owner", false},
		{"GET", T + "/redis", "", "viewer", false},
		{"PUT", T + "/redis", `{"url":"redis://cache:6379"}`, "admin", false},
		{"DELETE", T + "/redis", "", "admin", false},
	}
	// Every route under /tenants/:tenant must be in the table above
	// (token revocation and trust-policy deletion have their own tests: their paths hold random ids).
	for _, rt := range routes {
		if !strings.HasPrefix(rt.path, "/api/v1/tenants/:tenant") || rt.path == "/api/v1/tenants/:tenant/tokens/:token" ||
			rt.path == "/api/v1/tenants/:tenant/apps/:app/trust-policies/:policy" {
			continue
		}
		found := false
		for _, e := range endpoints {
			found = found || (e.method == rt.method && pathMatches(rt.path, e.path))
		}
		if !found {
			t.Errorf("route %s %s is not in the role table", rt.method, rt.path)
		}
	}
	for _, e := range endpoints {
		for name := range callerRole {
			e, name := e, name
			t.Run(e.method+" "+e.path+" as "+name, func(t *testing.T) {
				h, callers := world(t)
				r := h.do(callers[name], e.method, e.path, e.body)
				allowed := rankOf(callerRole[name]) >= rankOf(e.need) && !(e.humanOnly && name[:5] == "token")
				if allowed && (r.status == 401 || r.status == 403 || r.status == 404) {
					t.Errorf("refused (%d): %s", r.status, r.body)
				}
				if !allowed && r.status != 403 {
					t.Errorf("allowed or wrong refusal: %d %s", r.status, r.body)
				}
			})
		}
		for _, name := range []string{"outsider", "token-other-tenant"} {
			e, name := e, name
			t.Run(e.method+" "+e.path+" as "+name, func(t *testing.T) {
				h, callers := world(t)
				r := h.do(callers[name], e.method, e.path, e.body)
				if r.status != 404 {
					t.Errorf("cross-tenant call got %d, want 404: %s", r.status, r.body)
				}
				// Nothing changed in acme: the audit log has no event by them.
				audit := h.must(200, callers["owner"], "GET", "/api/v1/tenants/acme/audit?limit=200", "")
				for _, a := range audit.get("items.#.actor").Array() {
					if a.String() == "user:dave" || a.String()[:6] == "token:" {
						t.Errorf("acme audit has an event by %s", a.String())
					}
				}
			})
		}
	}
}

func pathMatches(pattern, path string) bool {
	path, _, _ = strings.Cut(path, "?")
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if !strings.HasPrefix(ps[i], ":") && ps[i] != xs[i] {
			return false
		}
	}
	return true
}

func rankOf(role string) int {
	return map[string]int{"viewer": 1, "deployer": 2, "owner": 3, "admin": 4}[role] // admin: installation admins only
}

func TestTokenRevokeAcrossTenants(t *testing.T) {
	h, callers := world(t)
	list := h.must(200, callers["owner"], "GET", "/api/v1/tenants/acme/tokens", "")
	id := list.get("items.0.id").String()
	// dave owns "other" but must not revoke acme's token through his tenant.
	h.must(404, callers["outsider"], "DELETE", "/api/v1/tenants/other/tokens/"+id, "")
	h.must(404, callers["outsider"], "DELETE", "/api/v1/tenants/acme/tokens/"+id, "")
	h.must(403, callers["deployer"], "DELETE", "/api/v1/tenants/acme/tokens/"+id, "")
	h.must(204, callers["owner"], "DELETE", "/api/v1/tenants/acme/tokens/"+id, "")
}

func TestAppRestrictedToken(t *testing.T) {
	h, callers := world(t)
	tok := h.token(callers["owner"], "acme", `"deploy"`, "web")
	h.must(201, tok, "POST", "/api/v1/tenants/acme/apps/web/deployments", `{"image":"ghcr.io/acme/web:v3"}`)
	h.must(404, tok, "POST", "/api/v1/tenants/acme/apps/api/deployments", `{"image":"ghcr.io/acme/web:v3"}`)
	h.must(404, tok, "GET", "/api/v1/tenants/acme/apps/api", "")
	apps := h.must(200, tok, "GET", "/api/v1/tenants/acme/apps", "")
	if apps.get("items.#").Int() != 1 || apps.get("items.0.name").String() != "web" {
		t.Errorf("app-restricted token listed %s", apps.body)
	}
}

func TestTenantListsAreSeparate(t *testing.T) {
	h, callers := world(t)
	for name, want := range map[string]string{"outsider": `["other"]`, "owner": `["acme"]`, "token-other-tenant": `["other"]`, "viewer": `["acme"]`} {
		r := h.must(200, callers[name], "GET", "/api/v1/tenants", "")
		if got := r.get("items.#.slug").Raw; got != want {
			t.Errorf("%s sees tenants %s, want %s", name, got, want)
		}
	}
	if r := h.must(200, admin, "GET", "/api/v1/tenants", ""); r.get("items.#").Int() != 2 {
		t.Errorf("admin sees %s", r.body)
	}
}
