package registry

import (
	"errors"
	"strings"
	"testing"
)

// Pure tests (TinyGo too). The locked apps are written by hand after what
// `spin registry push` stores (see the format notes in spinapp.go): sources
// and files point at layers by digest, small files are inlined.

var (
	wasmFrontend = []byte("\x00asm\x01\x00\x00\x00frontend")
	wasmAPI      = []byte("\x00asm\x01\x00\x00\x00api")
	wasmInternal = []byte("\x00asm\x01\x00\x00\x00internal")
	indexHTML    = []byte("<!doctype html><title>shop</title>" + strings.Repeat(" ", 200))
)

// shopLocked is a multi-component Spin 3 app: required and secret
// variables, KV stores, SQLite, outbound hosts (a template among them),
// service chaining (hence must_understand and host_requirements) and a
// private route.
func shopLocked() string {
	return `{
  "spin_lock_version": 1,
  "must_understand": ["component_host_requirements"],
  "metadata": {
    "authors": ["Acme <dev@acme.example>"],
    "description": "The Acme shop",
    "name": "shop",
    "trigger": {"type": "http"},
    "triggers": {"http": {}},
    "version": "1.2.0"
  },
  "variables": {
    "api_host": {"default": "api.acme.example"},
    "api_key": {"secret": true},
    "greeting": {"description": "what the frontend says", "default": "hello"},
    "db_url": {}
  },
  "triggers": [
    {"id": "trigger-frontend", "trigger_type": "http", "trigger_config": {"component": "frontend", "route": "/..."}},
    {"id": "trigger-api", "trigger_type": "http", "trigger_config": {"component": "api", "route": "/api/..."}},
    {"id": "trigger-internal", "trigger_type": "http", "trigger_config": {"component": "internal", "route": {"private": true}}}
  ],
  "components": [
    {
      "id": "frontend",
      "metadata": {"description": "static pages", "allowed_outbound_hosts": ["http://internal.spin.internal"]},
      "source": {"content_type": "application/wasm", "digest": "` + sha256Digest(wasmFrontend) + `"},
      "files": [
        {"digest": "` + sha256Digest(indexHTML) + `", "path": "index.html"},
        {"inline": "VXNlci1hZ2VudDogKgo=", "digest": "sha256:5ae7e0b4c4f8b5f1d3c1a1e1f1a1b1c1d1e1f1a1b1c1d1e1f1a1b1c1d1e1f1a1", "path": "robots.txt"}
      ],
      "config": {"greeting": "{{ greeting }}"},
      "host_requirements": {"local_service_chaining": "required"}
    },
    {
      "id": "api",
      "metadata": {
        "allowed_outbound_hosts": ["https://{{ api_host }}", "redis://cache.acme.example:6379", "https://api.acme.example"],
        "key_value_stores": ["default", "sessions"],
        "databases": ["default", "orders"],
        "build": {"command": "tinygo build -target=wasi -o api.wasm ."}
      },
      "source": {"content_type": "application/wasm", "digest": "` + sha256Digest(wasmAPI) + `"},
      "env": {"RUST_LOG": "info", "MODE": "prod"},
      "config": {"key": "{{ api_key }}", "host": "{{api_host}}", "db": "{{ db_url }}"}
    },
    {
      "id": "internal",
      "metadata": {"key_value_stores": ["default"], "allowed_outbound_hosts": ["https://api.acme.example"]},
      "source": {"content_type": "application/wasm", "digest": "` + sha256Digest(wasmInternal) + `"}
    }
  ]
}`
}

// spin1Locked is what a Spin 1.x push stored as the config blob.
func spin1Locked() string {
	return `{
  "spin_lock_version": 0,
  "metadata": {"name": "hello", "version": "0.1.0", "origin": "file:///src/hello/spin.toml", "trigger": {"type": "http", "base": "/"}},
  "triggers": [{"id": "trigger--hello", "trigger_type": "http", "trigger_config": {"component": "hello", "route": "/hello/...", "executor": {"type": "spin"}}}],
  "components": [{
    "id": "hello",
    "metadata": {"allowed_http_hosts": ["api.example.com", "example.org:8080", "self"], "key_value_stores": ["default"]},
    "source": {"content_type": "application/wasm", "digest": "` + sha256Digest(wasmAPI) + `"},
    "config": {}
  }]
}`
}

