package spinkube

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/spinport/spinport"

	"github.com/tidwall/gjson"
)

var testSettings = Settings{NamespacePrefix: "spinport-", BaseDomain: "apps.example.test", IngressClass: "webapprouting.kubernetes.azure.com",
	ClusterIssuer: "letsencrypt", RuntimeClass: "wasmtime-spin-v2", AppRedisURL: "redis://:pw@redis:6379",
	CPULimit: "500m", MemoryLimit: "256Mi"}

func TestSpinAppObject(t *testing.T) {
	app := spinport.App{Tenant: "acme", Name: "web"}
	rev := spinport.Revision{Number: 7, Scaling: spinport.Scaling{Replicas: 3}, KV: true,
		Variables: []spinport.Variable{{Name: "greeting", Value: "hi"}, {Name: "db_password", Secret: true}}}
	obj := gjson.ParseBytes(testSettings.SpinAppObject(app, rev, "ghcr.io/acme/web@sha256:abc", ""))
	checks := map[string]string{
		"apiVersion":         "core.spinkube.dev/v1alpha1",
		"metadata.namespace": "spinport-acme",
		`metadata.labels.app\.kubernetes\.io/managed-by`: "spinport",
		`metadata.labels.spinport\.dev/revision`:         "7",
		"spec.executor":                                  "spinport-acme", // unique per tenant: spin-operator#480
		"spec.checks.readiness.httpGet.path":             "/.well-known/spin/health",
		"spec.checks.liveness.httpGet.path":              "/.well-known/spin/health",
		"spec.checks.readiness.httpGet.httpHeaders":      "[]",
		"spec.image":             "ghcr.io/acme/web@sha256:abc",
		"spec.replicas":          "3",
		"spec.variables.0.value": "hi",
		"spec.variables.1.valueFrom.secretKeyRef.name": "web-secrets",
		"spec.variables.1.valueFrom.secretKeyRef.key":  "db_password",
		"spec.runtimeConfig.loadFromSecret":            "web-runtime-config",
	}
	for path, want := range checks {
		if got := obj.Get(path).String(); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if obj.Get("spec.variables.1.value").Exists() {
		t.Error("secret variable has a value in the SpinApp")
	}
	auto := gjson.ParseBytes(testSettings.SpinAppObject(app, spinport.Revision{Scaling: spinport.Scaling{Autoscale: true, MinReplicas: 1, MaxReplicas: 4}}, "x/y:z", ""))
	if !auto.Get("spec.enableAutoscaling").Bool() || auto.Get("spec.replicas").Exists() {
		t.Errorf("autoscaling: %s", auto.Raw)
	}
}

func TestIngressAndCertificate(t *testing.T) {
	app := spinport.App{Tenant: "acme", Name: "web"}
	hosts := testSettings.Hosts("acme", "web", []string{"www.acme.test"})
	ing := gjson.ParseBytes(testSettings.IngressObject(app, hosts))
	if ing.Get("spec.ingressClassName").String() != "webapprouting.kubernetes.azure.com" ||
		ing.Get("spec.rules.0.host").String() != "web-acme.apps.example.test" || ing.Get("spec.rules.1.host").String() != "www.acme.test" ||
		ing.Get("spec.rules.1.http.paths.0.backend.service.name").String() != "web" ||
		ing.Get("spec.rules.0.http.paths.0.backend.service.port.number").Int() != 80 || ing.Get("spec.tls.0.secretName").String() != "web-tls" {
		t.Errorf("ingress: %s", ing.Raw)
	}
	// One certificate per host: a custom domain that cannot validate does
	// not hold up the default host's HTTPS.
	custom := HostTLSName("web", "www.acme.test", false)
	if ing.Get("spec.tls.#").Int() != 2 || ing.Get("spec.tls.0.hosts.#").Int() != 1 || ing.Get("spec.tls.1.hosts.0").String() != "www.acme.test" ||
		ing.Get("spec.tls.1.secretName").String() != custom || !strings.HasPrefix(custom, "web-") || custom == "web-tls" {
		t.Errorf("ingress TLS: %s", ing.Get("spec.tls").Raw)
	}
	cert := gjson.ParseBytes(testSettings.CertificateObject(app, hosts[0], true))
	if cert.Get("spec.issuerRef.name").String() != "letsencrypt" || cert.Get("spec.dnsNames.#").Int() != 1 ||
		cert.Get("spec.dnsNames.0").String() != "web-acme.apps.example.test" || cert.Get("spec.secretName").String() != "web-tls" {
		t.Errorf("certificate: %s", cert.Raw)
	}
	c2 := gjson.ParseBytes(testSettings.CertificateObject(app, hosts[1], false))
	if c2.Get("metadata.name").String() != custom || c2.Get("spec.secretName").String() != custom || c2.Get("spec.dnsNames.0").String() != "www.acme.test" {
		t.Errorf("custom host certificate: %s", c2.Raw)
	}
}

func TestRuntimeConfigAndQuota(t *testing.T) {
	sec := gjson.ParseBytes(testSettings.RuntimeConfigSecret("acme", "web", RedisDatabaseURL(testSettings.AppRedisURL, 3)))
	// "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://:pw@redis:6379/3\"\n" in base64
	if sec.Get(`data.runtime-config\.toml`).String() != "W2tleV92YWx1ZV9zdG9yZS5kZWZhdWx0XQp0eXBlID0gInJlZGlzIgp1cmwgPSAicmVkaXM6Ly86cHdAcmVkaXM6NjM3OS8zIgo=" {
		t.Errorf("runtime config: %s", sec.Raw)
	}
	q := gjson.ParseBytes(testSettings.QuotaObject(spinport.Tenant{Slug: "acme", Quotas: spinport.Quotas{MaxApps: 4, MaxReplicasPerApp: 2, MaxTotalReplicas: 6}}))
	if q.Get(`spec.hard.pods`).String() != "8" || q.Get(`spec.hard.count/spinapps\.core\.spinkube\.dev`).String() != "4" {
		t.Errorf("quota: %s", q.Raw)
	}
}

func TestExecutorNamesDifferPerTenant(t *testing.T) {
	a := gjson.ParseBytes(testSettings.ExecutorObject(spinport.Tenant{Slug: "acme"}))
	b := gjson.ParseBytes(testSettings.ExecutorObject(spinport.Tenant{Slug: "beta"}))
	if a.Get("metadata.name").String() == b.Get("metadata.name").String() || a.Get("metadata.name").String() == "containerd-shim-spin" {
		t.Errorf("executor names %s and %s", a.Get("metadata.name"), b.Get("metadata.name"))
	}
}

func TestResourcesRequestsApartFromLimits(t *testing.T) {
	s := testSettings
	s.CPULimit, s.MemoryLimit, s.CPURequest, s.MemoryRequest = "500m", "256Mi", "50m", "64Mi"
	obj := gjson.ParseBytes(s.SpinAppObject(spinport.App{Tenant: "acme", Name: "web"}, spinport.Revision{Scaling: spinport.Scaling{Replicas: 1}}, "x/y:z", ""))
	for path, want := range map[string]string{"spec.resources.limits.cpu": "500m", "spec.resources.limits.memory": "256Mi",
		"spec.resources.requests.cpu": "50m", "spec.resources.requests.memory": "64Mi"} {
		if got := obj.Get(path).String(); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
}

func TestRolloutCompleteOnlyWhenOldPodsAreGone(t *testing.T) {
	dep := func(gen, observed, replicas, updated, ready, available int64) string {
		return (fmt.Sprintf(`{"metadata":{"generation":%d},"status":{"observedGeneration":%d,"replicas":%d,"updatedReplicas":%d,"readyReplicas":%d,"availableReplicas":%d}}`,
			gen, observed, replicas, updated, ready, available))
	}
	for _, c := range []struct {
		d    string
		want string
	}{
		{dep(2, 2, 2, 2, 2, 2), "complete"},
		{dep(2, 1, 2, 2, 2, 2), "progressing"}, // the controller has not seen the new spec
		{dep(2, 2, 3, 2, 3, 3), "progressing"}, // an old pod is still there
		{dep(2, 2, 2, 2, 1, 2), "progressing"},
		{dep(2, 2, 2, 2, 2, 1), "progressing"},
	} {
		if got := rolloutState(parse([]byte(c.d)), 2); got != c.want {
			t.Errorf("%s: %s, want %s", c.d, got, c.want)
		}
	}
}

func TestQuotaBoundsComputePerTenant(t *testing.T) {
	s := testSettings
	s.CPURequest, s.MemoryRequest, s.CPULimit, s.MemoryLimit = "50m", "64Mi", "500m", "0.5Gi"
	q := gjson.ParseBytes(s.QuotaObject(spinport.Tenant{Slug: "acme", Quotas: spinport.Quotas{MaxApps: 3, MaxReplicasPerApp: 2, MaxTotalReplicas: 4}}))
	for path, want := range map[string]string{`spec.hard.pods`: "6", `spec.hard.requests\.cpu`: "300m", `spec.hard.requests\.memory`: "384Mi",
		`spec.hard.limits\.cpu`: "3000m", `spec.hard.limits\.memory`: ""} { // "0.5Gi" is not whole: no bound rather than a wrong one
		if got := q.Get(path).String(); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
}

func TestTenantNetworkPolicy(t *testing.T) {
	s := testSettings
	s.Network = &NetworkSettings{IngressNamespace: "app-routing-system", AllowNamespaces: []string{"spinport-system"},
		DenyCIDRs: []string{"169.254.169.254/32", "10.0.0.0/8"}}
	p := gjson.ParseBytes(s.NetworkPolicyObject(spinport.Tenant{Slug: "acme"}))
	for path, want := range map[string]string{
		"metadata.namespace":                            "spinport-acme",
		"spec.policyTypes":                              `["Ingress","Egress"]`,
		"spec.podSelector":                              `{}`,
		"spec.ingress.0.from":                           `[{"podSelector":{}},{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"app-routing-system"}}}]`,
		"spec.egress.0.to":                              `[{"podSelector":{}}]`,
		"spec.egress.1.ports.#(protocol==\"UDP\").port": "53",
		"spec.egress.2.to.0.namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name": "spinport-system",
		"spec.egress.3.to.0.ipBlock.cidr":                                                  "0.0.0.0/0",
		"spec.egress.3.to.0.ipBlock.except":                                                `["169.254.169.254/32","10.0.0.0/8"]`,
		`metadata.labels.app\.kubernetes\.io/managed-by`:                                   "spinport",
	} {
		if got := p.Get(path).String(); got != want {
			t.Errorf("%s = %s, want %s", path, got, want)
		}
	}
}

func TestBlockPrivateNetworks(t *testing.T) {
	s := testSettings
	s.BlockPrivateNetworks = true
	app := spinport.App{Tenant: "acme", Name: "web"}
	sa := gjson.ParseBytes(s.SpinAppObject(app, spinport.Revision{Scaling: spinport.Scaling{Replicas: 1}}, "x/y:z", ""))
	if sa.Get("spec.runtimeConfig.loadFromSecret").String() != "web-runtime-config" {
		t.Errorf("an app without KV does not load the runtime config: %s", sa.Get("spec"))
	}
	for db, want := range map[int64][]string{0: {"block_networks = [\"private\"]"}, 3: {"redis:6379/3", "block_networks = [\"private\"]"}} {
		kvURL := ""
		if db > 0 {
			kvURL = RedisDatabaseURL(s.AppRedisURL, db)
		}
		sec := gjson.ParseBytes(s.RuntimeConfigSecret("acme", "web", kvURL))
		raw, _ := base64.StdEncoding.DecodeString(sec.Get(`data.runtime-config\.toml`).String())
		for _, w := range want {
			if !strings.Contains(string(raw), w) {
				t.Errorf("db %d: runtime config %q lacks %q", db, raw, w)
			}
		}
		if db == 0 && strings.Contains(string(raw), "key_value_store") {
			t.Errorf("db 0 binds a KV store: %q", raw)
		}
	}
	if sa := gjson.ParseBytes(testSettings.SpinAppObject(app, spinport.Revision{Scaling: spinport.Scaling{Replicas: 1}}, "x/y:z", "")); sa.Get("spec.runtimeConfig").Exists() {
		t.Error("without the setting an app without KV loads a runtime config")
	}
}

// A password may hold characters TOML must escape; the URL reaches Spin
// intact, and the database is the URL's path.
func TestRuntimeConfigQuotesTheURL(t *testing.T) {
	u := RedisDatabaseURL(`rediss://:p"a\ss@cache.example:6380/`, 0)
	if u != `rediss://:p"a\ss@cache.example:6380/0` {
		t.Fatalf("RedisDatabaseURL = %q", u)
	}
	sec := gjson.ParseBytes(testSettings.RuntimeConfigSecret("acme", "web", u))
	raw, _ := base64.StdEncoding.DecodeString(sec.Get(`data.runtime-config\.toml`).String())
	if !strings.Contains(string(raw), `url = "rediss://:p\"a\\ss@cache.example:6380/0"`) {
		t.Errorf("runtime config %q", raw)
	}
	tr := gjson.ParseBytes(testSettings.TenantRedisObject("acme", "rediss://:pw@cache:6380"))
	if tr.Get("metadata.name").String() != TenantRedisSecret || tr.Get("metadata.namespace").String() != "spinport-acme" ||
		tr.Get("data.url").String() != base64.StdEncoding.EncodeToString([]byte("rediss://:pw@cache:6380")) {
		t.Errorf("tenant Redis Secret: %s", tr.Raw)
	}
}
