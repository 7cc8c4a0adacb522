//go:build !tinygo

package api

import (
	"strings"
	"sync"
	"testing"
)

// fakeResolver answers TXT and host lookups from maps the test changes.
type fakeResolver struct {
	mu    sync.Mutex
	txt   map[string][]string
	addrs map[string][]string
}

func (f *fakeResolver) LookupTXT(name string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.txt[name], nil
}
func (f *fakeResolver) LookupHost(name string) ([]string, []string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return nil, f.addrs[name], nil
}

// A custom domain is not routed until its owner publishes the TXT record;
// then verify routes it; a record that disappears flags the domain lost
// (still routed); a domain in a managed zone verifies at once.
func TestCustomDomainsAreProvenBeforeRouting(t *testing.T) {
	h := newHarness(t)
	res := &fakeResolver{txt: map[string][]string{}, addrs: map[string][]string{}}
	dns := &fakeDNS{records: map[string]string{}}
	h.srv.Resolver, h.srv.DNS, h.srv.Config.IngressAddress = res, dns, "20.50.60.70"
	T := "/api/v1/tenants/acme"
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"acme"}`)
	h.must(201, admin, "POST", T+"/apps", `{"name":"web","domains":["www.acme.test"]}`)
	h.dep.applied = nil
	h.must(201, admin, "POST", T+"/apps/web/deployments", `{"image":"ghcr.io/acme/web:v1"}`)
	if got := strings.Join(h.dep.applied, "\n"); strings.Contains(got, "www.acme.test") {
		t.Errorf("a pending domain was routed: %s", got)
	}
	ds := h.must(200, admin, "GET", T+"/apps/web/domains", "")
	www := ds.get(`items.#(host=="www.acme.test")`)
	token := www.Get("verification.record.value").String()
	if www.Get("verification.state").String() != "pending" || www.Get("verification.record.name").String() != "_spinport-challenge.www.acme.test" ||
		!strings.HasPrefix(token, "spinport-") || !strings.Contains(www.Get("next").String(), "Add a TXT record _spinport-challenge.www.acme.test with the value "+token) {
		t.Errorf("pending domain: %s", www.Raw)
	}
	if def := ds.get(`items.#(default==true)`); def.Get("host").String() != "web-acme.apps.example.test" || def.Get("verification.state").String() != "verified" {
		t.Errorf("default host: %s", def.Raw)
	}
	r := h.do(admin, "POST", T+"/apps/web/domains/www.acme.test/verify", "")
	if r.status != 422 || !strings.Contains(r.get("detail").String(), token) {
		t.Errorf("verify without the record: %d %s", r.status, r.body)
	}
	res.txt["_spinport-challenge.www.acme.test"] = []string{"something else", token}
	h.dep.applied = nil
	v := h.must(200, admin, "POST", T+"/apps/web/domains/www.acme.test/verify", "")
	if v.get("verification.state").String() != "verified" || !strings.Contains(strings.Join(h.dep.applied, "\n"), "domains www.acme.test") {
		t.Errorf("verified: %s; applies %v", v.body, h.dep.applied)
	}
	// DNS: not pointing at the ingress yet, then pointing.
	if n := h.must(200, admin, "GET", T+"/apps/web/domains", "").get(`items.#(host=="www.acme.test").next`).String(); !strings.Contains(n, "A record to 20.50.60.70") {
		t.Errorf("next step before DNS points: %q", n)
	}
	res.addrs["www.acme.test"] = []string{"20.50.60.70"}
	if d := h.must(200, admin, "GET", T+"/apps/web/domains", "").get(`items.#(host=="www.acme.test")`); !d.Get("dns.pointsAtIngress").Bool() {
		t.Errorf("pointing: %s", d.Raw)
	}
	// The proof disappears: flagged, still routed.
	delete(res.txt, "_spinport-challenge.www.acme.test")
	if d := h.must(200, admin, "GET", T+"/apps/web/domains", "").get(`items.#(host=="www.acme.test")`); d.Get("verification.state").String() != "lost" ||
		!strings.Contains(d.Get("next").String(), "is gone") {
		t.Errorf("lost: %s", d.Raw)
	}
	h.dep.applied = nil
	h.must(201, admin, "POST", T+"/apps/web/deployments", `{"image":"ghcr.io/acme/web:v2"}`)
	if got := strings.Join(h.dep.applied, "\n"); !strings.Contains(got, "www.acme.test") {
		t.Errorf("a lost domain stopped being routed: %s", got)
	}
	// Another tenant cannot take it; a managed zone's domain verifies at once.
	h.must(201, admin, "POST", "/api/v1/tenants", `{"slug":"beta"}`)
	if r := h.do(admin, "POST", "/api/v1/tenants/beta/apps", `{"name":"web","domains":["www.acme.test"]}`); r.status != 409 {
		t.Errorf("another tenant claimed it: %d %s", r.status, r.body)
	}
	h.must(200, admin, "PATCH", T+"/apps/web", `{"domains":["www.acme.test","shop.managed.test"]}`)
	if dns.proofs["shop.managed.test"] == "" {
		t.Errorf("no TXT published in the managed zone: %v", dns.records)
	}
	if d := h.must(200, admin, "GET", T+"/apps/web/domains", "").get(`items.#(host=="shop.managed.test")`); d.Get("verification.state").String() != "verified" {
		t.Errorf("managed-zone domain: %s", d.Raw)
	}
	// Squatting: spinport's own address and names under the base domain.
	h.srv.Config.PublicURL = "https://spinport.example.test"
	if r := h.do(admin, "PATCH", T+"/apps/web", `{"domains":["spinport.example.test"]}`); r.status != 400 || !strings.Contains(r.get("detail").String(), "spinport's own address") {
		t.Errorf("spinport's own host as a domain: %d %s", r.status, r.body)
	}
	if r := h.do(admin, "PATCH", T+"/apps/web", `{"domains":["shop-beta.apps.example.test"]}`); r.status != 400 || r.get("field").String() != "domains" {
		t.Errorf("a host under the base domain: %d %s", r.status, r.body)
	}
	// Verify of a domain the app does not have: 404.
	h.must(404, admin, "POST", T+"/apps/web/domains/other.test/verify", "")
}
