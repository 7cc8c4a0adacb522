//go:build !tinygo

package api

import (
	"strings"
	"testing"
)

// TestRoutingMisses: a request is routed by its own method's routes first
// (newRouter); a path it does not have must still answer as if every route
// were there: 405 with Allow for another method's path, 404 otherwise, and
// OPTIONS lists the methods.
func TestRoutingMisses(t *testing.T) {
	h := newHarness(t)
	r := h.do(admin, "PUT", "/api/v1/tenants", "")
	if r.status != 405 || r.header.Get("Allow") != "GET, OPTIONS, POST" || r.get("status").Int() != 405 {
		t.Errorf("PUT /api/v1/tenants: %d Allow=%q %s", r.status, r.header.Get("Allow"), r.body)
	}
	if r := h.do(admin, "GET", "/api/v1/nothing", ""); r.status != 404 || !strings.Contains(r.get("detail").String(), "no route GET /api/v1/nothing") {
		t.Errorf("GET /api/v1/nothing: %d %s", r.status, r.body)
	}
	if r := h.do(admin, "OPTIONS", "/api/v1/tenants", ""); r.status != 200 || r.header.Get("Allow") != "GET, OPTIONS, POST" {
		t.Errorf("OPTIONS /api/v1/tenants: %d Allow=%q", r.status, r.header.Get("Allow"))
	}
	if r := h.do(admin, "GET", "/api/v1/tenants", ""); r.status != 200 {
		t.Errorf("GET /api/v1/tenants: %d %s", r.status, r.body)
	}
}
