package spinhost

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// Spin variables, as spin up resolves them:
//
//   - Application variables are declared in [variables] with a default or
//     required = true (and optionally secret = true).
//   - A value comes from the first provider that has one. spin up's
//     providers, in order, are the --variable flags and then the
//     environment (SPIN_VARIABLE_<NAME in upper case>); the manifest
//     default is the last resort. This host takes the --variable values
//     from Options.Variables.
//   - Components see only their own [component.<id>.variables], whose
//     values are templates over application variables ("{{ name }}").
//   - allowed_outbound_hosts entries may also be templates.
//
// Spin resolves every application variable when the app starts (and fails
// if a required one has no value); this host does the same, so a missing
// admin token stops startup instead of failing the first request.

// EnvVariablePrefix is the environment variable prefix of Spin's default
// variables provider.
const EnvVariablePrefix = "SPIN_VARIABLE_"

// VariableEnvName is the environment variable that provides variable name.
func VariableEnvName(name string) string { return EnvVariablePrefix + strings.ToUpper(name) }

// ValidateVariableName applies Spin's rules for variable names (the
// spin-expressions Key type): lower-case ASCII letters, digits and single
// underscores, starting with a letter and not ending with an underscore.
func ValidateVariableName(name string) error {
	reason := ""
	switch {
	case name == "":
		reason = "must not be empty"
	case strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	}) >= 0:
		reason = "Variable names may contain only lower-case letters, numbers, and underscores."
	case !(name[0] >= 'a' && name[0] <= 'z'):
		reason = "must start with a lowercase ASCII letter"
	case name[len(name)-1] == '_':
		reason = "must end with a lowercase ASCII letter or digit"
	case strings.Contains(name, "__"):
		reason = "must not contain multiple consecutive underscores"
	}
	if reason != "" {
		return fmt.Errorf("invalid variable name %q: %s", name, reason)
	}
	return nil
}

// templatePart is a literal or a variable reference of a template.
type templatePart struct {
	literal string
	varName string // set for {{ name }} parts
}

// Template is a parsed Spin expression template such as
// "https://{{ host }}:{{ port }}".
type Template []templatePart

// ParseTemplate splits s into literal text and {{ variable }} references.
func ParseTemplate(s string) (Template, error) {
	var t Template
	rest := s
	for {
		open := strings.Index(rest, "{{")
		if open < 0 {
			if rest != "" {
				t = append(t, templatePart{literal: rest})
			}
			return t, nil
		}
		if open > 0 {
			t = append(t, templatePart{literal: rest[:open]})
		}
		end := strings.Index(rest[open+2:], "}}")
		if end < 0 {
			return nil, fmt.Errorf("invalid template %q: unterminated {{", s)
		}
		name := strings.TrimSpace(rest[open+2 : open+2+end])
		if err := ValidateVariableName(name); err != nil {
			return nil, fmt.Errorf("invalid template %q: %w", s, err)
		}
		t = append(t, templatePart{varName: name})
		rest = rest[open+2+end+2:]
	}
}

// IsLiteral reports whether the template references no variable.
func (t Template) IsLiteral() bool {
	for _, p := range t {
		if p.varName != "" {
			return false
		}
	}
	return true
}

// Render substitutes resolved values.
func (t Template) Render(values map[string]string) (string, error) {
	var b strings.Builder
	for _, p := range t {
		if p.varName == "" {
			b.WriteString(p.literal)
			continue
		}
		v, ok := values[p.varName]
		if !ok {
			return "", fmt.Errorf("unknown variable %q", p.varName)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// VariableSources are the value providers, highest priority first.
type VariableSources struct {
	// Overrides plays the role of spin up --variable name=value.
	Overrides map[string]string
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// ResolveVariables resolves every application variable of m. A required
// variable without a value is an error that names the variable and how to
// set it.
func ResolveVariables(m *Manifest, src VariableSources) (map[string]string, error) {
	lookup := src.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	values := make(map[string]string, len(m.Variables))
	var missing []string
	for name, v := range m.Variables {
		if val, ok := src.Overrides[name]; ok {
			values[name] = val
			continue
		}
		if val, ok := lookup(VariableEnvName(name)); ok {
			values[name] = val
			continue
		}
		if v.Default != nil {
			values[name] = *v.Default
			continue
		}
		missing = append(missing, name)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		var b strings.Builder
		for i, name := range missing {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "variable %q is required but has no value: set %s=<value> in the environment or pass --variable %s=<value>",
				name, VariableEnvName(name), name)
		}
		return nil, fmt.Errorf("%s", b.String())
	}
	return values, nil
}

// UnknownOverrides returns override names that are not application
// variables (spin up ignores them; the host warns).
func UnknownOverrides(m *Manifest, overrides map[string]string) []string {
	var out []string
	for name := range overrides {
		if _, ok := m.Variables[name]; !ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// ComponentVariables renders a component's variable templates against the
// resolved application variables. A template that names an undeclared
// application variable is an error, as in Spin.
func ComponentVariables(c *Component, m *Manifest, appValues map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(c.Variables))
	for name, raw := range c.Variables {
		t, err := ParseTemplate(raw)
		if err != nil {
			return nil, fmt.Errorf("component %q variable %q: %w", c.ID, name, err)
		}
		for _, p := range t {
			if p.varName != "" {
				if _, ok := m.Variables[p.varName]; !ok {
					return nil, fmt.Errorf("component %q variable %q: invalid variable template: unknown variable %q (declare it in [variables])", c.ID, name, p.varName)
				}
			}
		}
		v, err := t.Render(appValues)
		if err != nil {
			return nil, fmt.Errorf("component %q variable %q: %w", c.ID, name, err)
		}
		out[name] = v
	}
	return out, nil
}

// Spin's spin-config error variant tags (wit/spin-config.wit).
const (
	configErrProvider      = 0
	configErrInvalidKey    = 1
	configErrInvalidSchema = 2
	configErrOther         = 3
)

// configError is a spin-config error variant with its message.
type configError struct {
	tag uint8
	msg string
}

// lookupComponentVariable implements spin-config.get-config for one
// component: the key must be a valid name (else invalid-key, as Spin maps
// InvalidName) and must be one of the component's variables (else
// provider, as Spin maps Undefined).
func lookupComponentVariable(componentID string, values map[string]string, key string) (string, *configError) {
	if err := ValidateVariableName(key); err != nil {
		return "", &configError{configErrInvalidKey, err.Error()}
	}
	v, ok := values[key]
	if !ok {
		return "", &configError{configErrProvider, fmt.Sprintf("undefined variable: no variable for %q.%q", componentID, key)}
	}
	return v, nil
}
