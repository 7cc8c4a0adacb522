package spinhost

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Manifest is the part of a spin.toml (manifest version 2) that the host
// needs. Paths are absolute.
type Manifest struct {
	// Path is the absolute path of the manifest file; Dir is its directory,
	// which Spin calls the application directory (relative component sources
	// and the default .spin state directory hang off it).
	Path string
	Dir  string

	Application Application
	// Variables are the application variables from [variables], by name.
	Variables map[string]Variable
	// Triggers are the [[trigger.http]] entries in manifest order (order
	// matters for duplicate routes: the last one wins, as in Spin).
	Triggers []HTTPTrigger
	// Components by id; ComponentIDs keeps manifest order for stable output.
	Components   map[string]*Component
	ComponentIDs []string

	// Warnings lists manifest features that parsed but that this host does
	// not implement (files, sqlite_databases, ...). The host logs them.
	Warnings []string
}

// Application is the [application] table.
type Application struct {
	Name        string
	Version     string
	Description string
	Authors     []string
}

// Variable is one entry of [variables].
type Variable struct {
	Default  *string
	Required bool
	Secret   bool
}

// HTTPTrigger is one [[trigger.http]] entry.
type HTTPTrigger struct {
	ID        string
	Route     string
	Private   bool // route = { private = true }: reachable only by service chaining, never routed
	Component string
}

// Component is one [component.<id>] table.
type Component struct {
	ID          string
	Source      string // absolute path of the .wasm
	Description string
	// KeyValueStores are the store labels the component may open.
	KeyValueStores []string
	// AllowedOutboundHosts are the raw entries, possibly containing
	// {{ variable }} templates; see AllowedHosts for the parsed form.
	AllowedOutboundHosts []string
	// Environment becomes the WASI environment of every instance.
	Environment map[string]string
	// Variables are the component variables: name -> template.
	Variables map[string]string
}

// LoadManifest reads and validates a spin.toml.
func LoadManifest(path string) (*Manifest, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	m, err := ParseManifest(data, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", abs, err)
	}
	m.Path = abs
	return m, nil
}

// ParseManifest parses manifest text; dir is the application directory
// that relative sources resolve against.
func ParseManifest(data []byte, dir string) (*Manifest, error) {
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, fmt.Errorf("invalid TOML: %w", err)
	}
	m := &Manifest{Dir: dir, Variables: map[string]Variable{}, Components: map[string]*Component{}}

	// Spin rejects unknown top-level keys (serde deny_unknown_fields), so a
	// typo such as [componnet.x] fails here too instead of being ignored.
	if err := onlyKeys(raw, "top level", "spin_manifest_version", "application", "variables", "trigger", "component"); err != nil {
		return nil, err
	}
	switch v := raw["spin_manifest_version"].(type) {
	case int64:
		if v != 2 {
			return nil, fmt.Errorf("spin_manifest_version = %d is not supported: spinhost reads manifest version 2 only", v)
		}
	case nil:
		return nil, fmt.Errorf("spin_manifest_version is missing: spinhost reads manifest version 2 (spin_manifest_version = 2)")
	default:
		return nil, fmt.Errorf("spin_manifest_version must be the integer 2, got %v", v)
	}

	if err := m.parseApplication(raw["application"]); err != nil {
		return nil, err
	}
	if err := m.parseVariables(raw["variables"]); err != nil {
		return nil, err
	}
	if err := m.parseComponents(raw["component"]); err != nil {
		return nil, err
	}
	if err := m.parseTriggers(raw["trigger"]); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Manifest) parseApplication(v any) error {
	app, err := asTable(v, "[application]")
	if err != nil {
		return err
	}
	if app == nil {
		return fmt.Errorf("[application] is missing")
	}
	if err := onlyKeys(app, "[application]", "name", "version", "description", "authors", "trigger", "targets"); err != nil {
		return err
	}
	if m.Application.Name, err = asString(app["name"], "application.name"); err != nil {
		return err
	}
	if m.Application.Name == "" {
		return fmt.Errorf("application.name is required")
	}
	if m.Application.Version, err = asString(app["version"], "application.version"); err != nil {
		return err
	}
	if m.Application.Description, err = asString(app["description"], "application.description"); err != nil {
		return err
	}
	if m.Application.Authors, err = asStrings(app["authors"], "application.authors"); err != nil {
		return err
	}
	return nil
}