func layer(mt string, data []byte) Descriptor {
	return Descriptor{MediaType: mt, Digest: sha256Digest(data), Size: int64(len(data))}
}

// spinManifest builds the manifest Spin >= 2 pushes around locked.
func spinManifest(locked string, extra ...Descriptor) (*Manifest, map[string][]byte) {
	blobs := map[string][]byte{}
	cfg := []byte(`{"architecture":"wasm","os":"wasip1","config":{"Labels":{"com.fermyon.spin.lockedAppDigest":"` + sha256Digest([]byte(locked)) + `"}},"rootfs":{"type":"layers","diff_ids":[]}}`)
	m := &Manifest{MediaType: MediaTypeOCIManifest, Config: layer(MediaTypeOCIConfig, cfg)}
	blobs[m.Config.Digest] = cfg
	for _, w := range [][]byte{wasmFrontend, wasmAPI, wasmInternal} {
		d := layer(MediaTypeWasmLayer, w)
		m.Layers = append(m.Layers, d)
		blobs[d.Digest] = w
	}
	d := layer(MediaTypeDataLayer, indexHTML)
	m.Layers = append(m.Layers, d)
	blobs[d.Digest] = indexHTML
	m.Layers = append(m.Layers, extra...)
	d = layer(MediaTypeSpinApp, []byte(locked))
	m.Layers = append(m.Layers, d)
	blobs[d.Digest] = []byte(locked)
	return m, blobs
}

func fetcher(blobs map[string][]byte, seen *[]string) func(Descriptor) ([]byte, error) {
	return func(d Descriptor) ([]byte, error) {
		if seen != nil {
			*seen = append(*seen, d.Digest)
		}
		b, ok := blobs[d.Digest]
		if !ok {
			return nil, &NotFoundError{Ref: d.Digest, What: "blob"}
		}
		return b, nil
	}
}

