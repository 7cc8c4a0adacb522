//go:build !tinygo

package k8sproxy

// Integration test against a real kube-apiserver (hack/cluster/up.sh; the
// Makefile sets SPINPORT_CLUSTER_ENV=<repo>/.cluster/env when it runs):
//
//	SPINPORT_CLUSTER_ENV=$PWD/.cluster/env go test -run Integration -v ./k8sproxy/
//
// It runs the same flow twice: with the cluster's admin token, and with the
// token of a fresh service account bound only to the ClusterRole that
// rbac.yaml describes (which proves that RBAC is enough).

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

type testCluster struct {
	url, token string
	hc         *http.Client
}

// loadCluster reads the env file up.sh writes (KEY=VALUE lines).
func loadCluster(t *testing.T) *testCluster {
	path := os.Getenv("SPINPORT_CLUSTER_ENV")
	if path == "" {
		t.Skip("SPINPORT_CLUSTER_ENV is not set: no cluster to test against " +
			"(run `make cluster`, then SPINPORT_CLUSTER_ENV=$PWD/.cluster/env go test -run Integration ./k8sproxy/)")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("SPINPORT_CLUSTER_ENV: %v", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	for _, k := range []string{"KUBE_API_URL", "KUBE_TOKEN_FILE", "KUBE_CA_FILE"} {
		if env[k] == "" {
			t.Fatalf("%s: %s missing", path, k)
		}
	}
	tok, err := os.ReadFile(env["KUBE_TOKEN_FILE"])
	if err != nil {
		t.Fatalf("KUBE_TOKEN_FILE: %v", err)
	}
	ca, err := os.ReadFile(env["KUBE_CA_FILE"])
	if err != nil {
		t.Fatalf("KUBE_CA_FILE: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("KUBE_CA_FILE %s: no certificate", env["KUBE_CA_FILE"])
	}
	hc := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	return &testCluster{url: env["KUBE_API_URL"], token: strings.TrimSpace(string(tok)), hc: hc}
}

// raw sends one request with the admin token, outside k8sproxy: for set-up
// and for looking behind k8sproxy's back.
func (k *testCluster) raw(t *testing.T, method, path, ctype string, body []byte) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, k.url+path, rd)
	if err != nil {
		t.Fatalf("%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+k.token)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := k.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (k *testCluster) mustRaw(t *testing.T, method, path, ctype string, body []byte, want ...int) []byte {
	t.Helper()
	st, b := k.raw(t, method, path, ctype, body)
	for _, w := range want {
		if st == w {
			return b
		}
	}
	t.Fatalf("%s %s: %d %s", method, path, st, b)
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

type obj = map[string]any

func managedLabels(extra ...string) obj {
	l := obj{ManagedByLabel: ManagedByValue}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

func TestIntegrationCluster(t *testing.T) {
	k := loadCluster(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%(36*36*36*36*36), 36)
	sysNS := "spinport-it-sys-" + suffix // unmanaged: holds the test service account
	roleName := "spinport-it-" + suffix
	t.Logf("cluster %s, suffix %s", k.url, suffix)

	t.Cleanup(func() {
		for _, p := range []string{
			"/api/v1/namespaces/spinport-it-admin-" + suffix,
			"/api/v1/namespaces/spinport-it-sa-" + suffix,
			"/api/v1/namespaces/" + sysNS,
			"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/" + roleName,
			"/apis/rbac.authorization.k8s.io/v1/clusterroles/" + roleName,
		} {
			if req, err := http.NewRequest("DELETE", k.url+p, nil); err == nil {
				req.Header.Set("Authorization", "Bearer "+k.token)
				if resp, err := k.hc.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}
	})

	// An unmanaged namespace (no managed-by label), made behind k8sproxy's back.
	k.mustRaw(t, "POST", "/api/v1/namespaces", "application/json",
		mustJSON(obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": sysNS, "labels": obj{"purpose": "spinport-it"}}}), 201)

	t.Run("admin", func(t *testing.T) {
		c, err := New(k.url, k.token, k.hc)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		runFlow(t, k, c, "spinport-it-admin-"+suffix, sysNS)
	})

	t.Run("rbac.yaml", func(t *testing.T) {
		token := serviceAccountToken(t, k, sysNS, roleName)
		c, err := New(k.url, token, k.hc)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		// RBAC changes reach the authorizer through an informer: wait for it.
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, err := c.List("Namespace", "", "")
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("service account cannot list namespaces: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		runFlow(t, k, c, "spinport-it-sa-"+suffix, sysNS)

		// And it can do nothing outside the list: e.g. read ConfigMaps, or
		// (least privilege) read Secrets, quotas, executors or events.
		for _, p := range []string{"/api/v1/namespaces/" + sysNS + "/configmaps", "/api/v1/namespaces/" + sysNS + "/secrets",
			"/api/v1/namespaces/" + sysNS + "/secrets/x", "/api/v1/secrets", "/api/v1/namespaces/" + sysNS + "/resourcequotas",
			"/api/v1/namespaces/" + sysNS + "/events", "/api/v1/namespaces/" + sysNS + "/pods/x",
			"/apis/apps/v1/namespaces/" + sysNS + "/deployments",
			"/apis/core.spinkube.dev/v1alpha1/namespaces/" + sysNS + "/spinappexecutors"} {
			req, _ := http.NewRequest("GET", k.url+p, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := k.hc.Do(req)
			if err != nil {
				t.Fatalf("%v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 403 {
				t.Errorf("service account GET %s: %d, want 403", p, resp.StatusCode)
			}
		}
	})
}

// serviceAccountToken makes a service account in ns, binds it to a
// ClusterRole with exactly the rules rbac.yaml has, and returns a token.
func serviceAccountToken(t *testing.T, k *testCluster, ns, roleName string) string {
	var rules []obj
	for _, r := range rbacRuleList() {
		rule := obj{"apiGroups": []string{r.Group}, "resources": []string{r.Resource}, "verbs": r.Verbs}
		if r.Names != nil {
			rule["resourceNames"] = r.Names
		}
		rules = append(rules, rule)
	}
	k.mustRaw(t, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "application/json", mustJSON(obj{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
		"metadata": obj{"name": roleName}, "rules": rules,
	}), 201)
	k.mustRaw(t, "POST", "/api/v1/namespaces/"+ns+"/serviceaccounts", "application/json", mustJSON(obj{
		"apiVersion": "v1", "kind": "ServiceAccount", "metadata": obj{"name": "spinport"},
	}), 201)
	k.mustRaw(t, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "application/json", mustJSON(obj{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": obj{"name": roleName},
		"roleRef":  obj{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": roleName},
		"subjects": []obj{{"kind": "ServiceAccount", "name": "spinport", "namespace": ns}},
	}), 201)
	b := k.mustRaw(t, "POST", "/api/v1/namespaces/"+ns+"/serviceaccounts/spinport/token", "application/json", mustJSON(obj{
		"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
		"spec": obj{"expirationSeconds": 600},
	}), 201)
	tok := gjson.GetBytes(b, "status.token").String()
	if tok == "" {
		t.Fatalf("TokenRequest gave no token")
	}
	return tok
}

// runFlow drives every kind and operation through c against the real API
// server, in a fresh managed namespace ns; unmanaged is an existing
// namespace without the managed-by label.
func runFlow(t *testing.T, k *testCluster, c *Client, ns, unmanaged string) {
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format, args...)
	}
	apply := func(o obj) []byte {
		t.Helper()
		out, err := c.Apply(mustJSON(o))
		if err != nil {
			fail("Apply %v %v: %v", o["kind"], o["metadata"], err)
		}
		return out
	}

	// Namespace: created by server-side apply.
	out := apply(obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": ns, "labels": managedLabels()}})
	if gjson.GetBytes(out, "metadata.name").String() != ns ||
		gjson.GetBytes(out, `metadata.labels.app\.kubernetes\.io/managed-by`).String() != "spinport" {
		t.Errorf("applied namespace: %s", out)
	}
	if out, err := c.Get("Namespace", "", ns); err != nil || gjson.GetBytes(out, "metadata.name").String() != ns {
		t.Errorf("Get Namespace: %s %v", out, err)
	}
	if out, err := c.List("Namespace", "", ""); err != nil || !hasItem(out, ns) || hasItem(out, unmanaged) {
		t.Errorf("List Namespace: has %s=%v, has unmanaged=%v, err %v", ns, hasItem(out, ns), hasItem(out, unmanaged), err)
	}

	// Secret: apply, apply again (no-op), change, conflict. spinport never
	// reads Secrets back (no get/list, neither in the table nor in RBAC):
	// the test looks at them with the admin token.
	secret := func(pw string) obj {
		return obj{"apiVersion": "v1", "kind": "Secret",
			"metadata":   obj{"name": "db", "namespace": ns, "labels": managedLabels("spinport.dev/it", "yes")},
			"type":       "Opaque",
			"stringData": obj{"password": pw}}
	}
	out = apply(secret("hunter2"))
	if gjson.GetBytes(out, "data.password").String() != base64.StdEncoding.EncodeToString([]byte("hunter2")) {
		t.Errorf("applied secret: %s", out)
	}
	rv := gjson.GetBytes(out, "metadata.resourceVersion").String()
	secretPath := "/api/v1/namespaces/" + ns + "/secrets/"
	got := k.mustRaw(t, "GET", secretPath+"db", "", nil, 200)
	if gjson.GetBytes(got, "metadata.resourceVersion").String() != rv {
		t.Errorf("Secret behind k8sproxy: %s", got)
	}
	if mf := gjson.GetBytes(got, `metadata.managedFields.#(manager=="spinport").operation`).String(); mf != "Apply" {
		t.Errorf("managedFields: spinport operation %q, want Apply", mf)
	}
	if _, err := c.Get("Secret", ns, "db"); !IsPolicy(err) {
		t.Errorf("Get Secret: %v, want a policy refusal", err)
	}
	if _, err := c.List("Secret", ns, ""); !IsPolicy(err) {
		t.Errorf("List Secret: %v, want a policy refusal", err)
	}
	out = apply(secret("hunter2"))
	if rv2 := gjson.GetBytes(out, "metadata.resourceVersion").String(); rv2 != rv {
		t.Errorf("re-applying the same secret changed resourceVersion %s -> %s", rv, rv2)
	}

	// Another field manager takes the field without force: the real server's
	// 409 maps to a conflict. spinport's apply (force=true) wins it back.
	intruder := mustJSON(obj{"apiVersion": "v1", "kind": "Secret", "metadata": obj{"name": "db", "namespace": ns},
		"stringData": obj{"password": "stolen"}})
	st, body := k.raw(t, "PATCH", "/api/v1/namespaces/"+ns+"/secrets/db?fieldManager=intruder", ApplyContentType, intruder)
	ce := parseAPIError(st, body, "Secret", "db", func(s string) string { return s })
	if !IsConflict(ce) || ce.Reason != "Conflict" || !strings.Contains(ce.Message, "conflict") {
		t.Errorf("intruder apply: %d %s -> %v", st, body, ce)
	}
	k.mustRaw(t, "PATCH", "/api/v1/namespaces/"+ns+"/secrets/db?fieldManager=intruder&force=true", ApplyContentType, intruder, 200)
	out = apply(secret("correct-horse"))
	if gjson.GetBytes(out, "data.password").String() != base64.StdEncoding.EncodeToString([]byte("correct-horse")) {
		t.Errorf("forced apply did not win: %s", out)
	}

	// One field manager per key of a Secret (what spinkube does for app
	// variables): keys merge, and a manager applying without its key removes
	// only that key.
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	vars := func(data obj) []byte {
		return mustJSON(obj{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": data,
			"metadata": obj{"name": "vars", "namespace": ns, "labels": managedLabels()}})
	}
	for _, step := range []struct {
		manager string
		data    obj
		want    map[string]string
	}{
		{"spinport-var-A", obj{"A": b64("1")}, map[string]string{"A": "1"}},
		{"spinport-var-B", obj{"B": b64("2")}, map[string]string{"A": "1", "B": "2"}},
		{"spinport-var-A", obj{"A": b64("one")}, map[string]string{"A": "one", "B": "2"}},
		{"spinport-var-A", obj{}, map[string]string{"B": "2"}},
		{"spinport-var-B", obj{"B": b64("3")}, map[string]string{"B": "3"}},
	} {
		if _, err := c.ApplyAs(vars(step.data), step.manager); err != nil {
			fail("ApplyAs %s %v: %v", step.manager, step.data, err)
		}
		b := k.mustRaw(t, "GET", secretPath+"vars", "", nil, 200)
		got := map[string]string{}
		gjson.GetBytes(b, "data").ForEach(func(k, v gjson.Result) bool {
			d, _ := base64.StdEncoding.DecodeString(v.String())
			got[k.String()] = string(d)
			return true
		})
		if fmt.Sprint(got) != fmt.Sprint(step.want) {
			t.Errorf("after ApplyAs %s %v: data %v, want %v", step.manager, step.data, got, step.want)
		}
	}

	// Errors from the real server.
	_, err := c.Get("SpinApp", ns, "nope")
	var ae *APIError
	if !IsNotFound(err) || !asAPIError(err, &ae) || ae.Reason != "NotFound" || ae.Message != `spinapps.core.spinkube.dev "nope" not found` || ae.Kind != "SpinApp" || ae.Name != "nope" {
		t.Errorf("Get missing SpinApp: %#v", err)
	}
	_, err = c.Apply(mustJSON(obj{"apiVersion": "v1", "kind": "Secret",
		"metadata": obj{"name": "bad", "namespace": ns, "labels": managedLabels()}, "data": obj{"k": "not base64!"}}))
	// (Server-side apply reports objects it cannot decode as 500 InternalError.)
	if !asAPIError(err, &ae) || ae.Status < 400 || !strings.Contains(ae.Message, "illegal base64") {
		t.Errorf("invalid secret: %v", err)
	}
	_, err = c.Apply(mustJSON(obj{"apiVersion": "v1", "kind": "ResourceQuota",
		"metadata": obj{"name": "q", "namespace": ns, "labels": managedLabels()}, "spec": obj{"hard": obj{"pods": "lots"}}}))
	if !asAPIError(err, &ae) || ae.Status < 400 || !strings.Contains(ae.Message, "quantities must match") {
		t.Errorf("invalid quota: %v", err)
	}
	_, err = c.Apply(mustJSON(obj{"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp",
		"metadata": obj{"name": "bad", "namespace": ns, "labels": managedLabels()}, "spec": obj{"replicas": 1, "executor": "containerd-shim-spin"}}))
	if !asAPIError(err, &ae) || ae.Status != 422 || ae.Reason != "Invalid" || !strings.Contains(ae.Message, `SpinApp.core.spinkube.dev "bad" is invalid`) {
		// (the CRD schema says spec.image is required; with webhooks on, the
		// validating webhook may answer first: the executor is not there yet)
		t.Errorf("invalid SpinApp: %v", err)
	}

	// The policy, against the real cluster.
	if _, err := c.Apply(mustJSON(obj{"apiVersion": "v1", "kind": "Secret",
		"metadata": obj{"name": "db", "namespace": unmanaged, "labels": managedLabels()}})); !IsPolicy(err) {
		t.Errorf("apply into unmanaged namespace: %v", err)
	}
	if _, err := c.Get("SpinApp", unmanaged, "x"); !IsPolicy(err) {
		t.Errorf("get in unmanaged namespace: %v", err)
	}
	if _, err := c.Apply(mustJSON(obj{"apiVersion": "v1", "kind": "Namespace",
		"metadata": obj{"name": unmanaged, "labels": managedLabels()}})); !IsPolicy(err) {
		t.Errorf("take-over of unmanaged namespace: %v", err)
	}
	if err := c.Delete("Namespace", "", unmanaged, "Background"); !IsPolicy(err) {
		t.Errorf("delete of unmanaged namespace: %v", err)
	}
	if b := k.mustRaw(t, "GET", "/api/v1/namespaces/"+unmanaged, "", nil, 200); gjson.GetBytes(b, `metadata.labels.app\.kubernetes\.io/managed-by`).Exists() ||
		gjson.GetBytes(b, "metadata.deletionTimestamp").Exists() {
		t.Errorf("unmanaged namespace was touched: %s", b)
	}
	if _, err := c.Apply(mustJSON(obj{"apiVersion": "v1", "kind": "Pod",
		"metadata": obj{"name": "p", "namespace": ns, "labels": managedLabels()}})); !IsPolicy(err) {
		t.Errorf("pod apply: %v", err)
	}
	if _, err := c.Get("SpinApp", "kube-system", "x"); !IsPolicy(err) {
		t.Errorf("kube-system: %v", err)
	}

	// Every other writable kind: apply; get where spinport reads it (else
	// k8sproxy refuses and the test looks with the admin token); list is
	// refused for all of them.
	for _, o := range []obj{
		{"apiVersion": "v1", "kind": "ResourceQuota", "metadata": obj{"name": "tenant", "namespace": ns, "labels": managedLabels()},
			"spec": obj{"hard": obj{"pods": "20", "count/secrets": "50"}}}, // a limits.* quota would need limits on the operator's pods
		{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": obj{"name": "web", "namespace": ns, "labels": managedLabels()},
			"spec": obj{"rules": []obj{{"host": "web.example.test", "http": obj{"paths": []obj{{"path": "/", "pathType": "Prefix",
				"backend": obj{"service": obj{"name": "web", "port": obj{"number": 80}}}}}}}}}},
		{"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": obj{"name": "web-tls", "namespace": ns, "labels": managedLabels()},
			"spec": obj{"secretName": "web-tls", "dnsNames": []string{"web.example.test"}, "issuerRef": obj{"name": "letsencrypt", "kind": "ClusterIssuer"}}},
		{"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinAppExecutor", "metadata": obj{"name": "containerd-shim-spin", "namespace": ns, "labels": managedLabels()},
			"spec": obj{"createDeployment": true, "deploymentConfig": obj{"runtimeClassName": "wasmtime-spin-v2"}}},
		{"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp", "metadata": obj{"name": "web", "namespace": ns, "labels": managedLabels()},
			"spec": obj{"image": "ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.13.0", "replicas": 1, "executor": "containerd-shim-spin"}},
		{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": obj{"name": "web", "namespace": ns, "labels": managedLabels()},
			"spec": obj{"scaleTargetRef": obj{"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp", "name": "web"},
				"minReplicas": 1, "maxReplicas": 2, "metrics": []obj{{"type": "Resource",
					"resource": obj{"name": "cpu", "target": obj{"type": "Utilization", "averageUtilization": 80}}}}}},
	} {
		kind := o["kind"].(string)
		name := o["metadata"].(obj)["name"].(string)
		apply(o)
		ki, _ := lookupKind(kind)
		if ki.ops&opGet != 0 {
			if b, err := c.Get(kind, ns, name); err != nil || gjson.GetBytes(b, "metadata.name").String() != name {
				t.Errorf("Get %s: %s %v", kind, b, err)
			}
		} else {
			if _, err := c.Get(kind, ns, name); !IsPolicy(err) {
				t.Errorf("Get %s: %v, want a policy refusal", kind, err)
			}
			k.mustRaw(t, "GET", ki.path(ns, name), "", nil, 200)
		}
		if _, err := c.List(kind, ns, ""); !IsPolicy(err) {
			t.Errorf("List %s: %v, want a policy refusal", kind, err)
		}
	}

	// The operator turns the SpinApp into a Deployment and kwok runs its pod:
	// read-only Deployment, Pods (list by label), logs.
	var pod string
	deadline := time.Now().Add(45 * time.Second)
	for pod == "" && time.Now().Before(deadline) {
		if b, err := c.List("Pod", ns, "core.spinkube.dev/app-name=web"); err == nil {
			for _, p := range gjson.GetBytes(b, "items").Array() {
				if p.Get("status.phase").String() == "Running" {
					pod = p.Get("metadata.name").String()
				}
			}
		} else {
			t.Errorf("List Pod: %v", err)
			break
		}
		if pod == "" {
			time.Sleep(300 * time.Millisecond)
		}
	}
	if b, err := c.Get("Deployment", ns, "web"); err != nil || gjson.GetBytes(b, "metadata.name").String() != "web" {
		t.Errorf("Get Deployment: %s %v", b, err)
	}
	if _, err := c.List("Deployment", ns, ""); !IsPolicy(err) {
		t.Errorf("List Deployment: %v, want a policy refusal", err)
	}
	if b, err := c.List("Pod", ns, "core.spinkube.dev/app-name=nope"); err != nil || gjson.GetBytes(b, "items.#").Int() != 0 {
		t.Errorf("List Pod by another label: %s %v", b, err)
	}
	if pod == "" {
		t.Errorf("no running pod for SpinApp web within 45s")
	} else {
		if _, err := c.Get("Pod", ns, pod); !IsPolicy(err) {
			t.Errorf("Get Pod: %v, want a policy refusal", err)
		}
		logs, err := c.PodLogs(ns, pod, 2, 0, "")
		if err != nil || !strings.Contains(string(logs), "hello") || strings.Count(strings.TrimSpace(string(logs)), "\n") != 1 {
			t.Errorf("PodLogs tail 2: %q %v", logs, err)
		}
		if logs, err := c.PodLogs(ns, pod, 0, 0, "web"); err != nil || !strings.Contains(string(logs), "Serving http") {
			t.Errorf("PodLogs container web: %q %v", logs, err)
		}
		if _, err := c.PodLogs(ns, pod, 0, 0, "nope"); !asAPIError(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "container nope is not valid") {
			t.Errorf("PodLogs of a missing container: %v", err)
		}
		if err := c.Delete("Pod", ns, pod, ""); !IsPolicy(err) {
			t.Errorf("Pod delete: %v", err)
		}
	}
	if _, err := c.PodLogs(ns, "no-such-pod", 1, 0, ""); !IsNotFound(err) {
		t.Errorf("PodLogs of a missing pod: %v", err)
	}

	// Delete: object, again (404 is success), every deletable kind, namespace.
	if err := c.Delete("Secret", ns, "db", "Foreground"); err != nil {
		t.Errorf("Delete Secret: %v", err)
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		st, b := k.raw(t, "GET", secretPath+"db", "", nil)
		if st == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("secret still there after Delete: %d %s", st, b)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := c.Delete("Secret", ns, "db", "Background"); err != nil {
		t.Errorf("second Delete Secret: %v", err)
	}
	for _, kind := range []string{"Certificate", "Ingress", "HorizontalPodAutoscaler"} {
		name := "web"
		if kind == "Certificate" {
			name = "web-tls"
		}
		if err := c.Delete(kind, ns, name, "Background"); err != nil {
			t.Errorf("Delete %s: %v", kind, err)
		}
	}
	for _, kind := range []string{"ResourceQuota", "SpinAppExecutor"} {
		if err := c.Delete(kind, ns, "x", ""); !IsPolicy(err) {
			t.Errorf("Delete %s: %v, want a policy refusal", kind, err)
		}
	}
	if err := c.Delete("SpinApp", ns, "web", "Foreground"); err != nil {
		t.Errorf("Delete SpinApp: %v", err)
	}
	if err := c.Delete("Namespace", "", ns, "Background"); err != nil {
		t.Errorf("Delete Namespace: %v", err)
	}
	c2, _ := New(k.url, c.token, k.hc) // fresh cache
	b, err := c2.Get("Namespace", "", ns)
	if !IsNotFound(err) && !(err == nil && gjson.GetBytes(b, "metadata.deletionTimestamp").Exists()) {
		t.Errorf("namespace after Delete: %s %v", b, err)
	}
	if err := c2.Delete("Namespace", "", ns, "Foreground"); err != nil {
		t.Errorf("second Delete Namespace: %v", err)
	}
}

func hasItem(list []byte, name string) bool {
	for _, it := range gjson.GetBytes(list, "items").Array() {
		if it.Get("metadata.name").String() == name {
			return true
		}
	}
	return false
}

func asAPIError(err error, target **APIError) bool {
	e, ok := err.(*APIError)
	if ok {
		*target = e
	}
	return ok
}
