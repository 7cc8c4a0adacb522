package e2e

import (
	"bytes"
	"database/sql"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/dns/armdns"
	"github.com/spinport/spinport/e2e/armfake"
	"github.com/spinport/spinport/spinhost"
)

// The Azure side through the real .wasm, on the loopback cluster:
//
//   - Entra ID is armfake.Entra (fake). What it checks is Entra's real
//     contract for a federated credential: spinport gets a token of its own
//     service account from the loopback kube-apiserver's TokenRequest API
//     (real, under k8sproxy/rbac.yaml's resourceNames grant) with audience
//     api://AzureADTokenExchange and presents it as client_assertion; the
//     fake fetches the API server's real issuer discovery and JWKS and
//     verifies signature, iss, aud, sub and expiry. No Azure secret is
//     configured anywhere.
//   - ARM is armfake.Server: the azure-sdk-for-go fake servers (armdns,
//     armcontainerregistry v1.2.0) parse spinport's paths, headers and
//     bodies with the SDK's own models; armfake checks api-versions and
//     bearer tokens (only ones the Entra fake issued) and keeps state.
//
// It checks: push credentials (created, shown once, scoped to the tenant's
// repositories, rotated into the other slot, revoked, cleaned up with the
// tenant), one Entra token reused across requests from the KV store where
// it is sealed, DNS records for app hosts created, refused when a record
// is not spinport's, and removed with the app, and Azure failures as
// problem+json.
func TestClusterAzure(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	token := k.spinportToken(t, suffix)
	sysNS := "spinport-e2e-sys-" + suffix // where spinportToken made the ServiceAccount "spinport"
	const (
		tenantID = "00000000-0000-0000-0000-0000000000aa"
		clientID = "11111111-2222-3333-4444-555555555555"
		sub      = "6a2c7d0e-0000-4000-8000-000000000001"
		rg       = "spinport-rg"
		acr      = "spinportacr"
		target   = "20.50.60.70"
		other    = "azure-e2e.test" // a second managed zone, for custom domains
	)

	entra := armfake.NewEntra(tenantID, k.hc)
	entra.AddFederated(clientID, armfake.FederatedCredential{Issuer: "https://kubernetes.default.svc.cluster.local",
		Subject: "system:serviceaccount:" + sysNS + ":spinport", DiscoveryURL: k.URL, BearerToken: k.AdminToken})
	entSrv := httptest.NewTLSServer(entra)
	t.Cleanup(entSrv.Close)
	arm := armfake.New()
	arm.Entra = entra
	arm.AddZone(sub, rg, e2eBaseDomain)
	arm.AddZone(sub, rg, other)
	arm.AddRegistry(sub, rg, acr)
	armSrv := httptest.NewTLSServer(arm)
	t.Cleanup(armSrv.Close)

	// The host trusts the cluster CA and the two loopback servers.
	caFile := caBundle(t, k.CAFile, entSrv.Certificate(), armSrv.Certificate())
	vars := map[string]string{
		"self_namespace": sysNS, "azure_tenant_id": tenantID, "azure_client_id": clientID,
		"azure_authority": entSrv.URL, "arm_endpoint": armSrv.URL, "azure_retry_budget": "10s",
		"acr_registry": sub + "/" + rg + "/" + acr, "dns_zones": sub + "/" + rg + "/" + e2eBaseDomain + "," + sub + "/" + rg + "/" + other,
		"dns_target": target,
	}
	h := startClusterHost(t, "spinport", k.URL, caFile, token, vars)
	api := h.admin(t)
	tenant := "e2e-az-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	api.must(201, "POST", base+"/apps", map[string]any{"name": "web"})

	// Push credentials.
	c := api.must(201, "POST", base+"/push-credentials", map[string]any{"name": "ci", "expiresInDays": 30})
	tokName := "spinport-" + tenant + "-ci"
	pw := c.str("password")
	if pw == "" || pw != arm.TokenPassword(sub, rg, acr, tokName, "password1") || c.str("credential.username") != tokName ||
		c.str("loginServer") != acr+".azurecr.io" || c.str("repository") != acr+".azurecr.io/"+tenant+"/<app>" {
		t.Errorf("created: %s", c)
	}
	sm, ok := arm.ScopeMap(sub, rg, acr, "spinport-"+tenant)
	var actions []string
	if ok && sm.Properties != nil {
		for _, a := range sm.Properties.Actions {
			actions = append(actions, *a)
		}
	}
	if want := "repositories/" + tenant + "/web/content/write"; !strings.Contains(strings.Join(actions, " "), want) {
		t.Errorf("scope map actions %v lack %s", actions, want)
	}
	if tok, ok := arm.Token(sub, rg, acr, tokName); !ok || tok.Properties == nil || !strings.HasSuffix(*tok.Properties.ScopeMapID, "/scopeMaps/spinport-"+tenant) {
		t.Errorf("registry token: %+v", tok)
	}
	rot := api.must(200, "POST", base+"/push-credentials/ci/rotate", nil)
	if p2 := rot.str("password"); p2 == "" || p2 == pw || p2 != arm.TokenPassword(sub, rg, acr, tokName, "password2") || rot.num("credential.passwordSlot") != 2 {
		t.Errorf("rotated: %s", rot)
	}
	list := api.must(200, "GET", base+"/push-credentials", nil)
	if strings.Contains(string(list.Body), pw) {
		t.Errorf("the list shows a password: %s", list)
	}
	if n := len(entra.Issued()); n != 1 {
		t.Errorf("Entra issued %d tokens over several requests, want 1 (reused from the KV store): %v", n, entra.Refusals())
	}

	// DNS: the default host in the managed base-domain zone.
	rev := api.must(201, "POST", base+"/apps/web/deployments", map[string]any{"image": helloImage + "@" + digestOf("az "+suffix)})
	rec, ok := arm.Record(sub, rg, e2eBaseDomain, "web-"+tenant, armdns.RecordTypeA)
	if !ok || rec.Properties == nil || len(rec.Properties.ARecords) != 1 || *rec.Properties.ARecords[0].IPv4Address != target ||
		rec.Properties.Metadata["managedBy"] == nil || *rec.Properties.Metadata["managedBy"] != "spinport" {
		t.Errorf("default host record: %+v (%v)", rec, ok)
	}
	// A custom domain whose record exists and is not spinport's: a 409
	// that names it; the record is untouched.
	arm.PutRecord(sub, rg, other, "shop", armdns.RecordTypeA, armdns.RecordSetProperties{TTL: to.Ptr[int64](60),
		ARecords: []*armdns.ARecord{{IPv4Address: to.Ptr("198.51.100.7")}}})
	r := api.do("PATCH", base+"/apps/web", map[string]any{"domains": []string{"shop." + other}})
	if !r.isProblem(409, "", "shop") {
		t.Errorf("a record that is not spinport's: %s", r)
	}
	if rec, _ := arm.Record(sub, rg, other, "shop", armdns.RecordTypeA); *rec.Properties.ARecords[0].IPv4Address != "198.51.100.7" {
		t.Errorf("spinport changed a record it does not own: %+v", rec.Properties)
	}
	// Azure down (503 with a Retry-After beyond azure_retry_budget, 10s here): 503.
	tokPath := "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.ContainerRegistry/registries/" + acr + "/tokens/" + tokName
	arm.FailNext("PUT", tokPath, 503, "ServiceUnavailable", "60")
	if r := api.do("POST", base+"/push-credentials/ci/rotate", nil); !r.isProblem(503, "", "ServiceUnavailable") {
		t.Errorf("ARM unavailable: %s", r)
	}
	for _, rq := range arm.Requests() {
		want := "2023-07-01"
		if strings.Contains(rq.Path, "Microsoft.Network") {
			want = "2018-05-01"
		}
		if rq.APIVersion != want && rq.API != "" {
			t.Errorf("%s %s api-version %s, want %s", rq.Method, rq.Path, rq.APIVersion, want)
		}
	}

	// Nothing secret in spinport's records; the access token is sealed.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(h.StateDir, spinhost.DefaultKVFilename)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT key, value FROM spin_key_value`)
	if err != nil {
		t.Fatal(err)
	}
	sealed := false
	for rows.Next() {
		var key string
		var v []byte
		if err := rows.Scan(&key, &v); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(v, []byte(pw)) || bytes.Contains(v, []byte(rot.str("password"))) || bytes.Contains(v, []byte("eyJ")) {
			t.Errorf("KV key %s holds a secret: %s", key, v)
		}
		if strings.HasPrefix(key, "sp/cache/azure-token-") && bytes.HasPrefix(v, []byte("v1.")) {
			sealed = true
		}
	}
	rows.Close()
	if !sealed {
		t.Error("no sealed Entra token in the KV store")
	}

	// Revoke, then the app and the tenant: records, tokens and the scope map go.
	api.must(204, "DELETE", base+"/push-credentials/ci", nil)
	if _, ok := arm.Token(sub, rg, acr, tokName); ok {
		t.Error("the revoked credential's registry token is still there")
	}
	_ = rev
	api.must(204, "DELETE", base+"/apps/web", nil)
	if _, ok := arm.Record(sub, rg, e2eBaseDomain, "web-"+tenant, armdns.RecordTypeA); ok {
		t.Error("the deleted app's record is still there")
	}
	if _, ok := arm.Record(sub, rg, other, "shop", armdns.RecordTypeA); !ok {
		t.Error("spinport deleted a record it does not own")
	}
	api.must(204, "DELETE", base, nil)
	if _, ok := arm.ScopeMap(sub, rg, acr, "spinport-"+tenant); ok {
		t.Error("the deleted tenant's scope map is still there")
	}
	audit := entra.Refusals()
	if len(audit) != 0 {
		t.Errorf("Entra refused: %v", audit)
	}
}

