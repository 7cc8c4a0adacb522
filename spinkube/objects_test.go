package spinkube

import (
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
	obj := gjson.ParseBytes(testSettings.SpinAppObject(app, rev, "ghcr.io/acme/web@sha256:abc"))
	checks := map[string]string{
		"apiVersion":         "core.spinkube.dev/v1alpha1",
		"metadata.namespace": "spinport-acme",
		`metadata.labels.app\.kubernetes\.io/managed-by`: "spinport",
		`metadata.labels.spinport\.dev/revision`:         "7",
		"spec.executor":                                  "containerd-shim-spin",
		"spec.image":                                     "ghcr.io/acme/web@sha256:abc",
		"spec.replicas":                                  "3",
		"spec.variables.0.value":                         "hi",
		"spec.variables.1.valueFrom.secretKeyRef.name":   "web-secrets",
		"spec.variables.1.valueFrom.secretKeyRef.key":    "db_password",
		"spec.runtimeConfig.loadFromSecret":              "web-runtime-config",
	}
	for path, want := range checks {
		if got := obj.Get(path).String(); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if obj.Get("spec.variables.1.value").Exists() {
		t.Error("secret variable has a value in the SpinApp")
	}
	auto := gjson.ParseBytes(testSettings.SpinAppObject(app, spinport.Revision{Scaling: spinport.Scaling{Autoscale: true, MinReplicas: 1, MaxReplicas: 4}}, "x/y:z"))
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
	cert := gjson.ParseBytes(testSettings.CertificateObject(app, hosts))
	if cert.Get("spec.issuerRef.name").String() != "letsencrypt" || cert.Get("spec.dnsNames.#").Int() != 2 || cert.Get("spec.secretName").String() != "web-tls" {
		t.Errorf("certificate: %s", cert.Raw)
	}
}

func TestRuntimeConfigAndQuota(t *testing.T) {
	sec := gjson.ParseBytes(testSettings.RuntimeConfigSecret("acme", "web", 3))
	// "[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://:pw@redis:6379/3\"\n" in base64
	if sec.Get(`data.runtime-config\.toml`).String() != "W2tleV92YWx1ZV9zdG9yZS5kZWZhdWx0XQp0eXBlID0gInJlZGlzIgp1cmwgPSAicmVkaXM6Ly86cHdAcmVkaXM6NjM3OS8zIgo=" {
		t.Errorf("runtime config: %s", sec.Raw)
	}
	q := gjson.ParseBytes(testSettings.QuotaObject(spinport.Tenant{Slug: "acme", Quotas: spinport.Quotas{MaxApps: 4, MaxReplicasPerApp: 2, MaxTotalReplicas: 6}}))
	if q.Get(`spec.hard.pods`).String() != "8" || q.Get(`spec.hard.count/spinapps\.core\.spinkube\.dev`).String() != "4" {
		t.Errorf("quota: %s", q.Raw)
	}
}
