package e2e

// Contract tests of package registry (natively compiled) against a real
// OCI registry: go-containerregistry v0.20.2's pkg/registry, behind
// ocireg's token service or Basic auth, with artifacts in the layout
// `spin registry push` produces. Run: go test -count=1 -run 'Registry|OCI' .

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spinport/spinport/e2e/ocireg"
	"github.com/spinport/spinport/registry"
)

func registryClient(srv *ocireg.Server, creds func(string) (string, string, bool)) *registry.Client {
	return &registry.Client{
		HTTP:        &http.Client{Timeout: 10 * time.Second},
		Insecure:    func(r string) bool { return r == srv.Host },
		Credentials: creds,
	}
}

func isUnavailableErr(err error) bool {
	for err != nil {
		if u, ok := err.(interface{ Unavailable() bool }); ok && u.Unavailable() {
			return true
		}
		err = errors.Unwrap(err)
	}
	return false
}

func TestRegistryFixturesInspected(t *testing.T) {
	srv := ocireg.Start(t, ocireg.Options{})
	c := registryClient(srv, nil)
	join := func(xs []string) string { return strings.Join(xs, ",") }

	t.Run("hello", func(t *testing.T) {
		p := srv.PushApp(t, "acme/hello", "v1", ocireg.HelloApp())
		app, d, err := c.InspectRef(p.Ref)
		if err != nil {
			t.Fatal(err)
		}
		if d.Digest != p.Digest || d.MediaType != registry.MediaTypeOCIManifest || d.Size != p.Size {
			t.Errorf("descriptor %+v, pushed %s (%d bytes)", d, p.Digest, p.Size)
		}
		if app.Format != "spin2" || app.Name != "hello" || app.Version != "0.1.0" || len(app.Components) != 1 ||
			len(app.Routes) != 1 || app.Routes[0].Route != "/..." || app.Routes[0].Component != "hello" || app.Components[0].Files != 2 {
			t.Errorf("app %+v", app)
		}
		if app.LockedAppDigest != ocireg.Digest(ocireg.HelloApp().LockedApp()) {
			t.Errorf("locked app digest %s", app.LockedAppDigest)
		}
		// The manifest has config + wasm + one data layer (robots.txt is inlined) + locked app.
		m, err := c.Manifest(srv.Host+"/acme/hello", d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, l := range m.Layers {
			types = append(types, l.MediaType)
		}
		want := registry.MediaTypeWasmLayer + "," + registry.MediaTypeDataLayer + "," + registry.MediaTypeSpinApp
		if join(types) != want || m.Config.MediaType != registry.MediaTypeOCIConfig {
			t.Errorf("layers %s (config %s), want %s", join(types), m.Config.MediaType, want)
		}
		cfg, err := c.Blob(srv.Host+"/acme/hello", m.Config.Digest, 1<<16)
		if err != nil || !strings.Contains(string(cfg), `"com.fermyon.spin.lockedAppDigest":"`+app.LockedAppDigest+`"`) || !strings.Contains(string(cfg), `"os":"wasip1"`) {
			t.Errorf("config %s, %v", cfg, err)
		}
		wasm, err := c.Blob(srv.Host+"/acme/hello", m.Layers[0].Digest, 1<<20)
		if err != nil || string(wasm[:4]) != "\x00asm" {
			t.Errorf("wasm layer: %q %v", wasm, err)
		}
	})

	t.Run("multi-component", func(t *testing.T) {
		p := srv.PushApp(t, "acme/shop", "1.2.0", ocireg.MultiComponentApp())
		app, _, err := c.InspectRef(p.Ref)
		if err != nil {
			t.Fatal(err)
		}
		var routes []string
		for _, r := range app.Routes {
			s := r.Route
			if r.Private {
				s = "private"
			}
			routes = append(routes, s+"->"+r.Component)
		}
		if len(app.Components) != 3 || join(routes) != "/...->frontend,/api/...->api,private->worker" ||
			join(app.AllowedOutboundHosts) != "http://api.spin.internal" || join(app.KeyValueStores) != "default" {
			t.Errorf("app %+v routes %v", app, routes)
		}
	})

	t.Run("required variables", func(t *testing.T) {
		p := srv.PushApp(t, "acme/vars", "v1", ocireg.VariablesApp())
		app, _, err := c.InspectRef(p.Ref)
		if err != nil {
			t.Fatal(err)
		}
		if join(app.RequiredVariables()) != "api_key,db_url" {
			t.Errorf("required %v", app.RequiredVariables())
		}
		for _, v := range app.Variables {
			if (v.Name == "api_key") != v.Secret || (v.Name == "greeting" && (v.Required || v.Default != "hello")) {
				t.Errorf("variable %+v", v)
			}
		}
		if comp, _ := app.Component("vars"); join(comp.Variables) != "api_key,db_url,greeting" {
			t.Errorf("component variables %v", comp.Variables)
		}
	})

	t.Run("key-value and sqlite", func(t *testing.T) {
		p := srv.PushApp(t, "acme/kv", "v1", ocireg.KVApp())
		app, _, err := c.InspectRef(p.Ref)
		if err != nil {
			t.Fatal(err)
		}
		admin, _ := app.Component("admin")
		if join(app.KeyValueStores) != "default,sessions" || join(app.SQLiteDatabases) != "default" || join(admin.KeyValueStores) != "default" {
			t.Errorf("app %+v", app)
		}
	})

	t.Run("outbound hosts", func(t *testing.T) {
		p := srv.PushApp(t, "acme/outbound", "v1", ocireg.OutboundApp())
		app, _, err := c.InspectRef(p.Ref)
		if err != nil {
			t.Fatal(err)
		}
		want := "https://api.github.com,https://{{ api_host }},redis://cache.example.com:6379"
		if proxy, _ := app.Component("proxy"); join(proxy.AllowedOutboundHosts) != want || join(app.AllowedOutboundHosts) != want || join(proxy.Variables) != "api_host" {
			t.Errorf("hosts %v (component %+v)", app.AllowedOutboundHosts, proxy)
		}
	})

	t.Run("spin 1.x artifact", func(t *testing.T) {
		p := srv.PushApp(t, "acme/legacy", "v0", ocireg.Spin1App())
		app, _, err := c.InspectRef(p.Ref)
		if err != nil {
			t.Fatal(err)
		}
		if app.Format != "spin1" || app.SpinLockVersion != 0 || join(app.AllowedOutboundHosts) != "http://api.example.com,https://api.example.com" ||
			len(app.Routes) != 1 || app.Routes[0].Route != "/legacy/..." {
			t.Errorf("app %+v", app)
		}
	})

	t.Run("container image refused", func(t *testing.T) {
		p := srv.PushImage(t, "acme/web", "v1", ocireg.ContainerImage())
		_, _, err := c.InspectRef(p.Ref)
		want := srv.Host + "/acme/web:v1 is a container image (layers application/vnd.oci.image.layer.v1.tar+gzip), not a Spin app: push it with `spin registry push`"
		var nsa *registry.NotSpinAppError
		if !errors.As(err, &nsa) || err.Error() != want || !registry.IsRefusal(err) {
			t.Errorf("got %v\nwant %s", err, want)
		}
	})

	t.Run("index with a wasm entry", func(t *testing.T) {
		img := srv.PushImage(t, "acme/multi", "", ocireg.ContainerImage())
		app := srv.PushApp(t, "acme/multi", "", ocireg.HelloApp())
		idx := srv.PushIndex(t, "acme/multi", "v1", []ocireg.Descriptor{
			{MediaType: registry.MediaTypeOCIManifest, Digest: img.Digest, Size: img.Size, Platform: &ocireg.Platform{OS: "linux", Architecture: "amd64"}},
			{MediaType: registry.MediaTypeOCIManifest, Digest: app.Digest, Size: app.Size, Platform: &ocireg.Platform{OS: "wasip1", Architecture: "wasm"}},
		})
		got, d, err := c.InspectRef(idx.Ref)
		if err != nil || d.Digest != app.Digest || got.Name != "hello" {
			t.Errorf("InspectRef(index) = %+v, %v; want the wasm entry %s", d, err, app.Digest)
		}
		srv.PushIndex(t, "acme/multi", "linux", []ocireg.Descriptor{
			{MediaType: registry.MediaTypeOCIManifest, Digest: img.Digest, Size: img.Size, Platform: &ocireg.Platform{OS: "linux", Architecture: "amd64"}},
		})
		if _, err := c.Resolve(srv.Ref("acme/multi", "linux")); !registry.IsRefusal(err) || !strings.Contains(err.Error(), "(linux/amd64) without a wasm/wasip1 entry") {
			t.Errorf("linux-only index: %v", err)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, ref := range []string{srv.Ref("acme/hello", "nope"), srv.Ref("nobody/nothing", "v1")} {
			_, err := c.Resolve(ref)
			var nf *registry.NotFoundError
			if !errors.As(err, &nf) || nf.Ref != ref || !strings.Contains(err.Error(), ref+" not found") || isUnavailableErr(err) {
				t.Errorf("Resolve(%s) = %v", ref, err)
			}
		}
		if _, err := c.Blob(srv.Host+"/acme/hello", ocireg.Digest([]byte("never pushed")), 100); !registry.IsNotFound(err) {
			t.Errorf("Blob missing: %v", err)
		}
	})

	t.Run("pinned digest", func(t *testing.T) {
		p := srv.PushApp(t, "acme/pinned", "v1", ocireg.HelloApp())
		d, err := c.Resolve(srv.Host + "/acme/pinned@" + p.Digest)
		if err != nil || d.Digest != p.Digest {
			t.Errorf("Resolve by digest: %+v %v", d, err)
		}
	})
}

func TestRegistryBearerAnonymousPull(t *testing.T) {
	srv := ocireg.Start(t, ocireg.Options{Auth: ocireg.AuthBearer, AnonymousPull: true})
	p := srv.PushApp(t, "acme/hello", "v1", ocireg.HelloApp())
	c := registryClient(srv, nil)
	app, d, err := c.InspectRef(p.Ref)
	if err != nil || d.Digest != p.Digest || app.Name != "hello" {
		t.Fatalf("InspectRef: %+v %v", d, err)
	}
	if n := srv.TokenRequests(); n != 1 {
		t.Errorf("token requests: %d, want 1 (cached for the Client's life)", n)
	}
	// One anonymous 401 first, then everything with the token.
	var none int
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r, "auth=none") && !strings.HasPrefix(r, "GET /token") {
			none++
		}
	}
	if none != 1 {
		t.Errorf("unauthenticated registry requests: %d (%v)", none, srv.Requests())
	}
}