func TestParseLockedAppShop(t *testing.T) {
	app, err := ParseLockedApp([]byte(shopLocked()))
	if err != nil {
		t.Fatalf("ParseLockedApp: %v", err)
		return
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	check("name", app.Name, "shop")
	check("version", app.Version, "1.2.0")
	check("lock version", itoa(app.SpinLockVersion), "1")
	var ids []string
	for _, c := range app.Components {
		ids = append(ids, c.ID)
	}
	check("components", strings.Join(ids, ","), "frontend,api,internal")
	var routes []string
	for _, r := range app.Routes {
		s := r.Route
		if r.Private {
			s = "private"
		}
		routes = append(routes, s+"->"+r.Component)
	}
	check("routes", strings.Join(routes, " "), "/...->frontend /api/...->api private->internal")
	var vars []string
	for _, v := range app.Variables {
		s := v.Name
		if v.Required {
			s += "!"
		}
		if v.Secret {
			s += "(secret)"
		}
		if !v.Required {
			s += "=" + v.Default
		}
		vars = append(vars, s)
	}
	check("variables", strings.Join(vars, " "), "api_host=api.acme.example api_key!(secret) db_url! greeting=hello")
	check("required", strings.Join(app.RequiredVariables(), ","), "api_key,db_url")
	check("kv", strings.Join(app.KeyValueStores, ","), "default,sessions")
	check("sqlite", strings.Join(app.SQLiteDatabases, ","), "default,orders")
	check("hosts", strings.Join(app.AllowedOutboundHosts, " "), "http://internal.spin.internal https://api.acme.example https://{{ api_host }} redis://cache.acme.example:6379")
	check("host requirements", strings.Join(app.HostRequirements, ","), "local_service_chaining")

	api, ok := app.Component("api")
	if !ok {
		t.Fatalf("no component api")
		return
	}
	check("api hosts", strings.Join(api.AllowedOutboundHosts, " "), "https://api.acme.example https://{{ api_host }} redis://cache.acme.example:6379")
	check("api kv", strings.Join(api.KeyValueStores, ","), "default,sessions")
	check("api sqlite", strings.Join(api.SQLiteDatabases, ","), "default,orders")
	check("api variables", strings.Join(api.Variables, ","), "api_host,api_key,db_url")
	check("api config", strings.Join(api.ConfigKeys, ","), "db,host,key")
	check("api env", strings.Join(api.EnvKeys, ","), "MODE,RUST_LOG")
	check("api source", api.SourceDigest, sha256Digest(wasmAPI))
	fe, _ := app.Component("frontend")
	check("frontend files", itoa(fe.Files), "2")
	check("frontend variables", strings.Join(fe.Variables, ","), "greeting")
	in, _ := app.Component("internal")
	check("internal kv", strings.Join(in.KeyValueStores, ","), "default")
	if len(in.SQLiteDatabases) != 0 || len(in.Variables) != 0 {
		t.Errorf("internal: %+v", in)
	}
}

func TestParseLockedAppSpin1(t *testing.T) {
	app, err := ParseLockedApp([]byte(spin1Locked()))
	if err != nil {
		t.Fatalf("ParseLockedApp: %v", err)
		return
	}
	if app.SpinLockVersion != 0 || app.Name != "hello" || len(app.Routes) != 1 || app.Routes[0].Route != "/hello/..." || app.Routes[0].Component != "hello" {
		t.Errorf("app: %+v", app)
	}
	// allowed_http_hosts converted the way Spin converts them.
	want := "http://api.example.com http://example.org:8080 http://self https://api.example.com https://example.org:8080"
	if got := strings.Join(app.AllowedOutboundHosts, " "); got != want {
		t.Errorf("hosts = %q, want %q", got, want)
	}
	if strings.Join(app.KeyValueStores, ",") != "default" || len(app.Variables) != 0 {
		t.Errorf("app: %+v", app)
	}
}

func TestParseLockedAppRefusals(t *testing.T) {
	base := `{"spin_lock_version":0,"triggers":[],"components":[{"id":"a","source":{"content_type":"application/wasm","digest":"` + dgst + `"}}]}`
	if _, err := ParseLockedApp([]byte(base)); err != nil {
		t.Fatalf("base: %v", err)
		return
	}
	for _, c := range []struct{ doc, want string }{
		{`not json`, "is not JSON"},
		{`[]`, "not a JSON object"},
		{`{"triggers":[],"components":[]}`, "no spin_lock_version"},
		{strings.Replace(base, `"spin_lock_version":0`, `"spin_lock_version":2`, 1), "versions 0 and 1"},
		{strings.Replace(base, `"spin_lock_version":0`, `"spin_lock_version":1,"must_understand":["teleportation"]`, 1), "teleportation"},
		{`{"spin_lock_version":0,"triggers":[],"components":[]}`, "no components"},
		{strings.Replace(base, `"id":"a"`, `"id":""`, 1), "without an id"},
		{strings.Replace(base, `}]}`, `},{"id":"a","source":{}}]}`, 1), "two components"},
		{strings.Replace(base, `"triggers":[]`, `"triggers":[{"id":"t","trigger_type":"http","trigger_config":{"component":"zz","route":"/"}}]`, 1), `component "zz"`},
		{strings.Replace(base, `"triggers":[]`, `"triggers":[{"id":"t","trigger_type":"http","trigger_config":{"component":"a"}}]`, 1), "without a route"},
		{strings.Replace(base, `"triggers":[]`, `"triggers":[{"id":"t","trigger_config":{"component":"a"}}]`, 1), "without trigger_type"},
		{strings.Replace(base, `"source":`, `"config":{"k":"{{ missing }}"},"source":`, 1), `variable "missing"`},
		{strings.Replace(base, `"triggers":[]`, `"variables":{"x":"y"},"triggers":[]`, 1), "not an object"},
		{`{"spin_lock_version":0,"triggers":[],"components":[]` + strings.Repeat("[", 40) + `}`, "nests deeper"},
	} {
		_, err := ParseLockedApp([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseLockedApp(%.60q) = %v, want an error with %q", c.doc, err, c.want)
		}
	}
}

func TestInspectSpin2(t *testing.T) {
	m, blobs := spinManifest(shopLocked())
	var seen []string
	app, err := Inspect("ghcr.io/acme/shop:v1", m, fetcher(blobs, &seen))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
		return
	}
	if app.Format != "spin2" || app.LockedAppDigest != sha256Digest([]byte(shopLocked())) || len(app.Components) != 3 {
		t.Errorf("app: %+v", app)
	}
	// Only the locked app is read: the Wasm layers stay in the registry.
	if len(seen) != 1 || seen[0] != app.LockedAppDigest {
		t.Errorf("fetched %v", seen)
	}
}

func TestInspectSpin1(t *testing.T) {
	locked := []byte(spin1Locked())
	m := &Manifest{MediaType: MediaTypeOCIManifest, Config: layer(MediaTypeSpinApp, locked), Layers: []Descriptor{layer(MediaTypeWasm, wasmAPI)}}
	blobs := map[string][]byte{m.Config.Digest: locked}
	app, err := Inspect("127.0.0.1:5000/hello:v1", m, fetcher(blobs, nil))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
		return
	}
	if app.Format != "spin1" || app.Name != "hello" {
		t.Errorf("app: %+v", app)
	}
}

