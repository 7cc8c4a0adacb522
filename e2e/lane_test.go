package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The API server itself keeps spinport's service account in its lane
// (deploy/admission-policy.yaml, a ValidatingAdmissionPolicy): with
// spinport's own token used directly, bypassing k8sproxy, writes into
// kube-system, into a namespace spinport does not manage, of an unmanaged
// namespace itself, and of a service-account token Secret are refused; the
// writes spinport makes are not. RBAC alone allows all of them (create
// and patch on Secrets are cluster-wide).
func TestClusterAdmissionPolicyKeepsSpinportInItsLane(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	token := k.spinportToken(t, suffix)
	sysNS := "spinport-e2e-sys-" + suffix // where spinportToken made the ServiceAccount "spinport"

	_, manifest := requireSpinport(t)
	policy, err := os.ReadFile(filepath.Join(filepath.Dir(manifest), "deploy", "admission-policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(policy)
	for _, must := range []string{"system:serviceaccount:spinport-system:spinport", "variables.ns == 'spinport-system'", "name: spinport-lane", "policyName: spinport-lane"} {
		if !strings.Contains(doc, must) {
			t.Fatalf("deploy/admission-policy.yaml no longer contains %q; update this test", must)
		}
	}
	doc = strings.ReplaceAll(doc, "spinport-system", sysNS)
	doc = strings.ReplaceAll(doc, "spinport-lane", "spinport-lane-"+suffix)
	k.kubectl(t, doc, "apply", "-f", "-")
	t.Cleanup(func() {
		_, _, _ = k.call("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/spinport-lane-"+suffix, "", nil)
		_, _, _ = k.call("DELETE", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/spinport-lane-"+suffix, "", nil)
	})

	as := func(method, path string, body any) (int, string) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, k.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := k.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(out)
	}
	secret := func(name, typ string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Secret", "type": typ,
			"metadata": map[string]any{"name": name, "labels": map[string]any{"app.kubernetes.io/managed-by": "spinport"},
				"annotations": map[string]any{"kubernetes.io/service-account.name": "default"}}}
	}
	managed := "spinport-lane-ok-" + suffix
	unmanaged := "spinport-lane-no-" + suffix
	t.Cleanup(func() {
		_, _, _ = k.call("DELETE", nsPath(managed), "", nil)
		_, _, _ = k.call("DELETE", nsPath(unmanaged), "", nil)
	})
	k.mustCall(t, "POST", "/api/v1/namespaces", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": unmanaged}}, 201)

	// The policy takes effect once the API server has compiled it.
	eventually(t, 30*time.Second, "the admission policy refusing a Secret in kube-system", func() string {
		st, out := as("POST", "/api/v1/namespaces/kube-system/secrets", secret("stolen-"+suffix, "Opaque"))
		if st == http.StatusCreated {
			_, _, _ = k.call("DELETE", corePath("kube-system", "secrets", "stolen-"+suffix), "", nil)
		}
		if st != http.StatusForbidden || !strings.Contains(out, "spinport-lane") {
			return strconv.Itoa(st) + " " + out
		}
		return ""
	})

	// What spinport does still works: a managed namespace and a Secret in it.
	if st, out := as("POST", "/api/v1/namespaces", map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": managed, "labels": map[string]any{"app.kubernetes.io/managed-by": "spinport"}}}); st != 201 {
		t.Fatalf("creating a managed namespace: %d %s", st, out)
	}
	if st, out := as("POST", "/api/v1/namespaces/"+managed+"/secrets", secret("db", "Opaque")); st != 201 {
		t.Errorf("a Secret in a managed namespace: %d %s", st, out)
	}

	for _, c := range []struct {
		what, method, path string
		body               any
		says               string
	}{
		{"a namespace without spinport's label", "POST", "/api/v1/namespaces",
			map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "spinport-lane-x-" + suffix}}, "managed-by"},
		{"a Secret in an unmanaged namespace", "POST", "/api/v1/namespaces/" + unmanaged + "/secrets", secret("db", "Opaque"), "managed-by"},
		{"a service-account token Secret", "POST", "/api/v1/namespaces/" + managed + "/secrets",
			secret("token", "kubernetes.io/service-account-token"), "service-account token"},
		{"deleting an unmanaged namespace", "DELETE", nsPath(unmanaged), nil, "managed-by"},
		{"a token for another service account", "POST", "/api/v1/namespaces/kube-system/serviceaccounts/default/token",
			map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": map[string]any{}}, ""},
	} {
		st, out := as(c.method, c.path, c.body)
		if st < 400 || st >= 500 || (c.says != "" && !strings.Contains(out, c.says)) {
			t.Errorf("%s: %d %s; want a refusal saying %q", c.what, st, out, c.says)
		}
	}
	if _, ok := k.object(t, nsPath(unmanaged)); !ok {
		t.Error("the unmanaged namespace was deleted")
	}

	// spinport itself, with the policy on, does everything it does.
	h := startClusterHost(t, "spinport", k.URL, k.CAFile, token)
	api := h.admin(t)
	tenant := "e2e-lane-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	api.must(201, "POST", base+"/apps", map[string]any{"name": "web", "autoscaling": map[string]any{"minReplicas": 1, "maxReplicas": 2}, "domains": []string{"www." + suffix + ".example.com"}})
	api.must(201, "PUT", base+"/apps/web/variables/db_password", map[string]any{"value": "s3cret", "secret": true})
	r := api.must(201, "POST", base+"/apps/web/deployments", map[string]any{"image": helloImage + "@" + digestOf("lane "+suffix)})
	if r.str("state") != "applied" {
		t.Errorf("deploy under the policy: %s", r)
	}
	api.must(200, "PATCH", base+"/apps/web", map[string]any{"replicas": 1})
	api.must(200, "GET", base+"/apps/web/status", nil)
	api.must(204, "DELETE", base+"/apps/web", nil)
	api.must(204, "DELETE", base, nil)
}