func TestRegistryBearerCredentials(t *testing.T) {
	srv := ocireg.Start(t, ocireg.Options{Auth: ocireg.AuthBearer, Username: "ci-bot", Password: "s3cret-pw"})
	p := srv.PushApp(t, "acme/private", "v1", ocireg.KVApp())

	// Anonymous: the token grants nothing, the registry says 401.
	_, _, err := registryClient(srv, nil).InspectRef(p.Ref)
	var ae *registry.AuthError
	if !errors.As(err, &ae) || ae.WithCredentials || !strings.Contains(err.Error(), "refused anonymous access") {
		t.Errorf("anonymous: %v", err)
	}
	// The caller's credentials, sent to the token realm.
	var asked []string
	c := registryClient(srv, func(r string) (string, string, bool) {
		asked = append(asked, r)
		return "ci-bot", "s3cret-pw", true
	})
	app, _, err := c.InspectRef(p.Ref)
	if err != nil || app.Name != "kv" {
		t.Fatalf("with credentials: %v", err)
	}
	if len(asked) == 0 || asked[0] != srv.Host {
		t.Errorf("credentials asked for %v, want %s", asked, srv.Host)
	}
	// Wrong password: refused, not unavailable, and not in the message.
	_, err = registryClient(srv, func(string) (string, string, bool) { return "ci-bot", "wrong-pw", true }).Resolve(p.Ref)
	if !errors.As(err, &ae) || !ae.WithCredentials || !strings.Contains(err.Error(), "registry refused credentials") || strings.Contains(err.Error(), "wrong-pw") || isUnavailableErr(err) {
		t.Errorf("wrong password: %v", err)
	}
}

