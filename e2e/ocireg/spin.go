package ocireg

// Spin artifacts in the layout `spin registry push` produces, after
// spinframework/spin crates/oci/src/client.rs (push_locked_core,
// assemble_layers_uncomposed, push_file_layers, content_ref_for_layer):
//   - manifest application/vnd.oci.image.manifest.v1+json;
//   - config application/vnd.oci.image.config.v1+json: architecture wasm,
//     os wasip1, config.Labels["com.fermyon.spin.lockedAppDigest"] = the
//     locked app layer's digest, rootfs {type: layers, diff_ids: []};
//   - one application/vnd.wasm.content.layer.v1+wasm layer per distinct
//     component Wasm, one application/vnd.wasm.content.layer.v1+data layer
//     per file over 128 bytes (smaller files are only inlined in the locked
//     app), duplicates removed, and last the locked app layer
//     application/vnd.fermyon.spin.application.v1+config;
//   - in the locked app, each component source is {content_type:
//     application/wasm, digest} and each file {digest, path[, inline]};
//     metadata.origin is removed.
// Spin 1.x (Spin1: true) stored the locked app as the config blob (media
// type application/vnd.fermyon.spin.application.v1+config) and pushed only
// the Wasm and data layers; its locked apps say spin_lock_version 0 and may
// list allowed_http_hosts.

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"testing"
)

// Media types of Spin artifacts.
const (
	MediaTypeSpinApp   = "application/vnd.fermyon.spin.application.v1+config"
	MediaTypeWasmLayer = "application/vnd.wasm.content.layer.v1+wasm"
	MediaTypeDataLayer = "application/vnd.wasm.content.layer.v1+data"
	MediaTypeOCIConfig = "application/vnd.oci.image.config.v1+json"
	MediaTypeOCILayer  = "application/vnd.oci.image.layer.v1.tar+gzip"

	inlineMax = 128 // DEFAULT_CONTENT_REF_INLINE_MAX_SIZE
)

// Component of a fixture app.
type Component struct {
	ID                   string
	Route                string            // HTTP route; "private" for {private = true}; "" for no trigger
	Wasm                 []byte            // nil: a small module named after the component
	Files                map[string][]byte // path -> content
	AllowedOutboundHosts []string
	AllowedHTTPHosts     []string // Spin 1.x
	KeyValueStores       []string
	SQLiteDatabases      []string
	Config               map[string]string // component variables (templates)
	Env                  map[string]string
}

// Variable of a fixture app.
type Variable struct {
	Default  string
	Required bool // no default
	Secret   bool
}

// App is a Spin application fixture.
type App struct {
	Name, Version string
	Variables     map[string]Variable
	Components    []Component
	Spin1         bool // Spin 1.x layout: the locked app is the config blob
}

// WasmOf returns a component's Wasm bytes (a valid, empty module followed
// by a custom section naming it, so each component's differs).
func (c Component) WasmOf() []byte {
	if c.Wasm != nil {
		return c.Wasm
	}
	name := []byte(c.ID)
	// custom section: id 0, size, name length, name, (no payload)
	sec := append([]byte{byte(len(name))}, name...)
	return append([]byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00, byte(len(sec))}, sec...)
}

// LockedApp returns the locked app JSON as `spin registry push` stores it.
func (a App) LockedApp() []byte {
	type contentRef struct {
		ContentType string `json:"content_type,omitempty"`
		Inline      string `json:"inline,omitempty"`
		Digest      string `json:"digest,omitempty"`
		Path        string `json:"path,omitempty"`
	}
	type component struct {
		ID       string            `json:"id"`
		Metadata map[string]any    `json:"metadata,omitempty"`
		Source   contentRef        `json:"source"`
		Env      map[string]string `json:"env,omitempty"`
		Files    []contentRef      `json:"files,omitempty"`
		Config   map[string]string `json:"config,omitempty"`
	}
	type trigger struct {
		ID            string         `json:"id"`
		TriggerType   string         `json:"trigger_type"`
		TriggerConfig map[string]any `json:"trigger_config"`
	}
	version := 0
	metadata := map[string]any{"name": a.Name, "version": a.Version}
	if a.Spin1 {
		metadata["trigger"] = map[string]any{"type": "http", "base": "/"}
	} else {
		metadata["trigger"] = map[string]any{"type": "http"}
		metadata["triggers"] = map[string]any{"http": map[string]any{}}
	}
	doc := map[string]any{"spin_lock_version": version, "metadata": metadata}
	if len(a.Variables) > 0 {
		vars := map[string]any{}
		for name, v := range a.Variables {
			m := map[string]any{}
			if !v.Required {
				m["default"] = v.Default
			}
			if v.Secret {
				m["secret"] = true
			}
			vars[name] = m
		}
		doc["variables"] = vars
	}
	var comps []component
	triggers := []trigger{}
	for _, c := range a.Components {
		md := map[string]any{}
		if len(c.AllowedOutboundHosts) > 0 {
			md["allowed_outbound_hosts"] = c.AllowedOutboundHosts
		}
		if len(c.AllowedHTTPHosts) > 0 {
			md["allowed_http_hosts"] = c.AllowedHTTPHosts
		}
		if len(c.KeyValueStores) > 0 {
			md["key_value_stores"] = c.KeyValueStores
		}
		if len(c.SQLiteDatabases) > 0 {
			md["databases"] = c.SQLiteDatabases
		}
		lc := component{ID: c.ID, Metadata: md, Env: c.Env, Config: c.Config,
			Source: contentRef{ContentType: "application/wasm", Digest: Digest(c.WasmOf())}}
		for _, p := range sortedKeys(c.Files) {
			data := c.Files[p]
			ref := contentRef{Digest: Digest(data), Path: p}
			if len(data) <= inlineMax {
				ref.Inline = base64.StdEncoding.EncodeToString(data)
			}
			lc.Files = append(lc.Files, ref)
		}
		comps = append(comps, lc)
		if c.Route != "" {
			cfg := map[string]any{"component": c.ID}
			if c.Route == "private" {
				cfg["route"] = map[string]any{"private": true}
			} else {
				cfg["route"] = c.Route
			}
			if a.Spin1 {
				cfg["executor"] = map[string]any{"type": "spin"}
			}
			triggers = append(triggers, trigger{ID: "trigger-" + c.ID, TriggerType: "http", TriggerConfig: cfg})
		}
	}
	doc["components"] = comps
	doc["triggers"] = triggers
	out, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return out
}

