//go:build !tinygo

package api

import (
	"strings"
	"testing"
)

// shop-api in acme and shop in api-acme would share shop-api-acme.<base>:
// the second one is refused, and the host is free again once the first
// app is deleted. spinport's own host is never an app's.
func TestDefaultHostsAreClaimed(t *testing.T) {
	h := newHarness(t)
	h.srv.Config.PublicURL = "https://web-ops.apps.example.test"
	for _, slug := range []string{"acme", "api-acme", "ops"} {
		h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"`+slug+`"}`)
	}
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"shop-api"}`)
	r := h.must(409, admin, "POST", "/api/v1/tenants/api-acme/apps", `{"name":"shop"}`)
	if r.get("field").String() != "name" || !strings.Contains(r.get("detail").String(), "shop-api-acme.apps.example.test") {
		t.Errorf("collision: %s", r.body)
	}
	h.must(204, admin, "DELETE", "/api/v1/tenants/acme/apps/shop-api", "")
	h.must(201, admin, "POST", "/api/v1/tenants/api-acme/apps", `{"name":"shop"}`)
	// web-ops.<base> is spinport's own address.
	h.must(409, admin, "POST", "/api/v1/tenants/ops/apps", `{"name":"web"}`)
	h.must(201, admin, "POST", "/api/v1/tenants/ops/apps", `{"name":"web2"}`)
}

func TestRollbackToARevisionWhoseSecretIsGone(t *testing.T) {
	h := newHarness(t)
	T := "/api/v1/tenants/acme/apps/web"
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(201, admin, "POST", "/api/v1/tenants/acme/apps", `{"name":"web"}`)
	h.must(201, admin, "PUT", T+"/variables/db_password", `{"value":"s3cret","secret":true}`)
	h.must(201, admin, "POST", T+"/deployments", `{"image":"ghcr.io/acme/web:v1"}`) // revision 1 reads db_password
	h.must(204, admin, "DELETE", T+"/variables/db_password", "")                    // revision 2 does not
	r := h.must(409, admin, "POST", T+"/rollback", `{"revision":1}`)
	if r.get("field").String() != "revision" || !strings.Contains(r.get("detail").String(), "db_password") {
		t.Errorf("rollback: %s", r.body)
	}
	h.must(201, admin, "PUT", T+"/variables/db_password", `{"value":"again","secret":true}`)
	h.must(201, admin, "POST", T+"/rollback", `{"revision":1}`)
}