func TestInspectRefusals(t *testing.T) {
	gz := "application/vnd.oci.image.layer.v1.tar+gzip"
	container := &Manifest{MediaType: MediaTypeOCIManifest, Config: layer(MediaTypeOCIConfig, []byte("{}")),
		Layers: []Descriptor{layer(gz, []byte("a")), layer(gz, []byte("b"))}}
	_, err := Inspect("ghcr.io/acme/web:v1", container, fetcher(nil, nil))
	want := "ghcr.io/acme/web:v1 is a container image (layers application/vnd.oci.image.layer.v1.tar+gzip), not a Spin app: push it with `spin registry push`"
	var nsa *NotSpinAppError
	if !errors.As(err, &nsa) || err.Error() != want || !IsRefusal(err) || IsNotFound(err) {
		t.Errorf("container image: %v", err)
	}

	docker := &Manifest{MediaType: MediaTypeDockerManifest, Config: layer("application/vnd.docker.container.image.v1+json", []byte("{}")),
		Layers: []Descriptor{layer("application/vnd.docker.image.rootfs.diff.tar.gzip", []byte("a"))}}
	if _, err := Inspect("r.example/x:1", docker, fetcher(nil, nil)); err == nil || !strings.Contains(err.Error(), "is a container image") {
		t.Errorf("docker image: %v", err)
	}

	wasmOnly := &Manifest{MediaType: MediaTypeOCIManifest, Config: layer("application/vnd.wasm.config.v0+json", []byte("{}")),
		Layers: []Descriptor{layer(MediaTypeWasm, wasmAPI)}}
	if _, err := Inspect("r.example/x:1", wasmOnly, fetcher(nil, nil)); err == nil || !strings.Contains(err.Error(), "Wasm artifact without a Spin locked app") {
		t.Errorf("wasm only: %v", err)
	}

	helm := &Manifest{MediaType: MediaTypeOCIManifest, Config: layer("application/vnd.cncf.helm.config.v1+json", []byte("{}")),
		Layers: []Descriptor{layer("application/vnd.cncf.helm.chart.content.v1.tar+gzip", []byte("c"))}}
	if _, err := Inspect("r.example/x:1", helm, fetcher(nil, nil)); err == nil || !strings.Contains(err.Error(), "another kind (config application/vnd.cncf.helm.config.v1+json") {
		t.Errorf("helm chart: %v", err)
	}

	index := &Manifest{MediaType: MediaTypeOCIIndex, Manifests: []IndexEntry{{Platform: Platform{OS: "linux", Architecture: "amd64"}}}}
	if _, err := Inspect("r.example/x:1", index, fetcher(nil, nil)); err == nil || !strings.Contains(err.Error(), "multi-platform image index (linux/amd64)") {
		t.Errorf("index: %v", err)
	}

	// A Spin app whose Wasm layer is missing.
	m, blobs := spinManifest(shopLocked())
	m.Layers = m.Layers[1:]
	_, err = Inspect("r.example/shop:1", m, fetcher(blobs, nil))
	var inv *InvalidAppError
	if !errors.As(err, &inv) || !strings.Contains(err.Error(), `component "frontend"'s Wasm`) || !IsRefusal(err) {
		t.Errorf("missing wasm: %v", err)
	}
	// A file layer missing.
	m, blobs = spinManifest(shopLocked())
	m.Layers = append(m.Layers[:3:3], m.Layers[4:]...)
	if _, err := Inspect("r.example/shop:1", m, fetcher(blobs, nil)); err == nil || !strings.Contains(err.Error(), `file "index.html"`) {
		t.Errorf("missing file: %v", err)
	}
	// ... unless the files travel in an archive layer.
	m, blobs = spinManifest(shopLocked(), layer(MediaTypeArchiveLayer, []byte("tgz")))
	m.Layers = append(m.Layers[:3:3], m.Layers[4:]...)
	if _, err := Inspect("r.example/shop:1", m, fetcher(blobs, nil)); err != nil {
		t.Errorf("archive layer: %v", err)
	}
	// Two locked apps.
	m, blobs = spinManifest(shopLocked(), layer(MediaTypeSpinApp, []byte("{}")))
	if _, err := Inspect("r.example/shop:1", m, fetcher(blobs, nil)); err == nil || !strings.Contains(err.Error(), "2 locked app layers") {
		t.Errorf("two locked apps: %v", err)
	}
	// A broken locked app.
	m, blobs = spinManifest(`{"spin_lock_version": 0, "components": "x"}`)
	if _, err := Inspect("r.example/shop:1", m, fetcher(blobs, nil)); err == nil || !strings.Contains(err.Error(), "is not a usable Spin app") || !strings.Contains(err.Error(), "no components") {
		t.Errorf("broken locked app: %v", err)
	}
	// A source that is a local file (not pushed by spin registry push).
	m, blobs = spinManifest(`{"spin_lock_version":0,"triggers":[],"components":[{"id":"a","source":{"content_type":"application/wasm","source":"file:///home/me/a.wasm"}}]}`)
	if _, err := Inspect("r.example/shop:1", m, fetcher(blobs, nil)); err == nil || !strings.Contains(err.Error(), "file:///home/me/a.wasm") {
		t.Errorf("file source: %v", err)
	}
	// fetchBlob's errors come back as they are (here: registry down).
	m, _ = spinManifest(shopLocked())
	down := &UnavailableError{Registry: "r.example", Op: "GET blob", Status: 503}
	_, err = Inspect("r.example/shop:1", m, func(Descriptor) ([]byte, error) { return nil, down })
	var ue *UnavailableError
	if !errors.As(err, &ue) || !ue.Unavailable() || IsRefusal(err) {
		t.Errorf("unavailable: %v", err)
	}
}

