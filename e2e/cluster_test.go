package e2e

// Kubernetes end to end: spinport's real .wasm in the spinhost test host
// drives a real kube-apiserver + spin-operator (hack/cluster, the loopback
// cluster `make test` starts; SPINPORT_CLUSTER_ENV points at its env file)
// through spinport's HTTP API only, and the tests check what the API server
// stores. spinport runs with the token of a ServiceAccount bound to nothing
// but the ClusterRole in k8sproxy/rbac.yaml, and trusts the cluster CA only
// through the system CA bundle the host gives the guest (spinhost's
// CABundleFile), as SpinKube does with the executor's caCertSecret.
//
//	make test                         # everything, with the cluster
//	SPINPORT_CLUSTER_ENV=$PWD/.cluster/env make test-e2e   # with `make cluster` up
//
// TestClusterWebhooks runs the SpinApp flow once more against a second
// cluster started with spin-operator's admission webhooks (WEBHOOKS=1 on its
// own ports and state dir), unless the cluster in SPINPORT_CLUSTER_ENV
// already has them.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spinport/spinport/e2e/dohserver"
)

// The image every test deploys (kwok runs no containers: it is never pulled).
const (
	helloRepo  = "ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello"
	helloImage = helloRepo + ":v0.13.0"
	helloNext  = helloRepo + ":v0.14.0"
)

// ---- the cluster

// kubeCluster is a running hack/cluster cluster, read from its env file.
type kubeCluster struct {
	EnvFile    string
	Dir        string // SPINCLUSTER_DIR
	URL        string // https://127.0.0.1:PORT
	HostPort   string // 127.0.0.1:PORT
	CAFile     string
	Kubeconfig string // admin
	AdminToken string
	Webhooks   bool
	hc         *http.Client
}

// requireCluster returns the cluster SPINPORT_CLUSTER_ENV names, or skips
// (fails under CI) without one.
func requireCluster(tb testing.TB) *kubeCluster {
	tb.Helper()
	path := os.Getenv("SPINPORT_CLUSTER_ENV")
	if path == "" {
		skipOrFail(tb, "SPINPORT_CLUSTER_ENV is not set: no Kubernetes cluster (`make test` starts one; or `make cluster` and "+
			"SPINPORT_CLUSTER_ENV=$PWD/.cluster/env make test-e2e)")
	}
	return loadKubeCluster(tb, path)
}

func loadKubeCluster(tb testing.TB, path string) *kubeCluster {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("cluster env: %v", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "), "=")
		if ok && !strings.HasPrefix(k, "#") {
			env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	for _, k := range []string{"KUBE_API_URL", "KUBE_TOKEN_FILE", "KUBE_CA_FILE", "KUBECONFIG"} {
		if env[k] == "" {
			tb.Fatalf("%s: %s is missing", path, k)
		}
	}
	tok, err := os.ReadFile(env["KUBE_TOKEN_FILE"])
	if err != nil {
		tb.Fatalf("cluster admin token: %v", err)
	}
	ca, err := os.ReadFile(env["KUBE_CA_FILE"])
	if err != nil {
		tb.Fatalf("cluster CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		tb.Fatalf("%s holds no certificate", env["KUBE_CA_FILE"])
	}
	u, err := url.Parse(env["KUBE_API_URL"])
	if err != nil {
		tb.Fatal(err)
	}
	k := &kubeCluster{
		EnvFile: path, Dir: env["SPINCLUSTER_DIR"], URL: env["KUBE_API_URL"], HostPort: u.Host, CAFile: env["KUBE_CA_FILE"],
		Kubeconfig: env["KUBECONFIG"], AdminToken: strings.TrimSpace(string(tok)), Webhooks: env["SPINCLUSTER_WEBHOOKS"] == "1",
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		}},
	}
	if st, _, err := k.call("GET", "/readyz", "", nil); err != nil || st != 200 {
		tb.Fatalf("the cluster in %s does not answer /readyz (%d, %v): is it up? (`make cluster`)", path, st, err)
	}
	k.waitQuotaCountsSpinApps(tb)
	return k
}

// quotaReady remembers the clusters (by env file) whose quota controller
// is known to count SpinApps.
var quotaReady sync.Map

// waitQuotaCountsSpinApps waits until the cluster's quota controller
// computes count/spinapps.core.spinkube.dev. Until it does, the API server
// refuses every SpinApp in a namespace with such a quota ("status unknown
// for quota"). On a cluster started moments ago the quota controller may
// not know the SpinApp resource yet: it discovers new resource types every
// 30 s, and a quota it computed before that stays without the count until
// its spec changes or the full resync (5 min). So the probe quota's spec is
// changed every 2 s until its status has the count.
func (k *kubeCluster) waitQuotaCountsSpinApps(tb testing.TB) {
	tb.Helper()
	if _, ok := quotaReady.Load(k.EnvFile); ok {
		return
	}
	ns := "quota-probe-" + randomSuffix()
	k.mustCall(tb, "POST", "/api/v1/namespaces", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}, 201)
	defer func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) }()
	k.mustCall(tb, "POST", "/api/v1/namespaces/"+ns+"/resourcequotas", map[string]any{"apiVersion": "v1", "kind": "ResourceQuota",
		"metadata": map[string]any{"name": "probe"}, "spec": map[string]any{"hard": map[string]any{"count/spinapps.core.spinkube.dev": "1"}}}, 201)
	start := time.Now()
	bumped, n := time.Now(), 1
	eventually(tb, 90*time.Second, "the quota controller counts SpinApps", func() string {
		q := k.mustObject(tb, corePath(ns, "resourcequotas", "probe"))
		if q.s("status", "used", "count/spinapps.core.spinkube.dev") != "" {
			return ""
		}
		if time.Since(bumped) > 2*time.Second {
			n++
			bumped = time.Now()
			k.mustCall(tb, "PATCH", corePath(ns, "resourcequotas", "probe"),
				map[string]any{"spec": map[string]any{"hard": map[string]any{"count/spinapps.core.spinkube.dev": strconv.Itoa(n)}}}, 200)
		}
		return "status: " + q.s("status")
	})
	if d := time.Since(start); d > time.Second {
		tb.Logf("waited %s for the quota controller to count SpinApps", d.Round(100*time.Millisecond))
	}
	quotaReady.Store(k.EnvFile, true)
}

// call sends one request with the admin token, behind spinport's back.
func (k *kubeCluster) call(method, path, ctype string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, k.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+k.AdminToken)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := k.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// mustCall is call that fails the test unless the status is one of want.
func (k *kubeCluster) mustCall(tb testing.TB, method, path string, body any, want ...int) kobj {
	tb.Helper()
	var b []byte
	ctype := ""
	if body != nil {
		ctype = "application/json"
		if method == "PATCH" {
			ctype = "application/merge-patch+json"
		}
		var err error
		if b, err = json.Marshal(body); err != nil {
			tb.Fatal(err)
		}
	}
	st, out, err := k.call(method, path, ctype, b)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	for _, w := range want {
		if st == w {
			o, _ := parseKobj(out)
			return o
		}
	}
	tb.Fatalf("%s %s: %d %s (want %v)", method, path, st, out, want)
	return nil
}

