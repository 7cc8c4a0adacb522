//go:build !tinygo

package api

import (
	"strings"
	"testing"
)

// Pull credentials: the password reaches only the deployer (a Kubernetes
// Secret), never the KV store or an answer, and a deploy of an image from
// that registry references them.
func TestRegistryCredentials(t *testing.T) {
	h := newHarness(t)
	T := "/api/v1/tenants/acme"
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(201, admin, "POST", T+"/apps", `{"name":"web"}`)
	const pw = "pull-pass-never-stored"
	r := h.must(201, admin, "PUT", T+"/registries/myacr.azurecr.io", `{"username":"acme-pull","password":"`+pw+`"}`)
	h.must(200, admin, "PUT", T+"/registries/myacr.azurecr.io", `{"username":"acme-pull","password":"`+pw+`2"}`)
	list := h.must(200, admin, "GET", T+"/registries", "")
	for _, body := range []string{r.body, list.body} {
		if strings.Contains(body, pw) {
			t.Errorf("an answer shows the password: %s", body)
		}
	}
	if list.get("items.0.registry").String() != "myacr.azurecr.io" || list.get("items.0.username").String() != "acme-pull" {
		t.Errorf("list: %s", list.body)
	}
	for _, k := range h.mem.Keys() {
		if v, _ := h.mem.Get(k); strings.Contains(string(v), pw) {
			t.Errorf("KV key %s holds the pull password", k)
		}
	}
	h.dep.applied = nil
	h.must(201, admin, "POST", T+"/apps/web/deployments", `{"image":"myacr.azurecr.io/acme/web:v1"}`)
	h.must(201, admin, "POST", T+"/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1"}`)
	got := strings.Join(h.dep.applied, "\n")
	if !strings.Contains(got, "myacr.azurecr.io/acme/web:v1 pull myacr.azurecr.io") || strings.Contains(got, "ghcr.io/acme/web:v1 pull") {
		t.Errorf("applies: %s", got)
	}
	if r := h.do(admin, "PUT", T+"/registries/Bad_Host", `{"username":"u","password":"p"}`); r.status != 400 {
		t.Errorf("a bad registry: %d %s", r.status, r.body)
	}
	if r := h.do(admin, "PUT", T+"/registries/myacr.azurecr.io", `{"username":"u"}`); r.status != 400 || r.get("field").String() != "password" {
		t.Errorf("no password: %d %s", r.status, r.body)
	}
	h.must(204, admin, "DELETE", T+"/registries/myacr.azurecr.io", "")
	h.must(404, admin, "DELETE", T+"/registries/myacr.azurecr.io", "")
	h.dep.applied = nil
	h.must(201, admin, "POST", T+"/apps/web/deployments", `{"image":"myacr.azurecr.io/acme/web:v2"}`)
	if got := strings.Join(h.dep.applied, "\n"); strings.Contains(got, " pull ") {
		t.Errorf("after deleting the credentials: %s", got)
	}
}