func (m *Manifest) parseVariables(v any) error {
	vars, err := asTable(v, "[variables]")
	if err != nil {
		return err
	}
	for name, def := range vars {
		if err := ValidateVariableName(name); err != nil {
			return fmt.Errorf("[variables]: %w", err)
		}
		t, err := asTable(def, "variables."+name)
		if err != nil {
			return err
		}
		if err := onlyKeys(t, "variables."+name, "default", "required", "secret"); err != nil {
			return err
		}
		var vr Variable
		if d, ok := t["default"]; ok {
			s, err := asString(d, "variables."+name+".default")
			if err != nil {
				return err
			}
			vr.Default = &s
		}
		if vr.Required, err = asBool(t["required"], "variables."+name+".required"); err != nil {
			return err
		}
		if vr.Secret, err = asBool(t["secret"], "variables."+name+".secret"); err != nil {
			return err
		}
		// Spin's manifest schema requires exactly one of the two.
		if vr.Required && vr.Default != nil {
			return fmt.Errorf("variable %q: a variable cannot be both required and have a default", name)
		}
		if !vr.Required && vr.Default == nil {
			return fmt.Errorf("variable %q: must either be required = true or have a default", name)
		}
		m.Variables[name] = vr
	}
	return nil
}

func (m *Manifest) parseComponents(v any) error {
	comps, err := asTable(v, "[component]")
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(comps))
	for id := range comps {
		ids = append(ids, id)
	}
	// TOML tables are unordered once decoded; sort for deterministic output.
	sort.Strings(ids)
	for _, id := range ids {
		where := "component." + id
		t, err := asTable(comps[id], where)
		if err != nil {
			return err
		}
		if err := onlyKeys(t, where, "source", "description", "variables", "environment", "files",
			"exclude_files", "allowed_http_hosts", "allowed_outbound_hosts", "key_value_stores",
			"sqlite_databases", "ai_models", "build", "tool", "dependencies_inherit_configuration",
			"dependencies", "targets"); err != nil {
			return err
		}
		c := &Component{ID: id, Environment: map[string]string{}, Variables: map[string]string{}}
		switch src := t["source"].(type) {
		case string:
			if src == "" {
				return fmt.Errorf("%s.source is empty", where)
			}
			if filepath.IsAbs(src) {
				c.Source = src
			} else {
				c.Source = filepath.Join(m.Dir, filepath.FromSlash(src))
			}
		case map[string]any:
			return fmt.Errorf("%s.source: remote sources ({ url, digest }) are not supported by spinhost; build the component locally", where)
		case nil:
			return fmt.Errorf("%s.source is missing", where)
		default:
			return fmt.Errorf("%s.source must be a string", where)
		}
		if c.Description, err = asString(t["description"], where+".description"); err != nil {
			return err
		}
		if c.KeyValueStores, err = asStrings(t["key_value_stores"], where+".key_value_stores"); err != nil {
			return err
		}
		if c.AllowedOutboundHosts, err = asStrings(t["allowed_outbound_hosts"], where+".allowed_outbound_hosts"); err != nil {
			return err
		}
		env, err := asTable(t["environment"], where+".environment")
		if err != nil {
			return err
		}
		for k, v := range env {
			if c.Environment[k], err = asString(v, where+".environment."+k); err != nil {
				return err
			}
		}
		vars, err := asTable(t["variables"], where+".variables")
		if err != nil {
			return err
		}
		for k, v := range vars {
			if err := ValidateVariableName(k); err != nil {
				return fmt.Errorf("%s.variables: %w", where, err)
			}
			if c.Variables[k], err = asString(v, where+".variables."+k); err != nil {
				return err
			}
		}
		for _, unsupported := range []string{"files", "sqlite_databases", "ai_models", "dependencies", "allowed_http_hosts"} {
			if x, ok := t[unsupported]; ok && !isEmpty(x) {
				m.Warnings = append(m.Warnings, fmt.Sprintf("%s.%s is not implemented by spinhost and is ignored", where, unsupported))
			}
		}
		m.Components[id] = c
		m.ComponentIDs = append(m.ComponentIDs, id)
	}
	return nil
}