// object GETs one object: found is false on 404.
func (k *kubeCluster) object(tb testing.TB, path string) (o kobj, found bool) {
	tb.Helper()
	st, out, err := k.call("GET", path, "", nil)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	switch st {
	case 200:
		o, err := parseKobj(out)
		if err != nil {
			tb.Fatalf("GET %s: %v", path, err)
		}
		return o, true
	case 404:
		return nil, false
	}
	tb.Fatalf("GET %s: %d %s", path, st, out)
	return nil, false
}

func (k *kubeCluster) mustObject(tb testing.TB, path string) kobj {
	tb.Helper()
	o, ok := k.object(tb, path)
	if !ok {
		tb.Fatalf("GET %s: 404, want the object to exist", path)
	}
	return o
}

// kubectl runs kubectl with the admin kubeconfig.
func (k *kubeCluster) kubectl(tb testing.TB, stdin string, args ...string) string {
	tb.Helper()
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", k.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Paths of the objects spinport makes.
func nsPath(ns string) string { return "/api/v1/namespaces/" + ns }
func corePath(ns, res, name string) string {
	return "/api/v1/namespaces/" + ns + "/" + res + "/" + name
}
func groupPath(gv, ns, res, name string) string {
	return "/apis/" + gv + "/namespaces/" + ns + "/" + res + "/" + name
}
func spinAppPath(ns, name string) string {
	return groupPath("core.spinkube.dev/v1alpha1", ns, "spinapps", name)
}

// ---- Kubernetes objects as decoded JSON

type kobj map[string]any

func parseKobj(b []byte) (kobj, error) {
	var o kobj
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	err := d.Decode(&o)
	return o, err
}

// at walks keys (object fields, or list indexes as decimal strings).
func (o kobj) at(keys ...string) any {
	var v any = map[string]any(o)
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case kobj:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// s is the value at keys as a string ("" if missing).
func (o kobj) s(keys ...string) string { return jsonString(o.at(keys...)) }

func (o kobj) n(keys ...string) int64 {
	i, _ := strconv.ParseInt(o.s(keys...), 10, 64)
	return i
}

func (o kobj) list(keys ...string) []kobj {
	l, _ := o.at(keys...).([]any)
	out := make([]kobj, 0, len(l))
	for _, e := range l {
		m, _ := e.(map[string]any)
		out = append(out, kobj(m))
	}
	return out
}

func (o kobj) strs(keys ...string) []string {
	l, _ := o.at(keys...).([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// find returns the element of the list at keys whose field equals value.
func (o kobj) find(field, value string, keys ...string) kobj {
	for _, e := range o.list(keys...) {
		if e.s(field) == value {
			return e
		}
	}
	return nil
}

// ---- checks

type checker struct {
	tb   testing.TB
	what string
}

// eq records a failure when got != want.
func (c checker) eq(name, got, want string) {
	c.tb.Helper()
	if got != want {
		c.tb.Errorf("%s: %s = %q, want %q", c.what, name, got, want)
	}
}

// eventually polls f every 100ms until it returns "" or timeout passes;
// then it fails the test with the last message.
func eventually(tb testing.TB, timeout time.Duration, what string, f func() string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not after %s: %s", what, timeout, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	s := strconv.FormatUint(n, 36)
	for len(s) < 6 {
		s = "0" + s
	}
	return s[:6]
}

// ---- spinport's credentials

// spinportToken creates a ServiceAccount bound (by a ClusterRoleBinding)
// to the ClusterRole of k8sproxy/rbac.yaml, applied under a test name, and
// returns a token of it. Everything is deleted when the test ends.
func (k *kubeCluster) spinportToken(tb testing.TB, suffix string) string {
	tb.Helper()
	_, manifest := requireSpinport(tb)
	rbac, err := os.ReadFile(filepath.Join(filepath.Dir(manifest), "k8sproxy", "rbac.yaml"))
	if err != nil {
		tb.Fatalf("k8sproxy/rbac.yaml: %v", err)
	}
	role, _, _ := strings.Cut(string(rbac), "\n---")
	if !strings.Contains(role, "kind: ClusterRole") || !strings.Contains(role, "\n  name: spinport\n") {
		tb.Fatalf("k8sproxy/rbac.yaml no longer starts with the ClusterRole \"spinport\"; update spinportToken:\n%s", role)
	}
	name := "spinport-e2e-" + suffix
	sysNS := "spinport-e2e-sys-" + suffix // not managed by spinport: holds the ServiceAccount
	tb.Cleanup(func() {
		for _, p := range []string{
			"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/" + name,
			"/apis/rbac.authorization.k8s.io/v1/clusterroles/" + name,
			nsPath(sysNS),
		} {
			_, _, _ = k.call("DELETE", p, "", nil)
		}
	})
	k.kubectl(tb, strings.Replace(role, "\n  name: spinport\n", "\n  name: "+name+"\n", 1), "apply", "-f", "-")
	k.mustCall(tb, "POST", "/api/v1/namespaces", map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": sysNS}}, 201)
	k.mustCall(tb, "POST", "/api/v1/namespaces/"+sysNS+"/serviceaccounts", map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": "spinport"}}, 201)
	k.mustCall(tb, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": map[string]any{"name": name},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "spinport", "namespace": sysNS}},
	}, 201)
	tr := k.mustCall(tb, "POST", "/api/v1/namespaces/"+sysNS+"/serviceaccounts/spinport/token", map[string]any{
		"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": map[string]any{"expirationSeconds": 7200},
	}, 201)
	token := tr.s("status", "token")
	if token == "" {
		tb.Fatal("TokenRequest returned no token")
	}
	// The authorizer learns about the binding through an informer.
	eventually(tb, 20*time.Second, "the ServiceAccount can list namespaces", func() string {
		req, _ := http.NewRequest("GET", k.URL+"/api/v1/namespaces?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := k.hc.Do(req)
		if err != nil {
			return err.Error()
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			return res.Status
		}
		return ""
	})
	return token
}

// clusterCABundle writes the host's CA bundle for a cluster: the system
// roots (/etc/ssl/certs/ca-certificates.crt) plus caFile, the way the
// SpinAppExecutor's caCertSecret holds the public roots and the cluster CA
// on SpinKube (docs/aks.md). Spin's Spin 1 outbound HTTP trusts only the
// system bundle; runtime config [[client_tls]] does not apply to it.
func clusterCABundle(tb testing.TB, caFile string) string {
	tb.Helper()
	ca, err := os.ReadFile(caFile)
	if err != nil {
		tb.Fatal(err)
	}
	system, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		tb.Logf("no system CA bundle (%v): the host trusts only %s", err, caFile)
	}
	if len(system) > 0 && !bytes.HasSuffix(system, []byte("\n")) {
		system = append(system, '\n')
	}
	path := filepath.Join(tb.TempDir(), "ca-certificates.crt")
	if err := os.WriteFile(path, append(system, ca...), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

const (
	e2eBaseDomain  = "apps.e2e.test"
	e2eAppRedisURL = "redis://:e2e-password@redis.spinport-system.svc:6379"
)

// startClusterHost runs spinport against the API server at apiURL (the
// cluster, or a proxy in front of it) with token; caFile is the CA of
// apiURL's server, which the host trusts through its system CA bundle
// (clusterCABundle), as on SpinKube. more adds variables (for example
// short durations).
func startClusterHost(tb testing.TB, name, apiURL, caFile, token string, more ...map[string]string) *testHost {
	tb.Helper()
	vars := map[string]string{
		"kube_api_url":  apiURL,
		"kube_token":    token,
		"base_domain":   e2eBaseDomain,
		"app_redis_url": e2eAppRedisURL,
	}
	for _, m := range more {
		for k, v := range m {
			vars[k] = v
		}
	}
	return startHost(tb, hostOptions{
		Name:      name,
		Variables: vars,
		CABundle:  clusterCABundle(tb, caFile),
	})
}

// ---- the flow

func TestClusterSpinAppFlow(t *testing.T) {
	k := requireCluster(t)
	runSpinAppFlow(t, k)
}

// runSpinAppFlow drives a tenant and its apps through spinport's API and
// checks the objects the API server stores at every step.
func runSpinAppFlow(t *testing.T, k *kubeCluster) {
	suffix := randomSuffix()
	token := k.spinportToken(t, suffix)
	// Custom domains are verified over DNS-over-HTTPS: a real DNS message
	// implementation (miekg/dns) behind a loopback DoH endpoint stands in
	// for the public resolver.
	resolver := dohserver.Start(t)
	caFile := caBundle(t, k.CAFile, resolver.Certificate())
	h := startClusterHost(t, "spinport", k.URL, caFile, token, map[string]string{"doh_resolver": resolver.Origin(), "dns_target": "20.50.60.70"})
	api := h.admin(t)

	tenant := "e2e-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant

	// The health check reaches the API server with the ServiceAccount's token.
	if r := api.do("GET", "/healthz", nil); r.Status != 200 {
		t.Errorf("healthz: %s", r)
	}

	// --- tenant: Namespace, ResourceQuota, SpinAppExecutor
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant, "displayName": "E2E " + suffix})
	nsObj := k.mustObject(t, nsPath(ns))
	c := checker{t, "Namespace " + ns}
	c.eq("managed-by label", nsObj.s("metadata", "labels", "app.kubernetes.io/managed-by"), "spinport")
	c.eq("tenant label", nsObj.s("metadata", "labels", "spinport.dev/tenant"), tenant)
	quota := k.mustObject(t, corePath(ns, "resourcequotas", "spinport-quota"))
	c = checker{t, "ResourceQuota"}
	c.eq("spec.hard.pods", quota.s("spec", "hard", "pods"), "45") // 40 replicas + one app's 5 for rollouts
	c.eq("spec.hard[count/spinapps]", quota.s("spec", "hard", "count/spinapps.core.spinkube.dev"), "20")
	c.eq("managed-by label", quota.s("metadata", "labels", "app.kubernetes.io/managed-by"), "spinport")
	// Unique per tenant: spin-operator's executor finalizer matches SpinApps
	// by executor name in every namespace (spin-operator#480).
	executor := k.mustObject(t, groupPath("core.spinkube.dev/v1alpha1", ns, "spinappexecutors", "spinport-"+tenant))
	c = checker{t, "SpinAppExecutor"}
	c.eq("spec.createDeployment", executor.s("spec", "createDeployment"), "true")
	c.eq("spec.deploymentConfig.runtimeClassName", executor.s("spec", "deploymentConfig", "runtimeClassName"), "wasmtime-spin-v2")
	c.eq("tenant label", executor.s("metadata", "labels", "spinport.dev/tenant"), tenant)
	// The tenant's NetworkPolicy (stored, not enforced: the loopback
	// cluster has no network plugin).
	np := k.mustObject(t, groupPath("networking.k8s.io/v1", ns, "networkpolicies", "spinport-tenant"))
	c = checker{t, "NetworkPolicy spinport-tenant"}
	c.eq("policyTypes", strings.Join(np.strs("spec", "policyTypes"), ","), "Ingress,Egress")
	c.eq("ingress from the ingress controller", np.s("spec", "ingress", "0", "from", "1", "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"), "app-routing-system")
	if except := strings.Join(np.strs("spec", "egress", "3", "to", "0", "ipBlock", "except"), ","); !strings.Contains(except, "169.254.169.254/32") || !strings.Contains(except, "10.0.0.0/8") {
		t.Errorf("NetworkPolicy egress does not cut out the metadata endpoint and private ranges: %s", except)
	}

	// --- app with a custom domain, a plain and a secret variable
	domain := "www." + tenant + ".example.com"
	defaultHost := "web-" + tenant + "." + e2eBaseDomain
	app := api.must(201, "POST", base+"/apps", map[string]any{"name": "web", "replicas": 2, "domains": []string{domain}})
	if app.str("defaultHost") != defaultHost {
		t.Errorf("defaultHost = %q, want %q", app.str("defaultHost"), defaultHost)
	}
	api.must(201, "PUT", base+"/apps/web/variables/greeting", map[string]any{"value": "hello from e2e"})
	api.must(201, "PUT", base+"/apps/web/variables/db_password", map[string]any{"value": "s3cr3t-e2e", "secret": true})
	sec := k.mustObject(t, corePath(ns, "secrets", "web-secrets"))
	c = checker{t, "Secret web-secrets"}
	c.eq("data.db_password", sec.s("data", "db_password"), base64.StdEncoding.EncodeToString([]byte("s3cr3t-e2e")))
	c.eq("data.greeting (plain variables stay out)", sec.s("data", "greeting"), "")
	c.eq("app label", sec.s("metadata", "labels", "spinport.dev/app"), "web")
	c.eq("managed-by label", sec.s("metadata", "labels", "app.kubernetes.io/managed-by"), "spinport")
	if r := api.must(200, "GET", base+"/apps/web/variables", nil); strings.Contains(string(r.Body), "s3cr3t-e2e") {
		t.Errorf("the API shows a secret value: %s", r)
	}

	// --- deploy a tag
	r := api.must(201, "POST", base+"/apps/web/deployments", map[string]any{"image": helloImage, "source": "ci", "gitRef": "refs/tags/v0.13.0"})
	rev1 := r.num("number")
	if rev1 != 1 || r.str("state") != "applied" {
		t.Fatalf("first deploy: %s", r)
	}
	sa := k.mustObject(t, spinAppPath(ns, "web"))
	c = checker{t, "SpinApp web (revision 1)"}
	c.eq("spec.image", sa.s("spec", "image"), helloImage)
	c.eq("spec.replicas", sa.s("spec", "replicas"), "2")
	c.eq("spec.executor", sa.s("spec", "executor"), "spinport-"+tenant)
	c.eq("spec.checks.readiness.httpGet.path", sa.s("spec", "checks", "readiness", "httpGet", "path"), "/.well-known/spin/health")
	c.eq("spec.resources.requests.cpu", sa.s("spec", "resources", "requests", "cpu"), "50m")     // app_cpu_request default
	c.eq("spec.resources.limits.memory", sa.s("spec", "resources", "limits", "memory"), "256Mi") // app_memory_limit default
	c.eq("managed-by label", sa.s("metadata", "labels", "app.kubernetes.io/managed-by"), "spinport")
	c.eq("tenant label", sa.s("metadata", "labels", "spinport.dev/tenant"), tenant)
	c.eq("app label", sa.s("metadata", "labels", "spinport.dev/app"), "web")
	c.eq("revision label", sa.s("metadata", "labels", "spinport.dev/revision"), "1")
	c.eq("podLabels revision", sa.s("spec", "podLabels", "spinport.dev/revision"), "1")
	greeting := sa.find("name", "greeting", "spec", "variables")
	c.eq("variables[greeting].value", greeting.s("value"), "hello from e2e")
	pw := sa.find("name", "db_password", "spec", "variables")
	c.eq("variables[db_password].value", pw.s("value"), "")
	c.eq("variables[db_password] secretKeyRef.name", pw.s("valueFrom", "secretKeyRef", "name"), "web-secrets")
	c.eq("variables[db_password] secretKeyRef.key", pw.s("valueFrom", "secretKeyRef", "key"), "db_password")
	c.eq("spec.runtimeConfig (no KV)", sa.s("spec", "runtimeConfig", "loadFromSecret"), "")

	// The custom domain is pending: only the default host is routed and
	// certified until its owner proves control of it.
	ing := k.mustObject(t, groupPath("networking.k8s.io/v1", ns, "ingresses", "web"))
	c = checker{t, "Ingress web (domain pending)"}
	c.eq("spec.ingressClassName", ing.s("spec", "ingressClassName"), "webapprouting.kubernetes.azure.com")
	c.eq("rule hosts", strings.Join(ruleHosts(ing), ","), defaultHost)
	cert := k.mustObject(t, groupPath("cert-manager.io/v1", ns, "certificates", "web-tls"))
	c = checker{t, "Certificate web-tls"}
	c.eq("issuerRef", cert.s("spec", "issuerRef", "kind")+"/"+cert.s("spec", "issuerRef", "name")+"/"+cert.s("spec", "issuerRef", "group"),
		"ClusterIssuer/letsencrypt/cert-manager.io")
	c.eq("dnsNames", strings.Join(cert.strs("spec", "dnsNames"), ","), defaultHost)
	c.eq("secretName", cert.s("spec", "secretName"), "web-tls")
	doms := api.must(200, "GET", base+"/apps/web/domains", nil)
	var record, value string
	for _, d := range doms.get("items").([]any) {
		if m := d.(map[string]any); m["host"] == domain {
			v := m["verification"].(map[string]any)
			rec := v["record"].(map[string]any)
			record, value = rec["name"].(string), rec["value"].(string)
			if v["state"] != "pending" || !strings.Contains(m["next"].(string), record) {
				t.Errorf("pending domain: %v", m)
			}
		}
	}
	if st := api.must(200, "GET", base+"/apps/web/status", nil); strings.Contains(string(st.Body), domain) {
		t.Errorf("the status lists the pending domain as a URL: %s", st)
	}
	if r := api.do("POST", base+"/apps/web/domains/"+domain+"/verify", nil); !r.isProblem(422, "host", value) {
		t.Errorf("verify before the record exists: %s", r)
	}
	resolver.SetTXT(record, value)
	if v := api.must(200, "POST", base+"/apps/web/domains/"+domain+"/verify", nil); v.str("verification.state") != "verified" {
		t.Errorf("verify: %s", v)
	}
	// Verified: routed, with a certificate of its own next to the default host's.
	ing = k.mustObject(t, groupPath("networking.k8s.io/v1", ns, "ingresses", "web"))
	c = checker{t, "Ingress web (domain verified)"}
	c.eq("rule hosts", strings.Join(ruleHosts(ing), ","), defaultHost+","+domain)
	c.eq("tls 0", strings.Join(ing.strs("spec", "tls", "0", "hosts"), ",")+" "+ing.s("spec", "tls", "0", "secretName"), defaultHost+" web-tls")
	customTLS := ing.s("spec", "tls", "1", "secretName")
	c.eq("tls 1 hosts", strings.Join(ing.strs("spec", "tls", "1", "hosts"), ","), domain)
	if customTLS == "" || customTLS == "web-tls" {
		t.Errorf("the custom domain shares or lacks a TLS secret: %q", customTLS)
	}
	for i := range ing.list("spec", "rules") {
		idx := strconv.Itoa(i)
		c.eq("rule "+idx+" backend service", ing.s("spec", "rules", idx, "http", "paths", "0", "backend", "service", "name"), "web")
		c.eq("rule "+idx+" backend port", ing.s("spec", "rules", idx, "http", "paths", "0", "backend", "service", "port", "number"), "80")
	}
	cc := k.mustObject(t, groupPath("cert-manager.io/v1", ns, "certificates", customTLS))
	c = checker{t, "Certificate " + customTLS}
	c.eq("dnsNames", strings.Join(cc.strs("spec", "dnsNames"), ","), domain)
	c.eq("secretName", cc.s("spec", "secretName"), customTLS)
	if again := k.mustObject(t, groupPath("cert-manager.io/v1", ns, "certificates", "web-tls")); strings.Join(again.strs("spec", "dnsNames"), ",") != defaultHost {
		t.Errorf("the default host's certificate changed: %v", again.strs("spec", "dnsNames"))
	}
	// Certificate states per host. No cert-manager controller runs on the
	// loopback cluster: the test writes the Ready condition cert-manager
	// would (status subresource), and the status shows each host's own.
	certState := func() map[string]string {
		out := map[string]string{}
		for _, d := range api.must(200, "GET", base+"/apps/web/domains", nil).get("items").([]any) {
			m := d.(map[string]any)
			if c, ok := m["certificate"].(map[string]any); ok {
				out[m["host"].(string)] = fmt.Sprint(c["state"], "/", c["reason"], "/", c["message"])
			}
		}
		return out
	}
	setReady := func(name, status, reason, message string) {
		k.mustCall(t, "PATCH", groupPath("cert-manager.io/v1", ns, "certificates", name)+"/status", map[string]any{"status": map[string]any{
			"conditions": []map[string]any{{"type": "Ready", "status": status, "reason": reason, "message": message}}}}, 200)
	}
	setReady("web-tls", "True", "Ready", "Certificate is up to date and has not expired")
	setReady(customTLS, "False", "Failed", "HTTP-01 self check failed for "+domain)
	st := certState()
	if st[defaultHost] != "ready/Ready/Certificate is up to date and has not expired" || st[domain] != "failed/Failed/HTTP-01 self check failed for "+domain {
		t.Errorf("certificate states: %v", st)
	}
	setReady(customTLS, "False", "Issuing", "Issuing certificate as Secret does not exist")
	if st := certState(); !strings.HasPrefix(st[domain], "issuing/Issuing/") || !strings.HasPrefix(st[defaultHost], "ready/") {
		t.Errorf("certificate states while one host issues: %v", st)
	}
	r = api.must(200, "GET", base+"/apps/web", nil)
	rev1 = r.num("currentRevision") // the verification redeployed
	// The record disappears: flagged lost, still routed.
	resolver.Remove(record, 16)
	for _, d := range api.must(200, "GET", base+"/apps/web/domains", nil).get("items").([]any) {
		if m := d.(map[string]any); m["host"] == domain && m["verification"].(map[string]any)["state"] != "lost" {
			t.Errorf("a domain whose record disappeared: %v", m)
		}
	}
	ing = k.mustObject(t, groupPath("networking.k8s.io/v1", ns, "ingresses", "web"))
	if strings.Join(ruleHosts(ing), ",") != defaultHost+","+domain {
		t.Errorf("a lost domain stopped being routed: %v", ruleHosts(ing))
	}

	// spin-operator turns the SpinApp into a Deployment and a Service.
	eventually(t, 30*time.Second, "spin-operator creates Deployment and Service web", func() string {
		if _, ok := k.object(t, groupPath("apps/v1", ns, "deployments", "web")); !ok {
			return "no Deployment"
		}
		if _, ok := k.object(t, corePath(ns, "services", "web")); !ok {
			return "no Service"
		}
		return ""
	})
	waitAppReady(t, api, base+"/apps/web", rev1, 2)
	k.checkPodReferences(t, ns, "web")

	// Logs of both pods (kwok serves three fake lines per container).
	logs := api.must(200, "GET", base+"/apps/web/logs?tail=5", nil)
	if logs.num("pods.#") != 2 {
		t.Errorf("logs: want 2 pods: %s", logs)
	}
	for i := 0; i < 2; i++ {
		l := logs.str(fmt.Sprintf("pods.%d.log", i))
		if !strings.Contains(l, "Serving http://0.0.0.0:80") || strings.Count(strings.TrimSpace(l), "\n")+1 > 5 {
			t.Errorf("pod %d log: %q", i, l)
		}
	}

	// --- the same image pinned by digest: the SpinApp runs the digest
	digest := digestOf("spin-rust-hello v0.13.0")
	r = api.must(201, "POST", base+"/apps/web/deployments", map[string]any{"image": helloImage + "@" + digest})
	rev2 := r.num("number")
	sa = k.mustObject(t, spinAppPath(ns, "web"))
	checker{t, "SpinApp web (digest)"}.eq("spec.image", sa.s("spec", "image"), helloRepo+"@"+digest)
	checker{t, "SpinApp web (digest)"}.eq("revision label", sa.s("metadata", "labels", "spinport.dev/revision"), strconv.FormatInt(rev2, 10))
	waitAppReady(t, api, base+"/apps/web", rev2, 2)
	k.checkPodReferences(t, ns, "web")
	// CI re-running that deploy gets the same revision back.
	if again := api.must(200, "POST", base+"/apps/web/deployments", map[string]any{"image": helloImage + "@" + digest}); again.num("number") != rev2 {
		t.Errorf("redeploying the same digest: %s", again)
	}

	// --- a new tag
	rev3 := api.must(201, "POST", base+"/apps/web/deployments", map[string]any{"image": helloNext}).num("number")
	sa = k.mustObject(t, spinAppPath(ns, "web"))
	checker{t, "SpinApp web (new tag)"}.eq("spec.image", sa.s("spec", "image"), helloNext)
	waitAppReady(t, api, base+"/apps/web", rev3, 2)
	k.checkPodReferences(t, ns, "web")

	// --- scale to 3
	api.must(200, "PATCH", base+"/apps/web", map[string]any{"replicas": 3})
	rev4 := api.must(200, "GET", base+"/apps/web", nil).num("currentRevision")
	sa = k.mustObject(t, spinAppPath(ns, "web"))
	c = checker{t, "SpinApp web (scaled)"}
	c.eq("spec.replicas", sa.s("spec", "replicas"), "3")
	c.eq("spec.image", sa.s("spec", "image"), helloNext)
	waitAppReady(t, api, base+"/apps/web", rev4, 3)
	k.checkPodReferences(t, ns, "web")

	// --- roll back to revision 1: its image and its scaling
	rb := api.must(201, "POST", base+"/apps/web/rollback", map[string]any{"revision": 1})
	rev5 := rb.num("number")
	if rb.num("rollbackOf") != 1 {
		t.Errorf("rollback: %s", rb)
	}
	sa = k.mustObject(t, spinAppPath(ns, "web"))
	c = checker{t, "SpinApp web (rolled back to 1)"}
	c.eq("spec.image", sa.s("spec", "image"), helloImage)
	c.eq("spec.replicas", sa.s("spec", "replicas"), "2")
	c.eq("secretKeyRef still there", sa.find("name", "db_password", "spec", "variables").s("valueFrom", "secretKeyRef", "name"), "web-secrets")
	waitAppReady(t, api, base+"/apps/web", rev5, 2)
	k.checkPodReferences(t, ns, "web")

	// --- an app with a KV store: runtime config Secret + loadFromSecret
	api.must(201, "POST", base+"/apps", map[string]any{"name": "store", "kv": true})
	api.must(201, "POST", base+"/apps/store/deployments", map[string]any{"image": helloImage})
	rcSec := k.mustObject(t, corePath(ns, "secrets", "store-runtime-config"))
	rcTOML, err := base64.StdEncoding.DecodeString(rcSec.s("data", "runtime-config.toml"))
	if err != nil || !strings.Contains(string(rcTOML), "[key_value_store.default]") || !strings.Contains(string(rcTOML), `type = "redis"`) ||
		!strings.Contains(string(rcTOML), `url = "`+e2eAppRedisURL+"/") {
		t.Errorf("runtime-config.toml of store: %q (%v)", rcTOML, err)
	}
	saStore := k.mustObject(t, spinAppPath(ns, "store"))
	checker{t, "SpinApp store"}.eq("spec.runtimeConfig.loadFromSecret", saStore.s("spec", "runtimeConfig", "loadFromSecret"), "store-runtime-config")
	waitAppReady(t, api, base+"/apps/store", 1, 1)
	k.checkPodReferences(t, ns, "store")

	// --- delete web: everything it ran is gone
	api.must(204, "DELETE", base+"/apps/web", nil)
	for _, p := range []string{
		spinAppPath(ns, "web"),
		groupPath("networking.k8s.io/v1", ns, "ingresses", "web"),
		groupPath("cert-manager.io/v1", ns, "certificates", "web-tls"),
		groupPath("cert-manager.io/v1", ns, "certificates", customTLS),
		corePath(ns, "secrets", "web-secrets"),
	} {
		p := p
		eventually(t, 30*time.Second, "deleted "+p, func() string {
			if _, ok := k.object(t, p); ok {
				return "still there"
			}
			return ""
		})
	}
	if _, ok := k.object(t, spinAppPath(ns, "store")); !ok {
		t.Error("deleting web deleted the SpinApp store")
	}
	api.must(204, "DELETE", base+"/apps/store", nil)
	for _, p := range []string{spinAppPath(ns, "store"), corePath(ns, "secrets", "store-runtime-config")} {
		if _, ok := k.object(t, p); ok {
			t.Errorf("%s still exists after deleting app store", p)
		}
	}

	// --- delete the tenant: its namespace is really gone (finalizers
	// included: a shared executor name kept it Terminating for good), and
	// the slug can be used again
	api.must(204, "DELETE", base, nil)
	eventually(t, 90*time.Second, "namespace "+ns+" gone", func() string {
		if o, ok := k.object(t, nsPath(ns)); ok {
			return "phase " + o.s("status", "phase")
		}
		return ""
	})
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	k.mustObject(t, groupPath("core.spinkube.dev/v1alpha1", ns, "spinappexecutors", "spinport-"+tenant))
	api.must(204, "DELETE", base, nil)
}

// waitAppReady polls spinport's status endpoint until the app is ready
// with replicas ready replicas at revision rev, and rev's state is "ready".
func waitAppReady(tb testing.TB, api *apiClient, appPath string, rev, replicas int64) {
	tb.Helper()
	eventually(tb, 60*time.Second, fmt.Sprintf("%s ready at revision %d with %d replicas", appPath, rev, replicas), func() string {
		st := api.do("GET", appPath+"/status", nil)
		if st.Status != 200 {
			return st.String()
		}
		if st.flag("ready") && st.num("cluster.spinApp.readyReplicas") == replicas && st.num("cluster.spinApp.replicas") == replicas &&
			st.num("revision.number") == rev && st.str("revision.state") == "ready" && st.num("cluster.spinApp.revision") == rev {
			return ""
		}
		return st.String()
	})
}

// ---- spin-operator's admission webhooks

// TestClusterWebhooks runs the SpinApp flow against a cluster whose
// spin-operator validates and defaults SpinApps: every SpinApp and
// SpinAppExecutor spinport creates must pass them. It uses the cluster in
// SPINPORT_CLUSTER_ENV when that one runs the webhooks, else it starts a
// second cluster (hack/cluster/up.sh with WEBHOOKS=1 on free ports and a
// state dir of its own) and stops it afterwards.
func TestClusterWebhooks(t *testing.T) {
	primary := requireCluster(t)
	k := primary
	if !primary.Webhooks {
		k = startWebhookCluster(t)
	}
	if !k.Webhooks {
		t.Fatal("the cluster does not run the webhooks")
	}
	k.mustObject(t, "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/spin-operator-validating-webhook-configuration")
	k.mustObject(t, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/spin-operator-mutating-webhook-configuration")

	// The webhooks are live: a SpinApp with replicas 0 is refused.
	ns := "webhook-probe-" + randomSuffix()
	k.mustCall(t, "POST", "/api/v1/namespaces", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}, 201)
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	k.mustCall(t, "POST", "/apis/core.spinkube.dev/v1alpha1/namespaces/"+ns+"/spinappexecutors", map[string]any{
		"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinAppExecutor", "metadata": map[string]any{"name": "containerd-shim-spin"},
		"spec": map[string]any{"createDeployment": true, "deploymentConfig": map[string]any{"runtimeClassName": "wasmtime-spin-v2"}},
	}, 201)
	body, _ := json.Marshal(map[string]any{
		"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinApp", "metadata": map[string]any{"name": "zero"},
		"spec": map[string]any{"image": helloImage, "executor": "containerd-shim-spin", "replicas": 0},
	})
	st, out, err := k.call("POST", "/apis/core.spinkube.dev/v1alpha1/namespaces/"+ns+"/spinapps", "application/json", body)
	if err != nil || st < 400 || st > 499 || !strings.Contains(string(out), "webhook") {
		t.Fatalf("a SpinApp with replicas 0 was not refused by the webhook: %d %s %v", st, out, err)
	}

	runSpinAppFlow(t, k)
}

// startWebhookCluster starts hack/cluster/up.sh with WEBHOOKS=1 on the
// first port base whose ports are free, in a state dir of its own, and
// stops it (down.sh) when the test ends.
func startWebhookCluster(t *testing.T) *kubeCluster {
	t.Helper()
	_, manifest := requireSpinport(t)
	hack := filepath.Join(filepath.Dir(manifest), "hack", "cluster")
	if _, err := os.Stat(filepath.Join(hack, "up.sh")); err != nil {
		t.Fatalf("hack/cluster/up.sh next to the manifest: %v", err)
	}
	dir, err := os.MkdirTemp("", "spinport-webhook-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	var lastOut []byte
	for _, base := range []int{21000, 22000, 23000, 24000, 25000, 26000} {
		if !clusterPortsFree(base) {
			continue
		}
		env := append(os.Environ(), "WEBHOOKS=1", "SPINCLUSTER_DIR="+dir, "SPINCLUSTER_PORT_BASE="+strconv.Itoa(base))
		down := func() {
			cmd := exec.Command("bash", filepath.Join(hack, "down.sh"))
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("down.sh: %v\n%s", err, out)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(hack, "up.sh"))
		cmd.Env = env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			lastOut = out
			down()
			if bytes.Contains(out, []byte("already in use")) {
				continue // taken between our probe and up.sh's: try the next base
			}
			t.Fatalf("starting the webhook cluster (port base %d): %v\n%s\n%s", base, err, out, clusterLogTail(dir))
		}
		t.Logf("webhook cluster up on port base %d in %s (state %s)", base, time.Since(start).Round(100*time.Millisecond), dir)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("webhook cluster logs:\n%s", clusterLogTail(dir))
			}
			down()
			os.RemoveAll(dir)
		})
		return loadKubeCluster(t, filepath.Join(dir, "env"))
	}
	os.RemoveAll(dir)
	t.Fatalf("no free port base for a second cluster; last up.sh output:\n%s", lastOut)
	return nil
}

// clusterPortsFree probes the ports hack/cluster/lib.sh derives from a
// SPINCLUSTER_PORT_BASE.
func clusterPortsFree(base int) bool {
	for _, off := range []int{80, 81, 250, 257, 259, 379, 380, 443, 444} {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+off))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// clusterLogTail returns the last lines of each component's log.
func clusterLogTail(dir string) string {
	var b strings.Builder
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(l), strings.Join(lines, "\n"))
	}
	return b.String()
}

// ---- the API server going away mid-deploy

// apiProxy is a TLS-terminating reverse proxy on 127.0.0.1 in front of the
// API server, with a certificate from its own CA. It counts the requests
// it forwards, can fail on a chosen request (closing the connection and
// its listener, as if the API server went away) and can be started again
// on the same address.
type apiProxy struct {
	Addr   string // 127.0.0.1:PORT, fixed for the proxy's life
	URL    string // https://Addr
	CAFile string // PEM of the proxy's CA

	cert     tls.Certificate
	upstream *httputil.ReverseProxy
	count    atomic.Int64
	busy     atomic.Int64 // nanoseconds spent waiting for the API server

	mu     sync.Mutex
	srv    *http.Server
	failOn func(*http.Request) bool
	hangOn func(*http.Request) bool
	hung   chan struct{} // closed by Release
	seen   []string
}

func startAPIProxy(tb testing.TB, k *kubeCluster) *apiProxy {
	tb.Helper()
	caPEM, cert := proxyCertificates(tb)
	p := &apiProxy{cert: cert, CAFile: filepath.Join(tb.TempDir(), "proxy-ca.crt")}
	if err := os.WriteFile(p.CAFile, caPEM, 0o644); err != nil {
		tb.Fatal(err)
	}
	target, _ := url.Parse(k.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = k.hc.Transport
	rp.FlushInterval = -1 // watches stream
	rp.ErrorLog = nil
	p.upstream = rp
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.Addr = l.Addr().String()
	p.URL = "https://" + p.Addr
	p.serve(l)
	tb.Cleanup(p.Stop)
	return p
}

func (p *apiProxy) serve(l net.Listener) {
	srv := &http.Server{
		Handler:      http.HandlerFunc(p.handle),
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{p.cert}, NextProtos: []string{"http/1.1"}},
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1 only
		ErrorLog:     nil,
	}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go srv.ServeTLS(l, "", "") //nolint:errcheck // ErrServerClosed
}

func (p *apiProxy) handle(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	fail := p.failOn != nil && p.failOn(r)
	if fail {
		p.failOn = nil
	}
	p.seen = append(p.seen, r.Method+" "+r.URL.Path)
	srv := p.srv
	p.mu.Unlock()
	if fail {
		// The API server vanishes: nothing listens any more and this
		// request's connection is closed without an answer.
		srv.Close()
		panic(http.ErrAbortHandler)
	}
	p.mu.Lock()
	hang := p.hangOn != nil && p.hangOn(r)
	hung := p.hung
	p.mu.Unlock()
	if hang {
		// The API server hangs: the request is read and never answered
		// until Release (or the caller gives up).
		select {
		case <-hung:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		}
	}
	p.count.Add(1)
	p.upstream.ServeHTTP(&timedWriter{ResponseWriter: w, p: p, start: time.Now()}, r)
}

// timedWriter adds the time until the API server's answer starts to
// apiProxy.busy, before the caller can see the answer (a sum taken after
// ServeHTTP returned could miss a request the caller already has).
type timedWriter struct {
	http.ResponseWriter
	p     *apiProxy
	start time.Time
	timed bool
}

func (t *timedWriter) WriteHeader(code int) {
	t.time()
	t.ResponseWriter.WriteHeader(code)
}

func (t *timedWriter) Write(b []byte) (int, error) {
	t.time() // an answer without WriteHeader: net/http's implicit 200
	return t.ResponseWriter.Write(b)
}

func (t *timedWriter) time() {
	if !t.timed {
		t.timed = true
		t.p.busy.Add(int64(time.Since(t.start)))
	}
}

// Unwrap lets ReverseProxy flush watch events through (ResponseController).
func (t *timedWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// Busy is the time requests have spent in the API server (through the
// proxy) so far; benchmarks subtract it from a call to see the caller's own
// part.
func (p *apiProxy) Busy() time.Duration { return time.Duration(p.busy.Load()) }

// FailOn makes the first request matching f kill the proxy.
func (p *apiProxy) FailOn(f func(*http.Request) bool) {
	p.mu.Lock()
	p.failOn = f
	p.mu.Unlock()
}

// HangOn makes every request matching f hang until Release.
func (p *apiProxy) HangOn(f func(*http.Request) bool) {
	p.mu.Lock()
	p.hangOn, p.hung = f, make(chan struct{})
	p.mu.Unlock()
}

// Release lets hung requests through and stops hanging new ones.
func (p *apiProxy) Release() {
	p.mu.Lock()
	if p.hung != nil {
		close(p.hung)
	}
	p.hangOn, p.hung = nil, nil
	p.mu.Unlock()
}

// Stop closes the listener and every connection: connections are refused.
func (p *apiProxy) Stop() {
	p.mu.Lock()
	srv := p.srv
	p.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Restart listens on the same address again.
func (p *apiProxy) Restart(tb testing.TB) {
	tb.Helper()
	p.Stop()
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if l, err = net.Listen("tcp", p.Addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("proxy: listening on %s again: %v", p.Addr, err)
	}
	p.serve(l)
}

// Requests is how many requests the proxy forwarded so far.
func (p *apiProxy) Requests() int64 { return p.count.Load() }

// Seen returns and forgets the requests (method and path) seen so far.
func (p *apiProxy) Seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.seen
	p.seen = nil
	return s
}

// proxyCertificates makes a CA and a serving certificate for 127.0.0.1.
func proxyCertificates(tb testing.TB) ([]byte, tls.Certificate) {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "spinport-e2e-proxy-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// The API server goes away in the middle of a deploy: the API answers a
// clean 503 problem, the revision is marked failed, and retrying the same
// deploy once the API server is back converges.
func TestClusterAPIServerGoesAwayMidDeploy(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	token := k.spinportToken(t, suffix)
	p := startAPIProxy(t, k)
	h := startClusterHost(t, "spinport-via-proxy", p.URL, p.CAFile, token)
	api := h.admin(t)

	tenant := "e2e-down-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	api.must(201, "POST", base+"/apps", map[string]any{"name": "web", "replicas": 2})

	// The proxy dies on the SpinApp's server-side apply: the namespace,
	// quota and executor were applied, the SpinApp was not.
	image := helloImage + "@" + digestOf("mid-deploy "+suffix)
	p.FailOn(func(r *http.Request) bool { return r.Method == "PATCH" && strings.Contains(r.URL.Path, "/spinapps/") })
	p.Seen()
	r := api.do("POST", base+"/apps/web/deployments", map[string]any{"image": image, "source": "ci"})
	seen := p.Seen()
	t.Logf("deploy while the API server went away: %s\nrequests it made: %v", r, seen)
	if !r.isProblem(503, "", "retry") {
		t.Fatalf("deploy while the API server went away: want a 503 problem+json saying to retry, got %s", r)
	}
	if r.str("title") != "Kubernetes unavailable" {
		t.Errorf("problem title %q", r.str("title"))
	}
	if n := len(seen); n == 0 || !strings.Contains(seen[n-1], "/spinapps/") {
		t.Errorf("requests during the failed deploy: %v", seen)
	}
	rev := api.must(200, "GET", base+"/apps/web/revisions/1", nil)
	if rev.str("state") != "failed" || !strings.Contains(rev.str("reason"), "did not answer") {
		t.Errorf("revision after the failure: %s", rev)
	}
	if _, ok := k.object(t, spinAppPath(ns, "web")); ok {
		t.Error("the SpinApp exists although its apply never reached the API server")
	}

	// While it is down, reads answer 503 too (never a 500 or a hang).
	if st := api.do("GET", base+"/apps/web/status", nil); !st.isProblem(503, "", "") {
		t.Errorf("status while the API server is away: %s", st)
	}

	// Back again: the same deploy (same digest) converges on revision 1.
	p.Restart(t)
	r = api.must(200, "POST", base+"/apps/web/deployments", map[string]any{"image": image, "source": "ci"})
	if r.num("number") != 1 || r.str("state") != "applied" {
		t.Errorf("retried deploy: %s", r)
	}
	sa := k.mustObject(t, spinAppPath(ns, "web"))
	checker{t, "SpinApp after the retry"}.eq("spec.image", sa.s("spec", "image"), helloRepo+"@"+strings.TrimPrefix(image, helloImage+"@"))
	checker{t, "SpinApp after the retry"}.eq("revision label", sa.s("metadata", "labels", "spinport.dev/revision"), "1")
	if revs := api.must(200, "GET", base+"/apps/web/revisions", nil); revs.num("items.#") != 1 {
		t.Errorf("the retry made another revision: %s", revs)
	}
	waitAppReady(t, api, base+"/apps/web", 1, 2)

	// Refused from the start (nothing listening): 503, and a retry converges.
	p.Stop()
	next := helloNext + "@" + digestOf("refused "+suffix)
	if r := api.do("POST", base+"/apps/web/deployments", map[string]any{"image": next}); !r.isProblem(503, "", "retry") {
		t.Errorf("deploy with the API server refusing connections: %s", r)
	}
	p.Restart(t)
	r = api.must(200, "POST", base+"/apps/web/deployments", map[string]any{"image": next})
	if r.num("number") != 2 || r.str("state") != "applied" {
		t.Errorf("retried deploy after refusal: %s", r)
	}
	waitAppReady(t, api, base+"/apps/web", 2, 2)
	api.must(204, "DELETE", base+"/apps/web", nil)
	api.must(204, "DELETE", base, nil)
}

// A tenant's ResourceQuota whose usage Kubernetes has not computed makes
// the API server refuse SpinApps ("status unknown for quota"); it happens
// to a deploy right after the tenant was created. spinport retries for
// about 3 s (sleeping through WASI inside the Spin instance), then answers
// a retryable 503; once the quota is computed the same deploy converges.
// The test makes the state last: it removes count/spinapps from the
// quota's status.used, which the quota controller only repairs on its next
// full resync (5 min) or when the quota's spec changes.
func TestClusterDeployWaitsForPendingQuota(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	token := k.spinportToken(t, suffix)
	h := startClusterHost(t, "spinport", k.URL, k.CAFile, token)
	api := h.admin(t)
	tenant := "e2e-quota-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	api.must(201, "POST", base+"/apps", map[string]any{"name": "web"})

	quotaPath := corePath(ns, "resourcequotas", "spinport-quota")
	eventually(t, 30*time.Second, "the tenant's quota is computed, then made pending", func() string {
		q := k.mustObject(t, quotaPath)
		if q.s("status", "used", "count/spinapps.core.spinkube.dev") == "" {
			return "not computed yet: " + q.s("status")
		}
		// Forget the SpinApp count, as for a quota the controller has not
		// seen yet (409 when the controller wrote the status meanwhile).
		body, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ResourceQuota", "metadata": q.at("metadata"), "spec": q.at("spec"),
			"status": map[string]any{"hard": q.at("status", "hard"), "used": map[string]any{"pods": "0"}}})
		st, out, err := k.call("PUT", quotaPath+"/status", "application/json", body)
		if err != nil || st != 200 {
			return fmt.Sprintf("PUT status: %d %s %v", st, out, err)
		}
		return ""
	})

	image := helloImage + "@" + digestOf("pending quota "+suffix)
	start := time.Now()
	r := api.do("POST", base+"/apps/web/deployments", map[string]any{"image": image})
	took := time.Since(start)
	t.Logf("deploy with the quota pending: %s after %s", r, took.Round(10*time.Millisecond))
	if r.Status == 201 && took >= 100*time.Millisecond {
		// The quota controller's periodic full resync (every 5 min)
		// repaired the status during the retries: they converged.
		t.Logf("the quota was recomputed during the retries; the deploy converged")
		waitAppReady(t, api, base+"/apps/web", 1, 1)
		return
	}
	if !r.isProblem(503, "", "ResourceQuota") || !strings.Contains(r.str("detail"), "retry") {
		t.Fatalf("want a retryable 503 problem about the quota, got %s", r)
	}
	// 100+200+400+800+1600 ms of waiting between six attempts.
	if took < 3*time.Second || took > 20*time.Second {
		t.Errorf("the deploy took %s; the retries should wait about 3.1 s", took)
	}
	if rev := api.must(200, "GET", base+"/apps/web/revisions/1", nil); rev.str("state") != "failed" {
		t.Errorf("revision 1 after the refusal: %s", rev)
	}

	// A change of the quota's spec makes the controller recompute it; the
	// next deploy re-applies spinport's quota (another change, another
	// short pending window that the retries cover) and converges.
	k.mustCall(t, "PATCH", quotaPath, map[string]any{"spec": map[string]any{"hard": map[string]any{"pods": "46"}}}, 200)
	r = api.must(200, "POST", base+"/apps/web/deployments", map[string]any{"image": image})
	if r.num("number") != 1 || r.str("state") != "applied" {
		t.Errorf("retried deploy: %s", r)
	}
	waitAppReady(t, api, base+"/apps/web", 1, 1)
	api.must(204, "DELETE", base+"/apps/web", nil)
	api.must(204, "DELETE", base, nil)
}

// ruleHosts lists an Ingress's rule hosts in order.
func ruleHosts(ing kobj) []string {
	var hs []string
	for i := range ing.list("spec", "rules") {
		hs = append(hs, ing.s("spec", "rules", strconv.Itoa(i), "host"))
	}
	return hs
}