// A federated credential for another subject: Entra refuses, and the
// answer says spinport's sign-in failed with Entra's code, not a 500.
func TestClusterAzureSignInRefused(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	token := k.spinportToken(t, suffix)
	const tenantID, clientID, sub, rg, acr = "00000000-0000-0000-0000-0000000000aa", "11111111-2222-3333-4444-555555555555", "6a2c7d0e-0000-4000-8000-000000000001", "rg", "spinportacr"
	entra := armfake.NewEntra(tenantID, k.hc)
	entra.AddFederated(clientID, armfake.FederatedCredential{Issuer: "https://kubernetes.default.svc.cluster.local",
		Subject: "system:serviceaccount:spinport-system:someone-else", DiscoveryURL: k.URL, BearerToken: k.AdminToken})
	entSrv := httptest.NewTLSServer(entra)
	t.Cleanup(entSrv.Close)
	arm := armfake.New()
	arm.Entra = entra
	arm.AddRegistry(sub, rg, acr)
	armSrv := httptest.NewTLSServer(arm)
	t.Cleanup(armSrv.Close)
	caFile := caBundle(t, k.CAFile, entSrv.Certificate(), armSrv.Certificate())
	h := startClusterHost(t, "spinport", k.URL, caFile, token, map[string]string{
		"self_namespace": "spinport-e2e-sys-" + suffix, "azure_tenant_id": tenantID, "azure_client_id": clientID,
		"azure_authority": entSrv.URL, "arm_endpoint": armSrv.URL, "acr_registry": sub + "/" + rg + "/" + acr})
	api := h.admin(t)
	tenant := "e2e-azno-" + suffix
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath("spinport-"+tenant), "", nil) })
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	api.must(201, "POST", "/api/v1/tenants/"+tenant+"/apps", map[string]any{"name": "web"})
	r := api.do("POST", "/api/v1/tenants/"+tenant+"/push-credentials", map[string]any{"name": "ci"})
	if !r.isProblem(502, "", "AADSTS700213") || !strings.Contains(r.str("detail"), "Entra ID refused") {
		t.Errorf("refused sign-in: %s", r)
	}
	if len(entra.Issued()) != 0 || len(entra.Refusals()) == 0 {
		t.Errorf("Entra issued %v, refused %v", entra.Issued(), entra.Refusals())
	}
	if got := api.must(200, "GET", "/api/v1/tenants/"+tenant+"/push-credentials", nil); strings.Contains(string(got.Body), `"ci"`) {
		t.Errorf("a failed create left a credential: %s", got)
	}
}
