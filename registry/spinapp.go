package registry

// Spin's locked app format (the spin.lock JSON that `spin registry push`
// stores in the artifact), as read from spinframework/spin (main, 2025):
//   - crates/locked-app/src/locked.rs: LockedApp {spin_lock_version (0 or 1,
//     FixedVersionBackwardCompatible<1>), must_understand, metadata,
//     host_requirements, variables {name: {description?, default?, secret}},
//     triggers [{id, trigger_type, trigger_config, trigger_dependencies}],
//     components [{id, metadata, source {content_type, source?|inline?|digest?},
//     env, files [{source?|inline?|digest?, path}], config {key: template},
//     dependencies, host_requirements}]}. Unknown fields are ignored; a
//     variable without default is required.
//   - crates/loader/src/local.rs (load_component, locked_metadata,
//     locked_trigger): component metadata keys description,
//     allowed_outbound_hosts, key_value_stores, databases (the manifest's
//     sqlite_databases), ai_models, build; app metadata name, version,
//     description, authors, triggers, trigger {type, ...}; an HTTP
//     trigger_config holds component and route (a string, or
//     {"private": true}).
//   - crates/oci/src/client.rs (push_locked_core, content_ref_for_layer):
//     the locked app is a layer of type application/vnd.fermyon.spin.application.v1+config,
//     the config is an OCI image config (architecture wasm, os wasip1,
//     label com.fermyon.spin.lockedAppDigest); each component source and
//     file becomes ContentRef {digest = its layer, inline when <= 128 bytes
//     (such files get no layer)}. Spin 1.x stored the locked app as the
//     manifest's config blob; its pull still reads the config as a locked app.
//   - Spin 1.x components may carry allowed_http_hosts instead of
//     allowed_outbound_hosts; Spin converts them the way
//     allowedHTTPToOutbound does (spin-outbound-networking,
//     convert_allowed_http_to_allowed_hosts without database access).