func (m *Manifest) parseTriggers(v any) error {
	triggers, err := asTable(v, "[trigger]")
	if err != nil {
		return err
	}
	for typ := range triggers {
		if typ != "http" {
			return fmt.Errorf("trigger type %q is not supported by spinhost (only [[trigger.http]])", typ)
		}
	}
	list, ok := triggers["http"].([]map[string]any)
	if !ok && triggers["http"] != nil {
		// BurntSushi/toml decodes arrays of tables as []map[string]any, but
		// an inline array may come back as []any.
		if arr, isArr := triggers["http"].([]any); isArr {
			for i, e := range arr {
				t, ok := e.(map[string]any)
				if !ok {
					return fmt.Errorf("trigger.http[%d] must be a table", i)
				}
				list = append(list, t)
			}
		} else {
			return fmt.Errorf("trigger.http must be an array of tables ([[trigger.http]])")
		}
	}
	if len(list) == 0 {
		return fmt.Errorf("no [[trigger.http]] entries: nothing to serve")
	}
	for i, t := range list {
		where := fmt.Sprintf("trigger.http[%d]", i)
		if err := onlyKeys(t, where, "id", "route", "component", "executor"); err != nil {
			return err
		}
		var tr HTTPTrigger
		if tr.ID, err = asString(t["id"], where+".id"); err != nil {
			return err
		}
		switch r := t["route"].(type) {
		case string:
			tr.Route = r
		case map[string]any:
			if err := onlyKeys(r, where+".route", "private"); err != nil {
				return err
			}
			p, _ := r["private"].(bool)
			if !p {
				return fmt.Errorf("%s: route must be a string pattern or { private = true }", where)
			}
			tr.Private = true
		case nil:
			return fmt.Errorf("%s.route is missing", where)
		default:
			return fmt.Errorf("%s.route must be a string", where)
		}
		switch c := t["component"].(type) {
		case string:
			tr.Component = c
		case map[string]any:
			return fmt.Errorf("%s.component: inline component tables are not supported by spinhost; use [component.<id>] and component = \"<id>\"", where)
		default:
			return fmt.Errorf("%s.component must name a [component.<id>]", where)
		}
		if ex, ok := t["executor"]; ok {
			et, err := asTable(ex, where+".executor")
			if err != nil {
				return err
			}
			if typ, _ := et["type"].(string); typ != "" && typ != "http" && typ != "spin" {
				return fmt.Errorf("%s.executor type %q is not supported by spinhost (only the Spin HTTP executor)", where, typ)
			}
		}
		if _, ok := m.Components[tr.Component]; !ok {
			return fmt.Errorf("%s: component %q is not defined (no [component.%s])", where, tr.Component, tr.Component)
		}
		m.Triggers = append(m.Triggers, tr)
	}
	return nil
}

// ---- small typed accessors over the decoded TOML ----

func onlyKeys(t map[string]any, where string, allowed ...string) error {
	for k := range t {
		found := false
		for _, a := range allowed {
			if k == a {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: unknown field %q (expected one of %s)", where, k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func asTable(v any, where string) (map[string]any, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return t, nil
	default:
		return nil, fmt.Errorf("%s must be a table", where)
	}
}

func asString(v any, where string) (string, error) {
	switch s := v.(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	default:
		return "", fmt.Errorf("%s must be a string", where)
	}
}

func asBool(v any, where string) (bool, error) {
	switch b := v.(type) {
	case nil:
		return false, nil
	case bool:
		return b, nil
	default:
		return false, fmt.Errorf("%s must be true or false", where)
	}
}

func asStrings(v any, where string) ([]string, error) {
	switch a := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, len(a))
		for i, e := range a {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s[%d] must be a string", where, i)
			}
			out[i] = s
		}
		return out, nil
	case []string:
		return a, nil
	default:
		return nil, fmt.Errorf("%s must be an array of strings", where)
	}
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	case []map[string]any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}