// Image returns the artifact `spin registry push` would upload for a.
func (a App) Image() Image {
	var layers []Blob
	seen := map[string]bool{}
	add := func(b Blob) {
		if d := Digest(b.Data); !seen[d] {
			seen[d] = true
			layers = append(layers, b)
		}
	}
	for _, c := range a.Components {
		add(Blob{MediaTypeWasmLayer, c.WasmOf()})
		for _, p := range sortedKeys(c.Files) {
			if data := c.Files[p]; len(data) > inlineMax {
				add(Blob{MediaTypeDataLayer, data})
			}
		}
	}
	locked := a.LockedApp()
	ann := map[string]string{"org.opencontainers.image.title": a.Name, "org.opencontainers.image.version": a.Version}
	if a.Spin1 {
		return Image{Config: Blob{MediaTypeSpinApp, locked}, Layers: layers, Annotations: ann}
	}
	add(Blob{MediaTypeSpinApp, locked})
	cfg, err := json.Marshal(map[string]any{
		"architecture": "wasm",
		"os":           "wasip1",
		"config":       map[string]any{"Labels": map[string]string{"com.fermyon.spin.lockedAppDigest": Digest(locked)}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{}},
	})
	if err != nil {
		panic(err)
	}
	return Image{Config: Blob{MediaTypeOCIConfig, cfg}, Layers: layers, Annotations: ann}
}

// PushApp pushes a as `spin registry push Host/repo:tag` would.
func (s *Server) PushApp(t testing.TB, repo, tag string, a App) Pushed {
	t.Helper()
	return s.PushImage(t, repo, tag, a.Image())
}

// ContainerImage is a plain linux/amd64 container image: same manifest and
// config media types as a Spin >= 2 app, tar+gzip layers.
func ContainerImage() Image {
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/app"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{Digest([]byte("rootfs"))}},
	})
	return Image{Config: Blob{MediaTypeOCIConfig, cfg}, Layers: []Blob{{MediaTypeOCILayer, []byte("\x1f\x8b fake rootfs")}}}
}

// Fixtures. Each is a plausible app a tenant pushes.

// HelloApp: one component, one route, a data file (one over 128 bytes, one inlined).
func HelloApp() App {
	return App{Name: "hello", Version: "0.1.0", Components: []Component{{
		ID: "hello", Route: "/...",
		Files: map[string][]byte{
			"static/index.html": []byte("<!doctype html><title>hello</title><p>Hello from a Spin app pushed to a real registry in a test.</p><p>Long enough for its own data layer.</p>"),
			"static/robots.txt": []byte("User-agent: *\n"),
		},
	}}}
}

// MultiComponentApp: three components, two public routes and a private one.
func MultiComponentApp() App {
	return App{Name: "shop", Version: "1.2.0", Components: []Component{
		{ID: "frontend", Route: "/...", AllowedOutboundHosts: []string{"http://api.spin.internal"}},
		{ID: "api", Route: "/api/...", KeyValueStores: []string{"default"}},
		{ID: "worker", Route: "private"},
	}}
}

// VariablesApp: required (one secret) and defaulted variables used by the
// component's config.
func VariablesApp() App {
	return App{Name: "vars", Version: "1.0.0",
		Variables: map[string]Variable{
			"api_key":  {Required: true, Secret: true},
			"db_url":   {Required: true},
			"greeting": {Default: "hello"},
		},
		Components: []Component{{ID: "vars", Route: "/...",
			Config: map[string]string{"api_key": "{{ api_key }}", "db_url": "{{ db_url }}", "greeting": "{{ greeting }}"}}},
	}
}

// KVApp: key-value stores and a SQLite database.
func KVApp() App {
	return App{Name: "kv", Version: "1.0.0", Components: []Component{
		{ID: "counter", Route: "/count", KeyValueStores: []string{"default", "sessions"}, SQLiteDatabases: []string{"default"}},
		{ID: "admin", Route: "/admin/...", KeyValueStores: []string{"default"}},
	}}
}

// OutboundApp: outbound hosts, one of them a template.
func OutboundApp() App {
	return App{Name: "outbound", Version: "1.0.0",
		Variables: map[string]Variable{"api_host": {Default: "api.example.com"}},
		Components: []Component{{ID: "proxy", Route: "/...",
			AllowedOutboundHosts: []string{"https://api.github.com", "https://{{ api_host }}", "redis://cache.example.com:6379"}}},
	}
}

// Spin1App: a Spin 1.x artifact (locked app as config, allowed_http_hosts).
func Spin1App() App {
	return App{Name: "legacy", Version: "0.9.0", Spin1: true, Components: []Component{{
		ID: "legacy", Route: "/legacy/...", AllowedHTTPHosts: []string{"api.example.com"}, KeyValueStores: []string{"default"},
	}}}
}

func sortedKeys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
