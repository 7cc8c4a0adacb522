package e2e

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// An autoscaled app gets a HorizontalPodAutoscaler aimed at the Deployment
// spin-operator makes (enableAutoscaling leaves the replicas to one and
// creates none): without it the app never scaled and never reported
// Ready. With no metrics server on the loopback cluster the HPA controller
// still enforces minReplicas, which is what this checks; going back to a
// fixed count removes the autoscaler so the two never fight.
func TestClusterAutoscaledApp(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	h := startClusterHost(t, "spinport", k.URL, k.CAFile, k.spinportToken(t, suffix))
	api := h.admin(t)
	tenant := "e2e-hpa-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	api.must(201, "POST", base+"/apps", map[string]any{"name": "web", "autoscaling": map[string]any{"minReplicas": 2, "maxReplicas": 4}})
	r := api.must(201, "POST", base+"/apps/web/deployments", map[string]any{"image": helloImage + "@" + digestOf("hpa "+suffix)})

	hpaPath := groupPath("autoscaling/v2", ns, "horizontalpodautoscalers", "web")
	hpa := k.mustObject(t, hpaPath)
	c := checker{t, "HorizontalPodAutoscaler web"}
	c.eq("scaleTargetRef.kind", hpa.s("spec", "scaleTargetRef", "kind"), "Deployment")
	c.eq("scaleTargetRef.apiVersion", hpa.s("spec", "scaleTargetRef", "apiVersion"), "apps/v1")
	c.eq("scaleTargetRef.name", hpa.s("spec", "scaleTargetRef", "name"), "web")
	c.eq("minReplicas", hpa.s("spec", "minReplicas"), "2")
	c.eq("maxReplicas", hpa.s("spec", "maxReplicas"), "4")
	sa := k.mustObject(t, spinAppPath(ns, "web"))
	if sa.s("spec", "enableAutoscaling") != "true" || sa.at("spec", "replicas") != nil {
		t.Errorf("SpinApp spec: %v", sa.at("spec"))
	}
	waitAppReady(t, api, base+"/apps/web", r.num("number"), 2)
	k.checkPodReferences(t, ns, "web")

	api.must(200, "PATCH", base+"/apps/web", map[string]any{"replicas": 3})
	eventually(t, 30*time.Second, "the autoscaler removed", func() string {
		if _, ok := k.object(t, hpaPath); ok {
			return "still there"
		}
		return ""
	})
	waitAppReady(t, api, base+"/apps/web", r.num("number")+1, 3)
	api.must(204, "DELETE", base+"/apps/web", nil)
	api.must(204, "DELETE", base, nil)
}

// With block_private_networks every app loads a runtime config that keeps
// its outbound connections off private networks (Spin >= 3.3), KV or not;
// the reference check makes sure no pod points at a missing Secret.
func TestClusterBlockPrivateNetworks(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	h := startClusterHost(t, "spinport", k.URL, k.CAFile, k.spinportToken(t, suffix), map[string]string{"block_private_networks": "on"})
	api := h.admin(t)
	tenant := "e2e-block-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	api.must(201, "POST", base+"/apps", map[string]any{"name": "web"})
	r := api.must(201, "POST", base+"/apps/web/deployments", map[string]any{"image": helloImage + "@" + digestOf("block "+suffix)})
	sa := k.mustObject(t, spinAppPath(ns, "web"))
	checker{t, "SpinApp web"}.eq("runtimeConfig.loadFromSecret", sa.s("spec", "runtimeConfig", "loadFromSecret"), "web-runtime-config")
	sec := k.mustObject(t, corePath(ns, "secrets", "web-runtime-config"))
	toml, _ := base64.StdEncoding.DecodeString(sec.s("data", "runtime-config.toml"))
	if !strings.Contains(string(toml), "[outbound_networking]") || !strings.Contains(string(toml), `block_networks = ["private"]`) || strings.Contains(string(toml), "key_value_store") {
		t.Errorf("runtime config of an app without KV: %q", toml)
	}
	waitAppReady(t, api, base+"/apps/web", r.num("number"), 1)
	k.checkPodReferences(t, ns, "web")
	api.must(204, "DELETE", base+"/apps/web", nil)
	api.must(204, "DELETE", base, nil)
}

// Pull credentials a tenant registers live only in a dockerconfigjson
// Secret of its namespace, and SpinApps of images from that registry
// reference them (SpinApp spec.imagePullSecrets, spin-operator v0.4.0
// passes them to the Deployment's pod template).
func TestClusterPullSecrets(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	h := startClusterHost(t, "spinport", k.URL, k.CAFile, k.spinportToken(t, suffix))
	api := h.admin(t)
	tenant := "e2e-pull-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	api.must(201, "POST", base+"/apps", map[string]any{"name": "web"})
	registry := strings.SplitN(helloImage, "/", 2)[0]
	r := api.must(201, "PUT", base+"/registries/"+registry, map[string]any{"username": "e2e-pull", "password": "pull-pw-" + suffix})
	if strings.Contains(string(r.Body), "pull-pw-") {
		t.Errorf("the answer shows the password: %s", r)
	}
	rev := api.must(201, "POST", base+"/apps/web/deployments", map[string]any{"image": helloImage + "@" + digestOf("pull "+suffix)})
	sa := k.mustObject(t, spinAppPath(ns, "web"))
	name := sa.s("spec", "imagePullSecrets", "0", "name")
	if name == "" {
		t.Fatalf("the SpinApp references no pull secret: %v", sa.at("spec"))
	}
	sec := k.mustObject(t, corePath(ns, "secrets", name))
	checker{t, "pull Secret"}.eq("type", sec.s("type"), "kubernetes.io/dockerconfigjson")
	cfg, _ := base64.StdEncoding.DecodeString(sec.s("data", ".dockerconfigjson"))
	if !strings.Contains(string(cfg), `"`+registry+`"`) || !strings.Contains(string(cfg), "pull-pw-"+suffix) {
		t.Errorf(".dockerconfigjson: %s", cfg)
	}
	waitAppReady(t, api, base+"/apps/web", rev.num("number"), 1)
	dep := k.mustObject(t, groupPath("apps/v1", ns, "deployments", "web"))
	checker{t, "Deployment web"}.eq("imagePullSecrets", dep.s("spec", "template", "spec", "imagePullSecrets", "0", "name"), name)
	api.must(204, "DELETE", base+"/registries/"+registry, nil)
	if _, ok := k.object(t, corePath(ns, "secrets", name)); ok {
		t.Error("the pull Secret outlived its credentials")
	}
	api.must(204, "DELETE", base+"/apps/web", nil)
	api.must(204, "DELETE", base, nil)
}