func TestParseManifest(t *testing.T) {
	raw := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + dgst + `","size":10},"layers":[{"mediaType":"application/vnd.wasm.content.layer.v1+wasm","digest":"` + dgst + `","size":3}],"annotations":{"org.opencontainers.image.title":"shop"}}`)
	m, err := ParseManifest(raw, "")
	if err != nil || m.MediaType != MediaTypeOCIManifest || m.Config.Size != 10 || len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeWasmLayer || m.Annotations["org.opencontainers.image.title"] != "shop" || m.Digest != sha256Digest(raw) {
		t.Errorf("ParseManifest: %+v, %v", m, err)
	}
	// Without mediaType in the document: the Content-Type, then the shape.
	idx := []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + dgst + `","size":5,"platform":{"os":"linux","architecture":"arm64"}},{"digest":"` + dgst + `","size":6,"platform":{"os":"wasip1","architecture":"wasm"}}]}`)
	m, err = ParseManifest(idx, "application/json; charset=utf-8")
	if err != nil || !m.IsIndex() || len(m.Manifests) != 2 {
		t.Fatalf("index: %+v, %v", m, err)
		return
	}
	if e, ok := m.PickWasm(); !ok || e.Size != 6 {
		t.Errorf("PickWasm: %+v %v", e, ok)
	}
	if m.platforms() != "linux/arm64, wasip1/wasm" {
		t.Errorf("platforms: %q", m.platforms())
	}
	m.Manifests = m.Manifests[:1]
	if _, ok := m.PickWasm(); ok {
		t.Errorf("PickWasm picked linux/arm64")
	}
	for _, c := range []struct{ doc, want string }{
		{`{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}`, "schema 1"},
		{`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`, "no config"},
		{`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:x"}}`, "64 hex"},
		{`{"schemaVersion":3,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`, "schemaVersion"},
		{`[1]`, "not a JSON object"},
		{`{"schemaVersion":2,"mediaType":"text/html"}`, "unknown manifest media type"},
	} {
		if _, err := ParseManifest([]byte(c.doc), ""); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseManifest(%.50q) = %v, want %q", c.doc, err, c.want)
		}
	}
}