import (
	"sort"
	"strings"

	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

// App is what spinport needs to know about a Spin application before it
// deploys it. Lists are sorted and hold no duplicates.
type App struct {
	Format          string // "spin2" (locked app layer, Spin >= 2) or "spin1" (locked app as config)
	LockedAppDigest string // digest of the locked app blob
	SpinLockVersion int    // 0 or 1
	Name            string // metadata.name ("" if absent)
	Version         string // metadata.version
	Description     string

	Components []Component
	Routes     []Route   // HTTP triggers, in the locked app's order
	Triggers   []Trigger // every trigger, HTTP included
	Variables  []Variable

	KeyValueStores       []string // union over components
	SQLiteDatabases      []string // union over components
	AllowedOutboundHosts []string // union over components
	HostRequirements     []string // app and component host_requirements keys (e.g. local_service_chaining)
}

// Component is one locked component.
type Component struct {
	ID                   string
	Description          string
	SourceDigest         string   // the Wasm layer's digest ("" if inlined)
	AllowedOutboundHosts []string // as written; may hold templates like "https://{{ api_host }}"
	KeyValueStores       []string
	SQLiteDatabases      []string
	Variables            []string // app variables its config templates use
	ConfigKeys           []string // its config (component variable) names
	EnvKeys              []string // names only: values may be anything
	Files                int      // mounted files
}

// Route is an HTTP trigger.
type Route struct {
	TriggerID string
	Route     string // e.g. "/api/...", "" when Private
	Component string
	Private   bool // route = { private = true }: reachable only by service chaining
}

// Trigger is any trigger.
type Trigger struct {
	ID        string
	Type      string // "http", "redis", "cron", ...
	Component string // "" when the trigger names none
}

// Variable is an application variable.
type Variable struct {
	Name        string
	Required    bool // no default: a value must be given at deploy time
	Secret      bool
	Default     string // meaningful when !Required; it is in the artifact, so not secret
	Description string
}

// Inspect decides whether manifest m (of reference ref, used in messages)
// is a Spin app and reads its locked app with fetchBlob. Refusals are
// *NotSpinAppError (a container image, another artifact) and
// *InvalidAppError (a broken Spin app); fetchBlob's errors come back as
// they are. Spin apps are recognised by their layers, because a plain
// container image has the same config media type as a Spin >= 2 app.
func Inspect(ref string, m *Manifest, fetchBlob func(Descriptor) ([]byte, error)) (*App, error) {
	if m == nil {
		return nil, errorString("registry: Inspect: nil manifest")
	}
	if m.IsIndex() {
		return nil, &NotSpinAppError{Ref: ref, Reason: "is a multi-platform image index (" + m.platforms() + ")"}
	}
	var locked []Descriptor
	for _, l := range m.Layers {
		if baseMediaType(l.MediaType) == MediaTypeSpinApp {
			locked = append(locked, l)
		}
	}
	var src Descriptor
	format := "spin2"
	switch {
	case len(locked) > 1:
		return nil, &InvalidAppError{Ref: ref, Reason: "it has " + itoa(len(locked)) + " locked app layers (" + MediaTypeSpinApp + "), want one"}
	case len(locked) == 1:
		src = locked[0]
	case baseMediaType(m.Config.MediaType) == MediaTypeSpinApp:
		src, format = m.Config, "spin1"
	default:
		return nil, &NotSpinAppError{Ref: ref, Reason: classify(m)}
	}
	data, err := fetchBlob(src)
	if err != nil {
		return nil, err
	}
	app, err := ParseLockedApp(data)
	if err != nil {
		return nil, &InvalidAppError{Ref: ref, Reason: "its locked app (" + src.Digest + ") " + err.Error()}
	}
	app.Format = format
	app.LockedAppDigest = src.Digest
	if err := checkLayers(app, m, data); err != nil {
		return nil, &InvalidAppError{Ref: ref, Reason: err.Error()}
	}
	return app, nil
}

// classify says what a manifest without a locked app is.
func classify(m *Manifest) string {
	var types []string
	seen := map[string]bool{}
	container, wasm := false, false
	for _, l := range m.Layers {
		mt := baseMediaType(l.MediaType)
		if !seen[mt] {
			seen[mt] = true
			types = append(types, mt)
		}
		switch {
		case strings.HasPrefix(mt, "application/vnd.oci.image.layer."), strings.HasPrefix(mt, "application/vnd.docker.image.rootfs."):
			container = true
		case mt == MediaTypeWasmLayer || mt == MediaTypeWasm:
			wasm = true
		}
	}
	layers := strings.Join(types, ", ")
	switch {
	case len(m.Layers) == 0:
		return "is an artifact without layers (config " + m.Config.MediaType + ")"
	case container:
		return "is a container image (layers " + layers + ")"
	case wasm:
		return "is a Wasm artifact without a Spin locked app (layers " + layers + "; a `wkg` or `docker buildx` push, not `spin registry push`)"
	default:
		return "is an OCI artifact of another kind (config " + m.Config.MediaType + ", layers " + layers + ")"
	}
}

// checkLayers verifies that every component's Wasm and every file the
// locked app names (unless inlined) is a layer of the artifact: otherwise
// the shim fails at pod start, long after the deploy said yes.
func checkLayers(app *App, m *Manifest, lockedData []byte) error {
	layers := map[string]string{}
	archive := false
	for _, l := range m.Layers {
		mt := baseMediaType(l.MediaType)
		layers[l.Digest] = mt
		if mt == MediaTypeArchiveLayer {
			archive = true
		}
	}
	// Re-read sources and files: App keeps only digests of sources.
	var p fastjson.Parser
	v, err := p.ParseBytes(lockedData)
	if err != nil {
		return err
	}
	for _, c := range v.GetArray("components") {
		id := string(c.GetStringBytes("id"))
		src := c.Get("source")
		digest := string(src.GetStringBytes("digest"))
		inline := src.Get("inline") != nil
		switch {
		case digest != "":
			if mt, ok := layers[digest]; !ok && !inline {
				return errorString("component " + quote(id, 64) + "'s Wasm " + digest + " is not a layer of the artifact")
			} else if ok && mt != MediaTypeWasmLayer && mt != MediaTypeWasm {
				return errorString("component " + quote(id, 64) + "'s Wasm " + digest + " is a layer of type " + quote(mt, 100) + ", not Wasm")
			}
		case inline:
		default:
			s := string(src.GetStringBytes("source"))
			return errorString("component " + quote(id, 64) + "'s source is " + quote(redactURL(s), 120) + ", not content of the artifact (was the locked app made by `spin registry push`?)")
		}
		if archive {
			continue // files are inside the archive layer
		}
		for _, f := range c.GetArray("files") {
			d := string(f.GetStringBytes("digest"))
			if d == "" || f.Get("inline") != nil {
				continue
			}
			if _, ok := layers[d]; !ok {
				return errorString("component " + quote(id, 64) + "'s file " + quote(string(f.GetStringBytes("path")), 120) + " (" + d + ") is not a layer of the artifact")
			}
		}
	}
	return nil
}

// ParseLockedApp reads a locked app (spin.lock JSON). Its errors say what
// is wrong with the document ("is not JSON", "component 3 has no id").
func ParseLockedApp(data []byte) (*App, error) {
	if !jsonw.Shallow(data, jsonw.MaxDepth) {
		return nil, errorString("nests deeper than " + itoa(jsonw.MaxDepth) + " levels")
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(data)
	if err != nil {
		return nil, errorString("is not JSON: " + clip(err.Error(), 200))
	}
	if v.Type() != fastjson.TypeObject {
		return nil, errorString("is not a JSON object")
	}
	app := &App{}
	ver := v.Get("spin_lock_version")
	if ver == nil {
		return nil, errorString("has no spin_lock_version: it is not a Spin locked app")
	}
	n, err := ver.Int()
	if err != nil || n < 0 || n > 1 {
		return nil, errorString("has spin_lock_version " + clip(ver.String(), 20) + "; this spinport reads versions 0 and 1 (a newer Spin? push with Spin 2 or 3)")
	}
	app.SpinLockVersion = n
	for _, mu := range v.GetArray("must_understand") {
		s := string(mu.GetStringBytes())
		if s != "host_requirements" && s != "component_host_requirements" {
			return nil, errorString("must be understood for " + quote(s, 64) + ", which this spinport does not know")
		}
	}
	if md := v.Get("metadata"); md != nil {
		app.Name = string(md.GetStringBytes("name"))
		app.Version = string(md.GetStringBytes("version"))
		app.Description = string(md.GetStringBytes("description"))
	}
	reqs := set{}
	if hr := v.GetObject("host_requirements"); hr != nil {
		hr.Visit(func(k []byte, val *fastjson.Value) {
			if string(val.GetStringBytes()) != "optional" {
				reqs.add(string(k))
			}
		})
	}

	// Variables.
	if vars := v.Get("variables"); vars != nil {
		obj, err := vars.Object()
		if err != nil {
			return nil, errorString("has variables that are not an object")
		}
		var bad error
		obj.Visit(func(k []byte, val *fastjson.Value) {
			if bad != nil {
				return
			}
			if val.Type() != fastjson.TypeObject {
				bad = errorString("has variable " + quote(string(k), 64) + " that is not an object")
				return
			}
			vr := Variable{Name: string(k), Secret: val.GetBool("secret"), Description: string(val.GetStringBytes("description"))}
			if d := val.Get("default"); d != nil && d.Type() == fastjson.TypeString {
				vr.Default = string(d.GetStringBytes())
			} else {
				vr.Required = true
			}
			app.Variables = append(app.Variables, vr)
		})
		if bad != nil {
			return nil, bad
		}
		sort.Slice(app.Variables, func(i, j int) bool { return app.Variables[i].Name < app.Variables[j].Name })
	}

	// Components.
	comps := v.Get("components")
	if comps == nil || comps.Type() != fastjson.TypeArray {
		return nil, errorString("has no components array")
	}
	ids := map[string]bool{}
	kv, sqlite, hosts := set{}, set{}, set{}
	for i, c := range comps.GetArray() {
		if c.Type() != fastjson.TypeObject {
			return nil, errorString("has component " + itoa(i) + " that is not an object")
		}
		comp := Component{ID: string(c.GetStringBytes("id"))}
		if comp.ID == "" {
			return nil, errorString("has component " + itoa(i) + " without an id")
		}
		if ids[comp.ID] {
			return nil, errorString("has two components with id " + quote(comp.ID, 64))
		}
		ids[comp.ID] = true
		if c.Get("source") == nil {
			return nil, errorString("has component " + quote(comp.ID, 64) + " without a source")
		}
		comp.SourceDigest = string(c.GetStringBytes("source", "digest"))
		md := c.Get("metadata")
		comp.Description = string(md.GetStringBytes("description"))
		comp.AllowedOutboundHosts = stringArray(md, "allowed_outbound_hosts")
		if old := stringArray(md, "allowed_http_hosts"); len(old) > 0 {
			comp.AllowedOutboundHosts = append(comp.AllowedOutboundHosts, allowedHTTPToOutbound(old)...)
		}
		comp.AllowedOutboundHosts = sortedUnique(comp.AllowedOutboundHosts)
		comp.KeyValueStores = sortedUnique(stringArray(md, "key_value_stores"))
		comp.SQLiteDatabases = sortedUnique(stringArray(md, "databases"))
		used := set{}
		if cfg := c.GetObject("config"); cfg != nil {
			cfg.Visit(func(k []byte, val *fastjson.Value) {
				comp.ConfigKeys = append(comp.ConfigKeys, string(k))
				for _, name := range TemplateVariables(string(val.GetStringBytes())) {
					used.add(name)
				}
			})
		}
		for _, h := range comp.AllowedOutboundHosts {
			for _, name := range TemplateVariables(h) {
				used.add(name)
			}
		}
		comp.Variables = used.sorted()
		sort.Strings(comp.ConfigKeys)
		if env := c.GetObject("env"); env != nil {
			env.Visit(func(k []byte, _ *fastjson.Value) { comp.EnvKeys = append(comp.EnvKeys, string(k)) })
			sort.Strings(comp.EnvKeys)
		}
		comp.Files = len(c.GetArray("files"))
		if hr := c.GetObject("host_requirements"); hr != nil {
			hr.Visit(func(k []byte, val *fastjson.Value) {
				if string(val.GetStringBytes()) != "optional" {
					reqs.add(string(k))
				}
			})
		}
		kv.addAll(comp.KeyValueStores)
		sqlite.addAll(comp.SQLiteDatabases)
		hosts.addAll(comp.AllowedOutboundHosts)
		app.Components = append(app.Components, comp)
	}
	if len(app.Components) == 0 {
		return nil, errorString("has no components")
	}
	declared := map[string]bool{}
	for _, vr := range app.Variables {
		declared[vr.Name] = true
	}
	for _, comp := range app.Components {
		for _, name := range comp.Variables {
			if !declared[name] {
				return nil, errorString("has component " + quote(comp.ID, 64) + " using variable " + quote(name, 64) + ", which the app does not declare")
			}
		}
	}

	// Triggers.
	trigs := v.Get("triggers")
	if trigs == nil || trigs.Type() != fastjson.TypeArray {
		return nil, errorString("has no triggers array")
	}
	for i, t := range trigs.GetArray() {
		tr := Trigger{ID: string(t.GetStringBytes("id")), Type: string(t.GetStringBytes("trigger_type"))}
		if tr.Type == "" {
			return nil, errorString("has trigger " + itoa(i) + " without trigger_type")
		}
		cfg := t.Get("trigger_config")
		if cv := cfg.Get("component"); cv != nil {
			if cv.Type() != fastjson.TypeString {
				return nil, errorString("has trigger " + quote(tr.ID, 64) + " whose component is not a component id")
			}
			tr.Component = string(cv.GetStringBytes())
			if !ids[tr.Component] {
				return nil, errorString("has trigger " + quote(tr.ID, 64) + " for component " + quote(tr.Component, 64) + ", which it does not contain")
			}
		}
		app.Triggers = append(app.Triggers, tr)
		if tr.Type != "http" {
			continue
		}
		rt := Route{TriggerID: tr.ID, Component: tr.Component}
		switch r := cfg.Get("route"); {
		case r == nil:
			return nil, errorString("has HTTP trigger " + quote(tr.ID, 64) + " without a route")
		case r.Type() == fastjson.TypeString:
			rt.Route = string(r.GetStringBytes())
		case r.Type() == fastjson.TypeObject && r.GetBool("private"):
			rt.Private = true
		default:
			return nil, errorString("has HTTP trigger " + quote(tr.ID, 64) + " whose route is neither a path nor {\"private\": true}")
		}
		app.Routes = append(app.Routes, rt)
	}

	app.KeyValueStores = kv.sorted()
	app.SQLiteDatabases = sqlite.sorted()
	app.AllowedOutboundHosts = hosts.sorted()
	app.HostRequirements = reqs.sorted()
	return app, nil
}

// RequiredVariables lists the names of variables without a default.
func (a *App) RequiredVariables() []string {
	var out []string
	for _, v := range a.Variables {
		if v.Required {
			out = append(out, v.Name)
		}
	}
	return out
}

// Component returns the component with the given id.
func (a *App) Component(id string) (Component, bool) {
	for _, c := range a.Components {
		if c.ID == id {
			return c, true
		}
	}
	return Component{}, false
}

// TemplateVariables returns the variable names a Spin template uses, in
// order of appearance: "https://{{ host }}:{{port}}" -> [host port].
// Spin variable names are lowercase letters, digits and underscores.
func TemplateVariables(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return out
		}
		s = s[i+2:]
		j := strings.Index(s, "}}")
		if j < 0 {
			return out
		}
		name := strings.TrimSpace(s[:j])
		s = s[j+2:]
		if name != "" && strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == "" {
			out = append(out, name)
		}
	}
}