func TestRegistryBasic(t *testing.T) {
	srv := ocireg.Start(t, ocireg.Options{Auth: ocireg.AuthBasic, Username: "puller", Password: "pa55"})
	p := srv.PushApp(t, "acme/vars", "v1", ocireg.VariablesApp())
	if _, err := registryClient(srv, nil).Resolve(p.Ref); err == nil || !strings.Contains(err.Error(), "refused anonymous access") {
		t.Errorf("anonymous: %v", err)
	}
	app, _, err := registryClient(srv, func(string) (string, string, bool) { return "puller", "pa55", true }).InspectRef(p.Ref)
	if err != nil || len(app.RequiredVariables()) != 2 {
		t.Errorf("basic: %v", err)
	}
	_, err = registryClient(srv, func(string) (string, string, bool) { return "puller", "nope", true }).Resolve(p.Ref)
	var ae *registry.AuthError
	if !errors.As(err, &ae) || !ae.WithCredentials {
		t.Errorf("wrong basic: %v", err)
	}
}

func TestRegistryUnavailable(t *testing.T) {
	srv := ocireg.Start(t, ocireg.Options{})
	p := srv.PushApp(t, "acme/hello", "v1", ocireg.HelloApp())
	c := registryClient(srv, nil)
	if _, err := c.Resolve(p.Ref); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	_, err := c.Resolve(p.Ref)
	if !isUnavailableErr(err) {
		t.Errorf("registry down: %v", err)
	}
	// https by default: an http-only registry not marked insecure is unreachable.
	srv2 := ocireg.Start(t, ocireg.Options{})
	p2 := srv2.PushApp(t, "acme/hello", "v1", ocireg.HelloApp())
	if _, err := (&registry.Client{HTTP: &http.Client{Timeout: 5 * time.Second}}).Resolve(p2.Ref); !isUnavailableErr(err) {
		t.Errorf("https to an http registry: %v", err)
	}
}
