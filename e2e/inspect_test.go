package e2e

import (
	"strings"
	"testing"

	"github.com/spinport/spinport/e2e/ocireg"
)

// Deploys that know the app, through the real .wasm on the loopback
// cluster, against a real OCI registry (go-containerregistry's registry
// behind a bearer-token service, anonymous pulls allowed, as public
// repositories on ghcr.io work) holding artifacts in the layout `spin
// registry push` produces: a tag is pinned to its digest, and what would
// fail on the cluster is refused first with what to fix.
func TestClusterInspectedDeploys(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	reg := ocireg.Start(t, ocireg.Options{Auth: ocireg.AuthBearer, AnonymousPull: true})
	hello := reg.PushApp(t, "acme/hello", "v1", ocireg.HelloApp())
	reg.PushImage(t, "acme/nginx", "v1", ocireg.ContainerImage())
	reg.PushApp(t, "acme/vars", "v1", ocireg.VariablesApp())
	reg.PushApp(t, "acme/kv", "v1", ocireg.KVApp())
	reg.PushApp(t, "acme/shop", "v1", ocireg.MultiComponentApp())
	reg.PushApp(t, "acme/sneaky", "v1", ocireg.App{Name: "sneaky", Version: "1.0.0", Components: []ocireg.Component{{ID: "sneaky", Route: "/...",
		AllowedOutboundHosts: []string{"https://api.github.com", "http://169.254.169.254", "redis://redis.default.svc.cluster.local:6379"}}}})

	// Two private registries (no anonymous pulls): spinport holds pull
	// credentials for one (registry_credentials, a secret variable).
	private := ocireg.Start(t, ocireg.Options{Auth: ocireg.AuthBearer, Username: "spinport-inspect", Password: "pull-secret-e2e"})
	private.PushApp(t, "acme/proxy", "v1", ocireg.OutboundApp())
	closed := ocireg.Start(t, ocireg.Options{Auth: ocireg.AuthBasic, Username: "someone", Password: "else"})
	closed.PushApp(t, "acme/hello", "v1", ocireg.HelloApp())

	h := startClusterHost(t, "spinport", k.URL, k.CAFile, k.spinportToken(t, suffix), map[string]string{
		"inspect_artifacts": "on", "registry_origin_1": reg.URL, "registry_origin_2": private.URL, "registry_origin_3": closed.URL,
		"registry_credentials": private.Host + "=spinport-inspect:pull-secret-e2e"})
	api := h.admin(t)
	tenant := "e2e-oci-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	deploy := func(app, image string) *apiResult {
		return api.do("POST", base+"/apps/"+app+"/deployments", map[string]any{"image": image})
	}
	for _, a := range []string{"web", "shop"} {
		api.must(201, "POST", base+"/apps", map[string]any{"name": a})
	}

	// A good artifact: pinned to the digest its tag points at, the
	// revision records both and what the app declares.
	r := deploy("web", reg.Ref("acme/hello", "v1"))
	if r.Status != 201 || r.str("image") != reg.Ref("acme/hello", "v1") || r.str("digest") != hello.Digest ||
		r.str("artifact.components.0") != "hello" || r.str("artifact.routes.0") != "/... -> hello" {
		t.Fatalf("good artifact: %s", r)
	}
	if app := api.must(200, "GET", base+"/apps/web", nil); app.str("artifact.components.0") != "hello" {
		t.Errorf("the app does not show what its current revision declares: %s", app)
	}
	if img := k.mustObject(t, spinAppPath(ns, "web")).s("spec", "image"); img != reg.Host+"/acme/hello@"+hello.Digest {
		t.Errorf("SpinApp image %s, want it pinned to %s", img, hello.Digest)
	}
	// Once per digest: the same image again asks the registry only where
	// the tag points now.
	before := len(reg.Requests())
	deploy("web", reg.Ref("acme/hello", "v1"))
	for _, rq := range reg.Requests()[before:] {
		if strings.Contains(rq, "/blobs/") || (strings.Contains(rq, "GET") && strings.Contains(rq, "/manifests/sha256:")) {
			t.Errorf("a known digest was read again: %s", rq)
		}
	}

	for _, c := range []struct{ name, app, image, detail string }{
		{"a tag that does not exist", "web", reg.Ref("acme/hello", "v9"), "does not exist"},
		{"a container image", "web", reg.Ref("acme/nginx", "v1"), "not a Spin app"},
		{"required variables", "web", reg.Ref("acme/vars", "v1"), "api_key, db_url"},
		{"a KV store the app is not bound to", "shop", reg.Ref("acme/shop", "v1"), `{"kv": true}`},
		{"a named store and SQLite", "web", reg.Ref("acme/kv", "v1"), `"sessions"`},
		{"outbound hosts tenants may not reach", "web", reg.Ref("acme/sneaky", "v1"), "http://169.254.169.254 (the cloud metadata endpoint)"},
		{"a registry spinport cannot reach", "web", "quay.io/acme/web:v1", "registry_origin_1..3"},
		{"a private registry without credentials", "web", closed.Ref("acme/hello", "v1"), "registry_credentials"},
	} {
		if r := deploy(c.app, c.image); !r.isProblem(422, "image", c.detail) {
			t.Errorf("%s: %s", c.name, r)
		}
	}
	if r := deploy("web", private.Ref("acme/proxy", "v1")); r.Status != 201 || r.str("artifact.components.0") != "proxy" {
		t.Errorf("a private registry with pull credentials: %s", r)
	}
	// A dry run (what the portal's deploy form does first) checks and
	// records nothing.
	if r := api.do("POST", base+"/apps/web/deployments", map[string]any{"image": reg.Ref("acme/vars", "v1"), "dryRun": true}); !r.isProblem(422, "image", "api_key") {
		t.Errorf("dry run of a refused deploy: %s", r)
	}
	dry := api.must(200, "POST", base+"/apps/web/deployments", map[string]any{"image": reg.Ref("acme/hello", "v1"), "dryRun": true})
	if dry.num("number") != 0 || dry.str("digest") != hello.Digest || dry.str("artifact.components.0") != "hello" {
		t.Errorf("dry run: %s", dry)
	}
	// Fixed as the answers say: variables set, the store bound.
	api.must(201, "PUT", base+"/apps/web/variables/api_key", map[string]any{"value": "k", "secret": true})
	api.must(201, "PUT", base+"/apps/web/variables/db_url", map[string]any{"value": "postgres://db.example.com/app"})
	if r := deploy("web", reg.Ref("acme/vars", "v1")); r.Status != 201 {
		t.Errorf("with the variables set: %s", r)
	}
	api.must(200, "PATCH", base+"/apps/shop", map[string]any{"kv": true})
	if r := deploy("shop", reg.Ref("acme/shop", "v1")); r.Status != 201 || len(r.strs("artifact.components")) != 3 {
		t.Errorf("with the store bound (service chaining to *.spin.internal allowed): %s", r)
	}
	// The registry is down: 503, nothing recorded.
	count := func() int {
		items, _ := api.must(200, "GET", base+"/apps/web/revisions", nil).get("items").([]any)
		return len(items)
	}
	revs := count()
	reg.Close()
	if r := deploy("web", reg.Ref("acme/hello", "v2")); !r.isProblem(503, "", "") {
		t.Errorf("registry down: %s", r)
	}
	if n := count(); n != revs {
		t.Errorf("a refused deploy recorded a revision: %d, was %d", n, revs)
	}
}