// allowedHTTPToOutbound converts Spin 1.x allowed_http_hosts entries the
// way Spin does when it loads such an app: "insecure:allow-all" ->
// http://*:*, https://*:*, http://self; "self" -> http://self; "host[:port]"
// -> http://host[:port] and https://host[:port].
func allowedHTTPToOutbound(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		switch {
		case h == "insecure:allow-all":
			out = append(out, "http://*:*", "https://*:*", "http://self")
		case h == "self":
			out = append(out, "http://self")
		case h != "":
			h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
			h = strings.TrimRight(h, "/")
			out = append(out, "http://"+h, "https://"+h)
		}
	}
	return out
}

func stringArray(v *fastjson.Value, key string) []string {
	var out []string
	for _, e := range v.GetArray(key) {
		if b, err := e.StringBytes(); err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

type set map[string]bool

func (s set) add(x string) { s[x] = true }

func (s set) addAll(xs []string) {
	for _, x := range xs {
		s[x] = true
	}
}

func (s set) sorted() []string {
	if len(s) == 0 {
		return nil
	}
	out := make([]string, 0, len(s))
	for x := range s {
		out = append(out, x)
	}
	sort.Strings(out)
	return out
}

func sortedUnique(xs []string) []string {
	s := set{}
	s.addAll(xs)
	return s.sorted()
}
