package spinhost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleManifest = `spin_manifest_version = 2

[application]
name = "sample"
version = "1.2.3"
description = "a sample"

[variables]
admin_token = { required = true, secret = true }
kv_backend  = { default = "spin" }
api_url     = { default = "https://api.example.com" }

[[trigger.http]]
route = "/..."
component = "web"

[[trigger.http]]
route = "/internal"
component = "web"

[[trigger.http]]
route = { private = true }
component = "web"

[component.web]
source = "build/web.wasm"
description = "the web component"
key_value_stores = ["default"]
allowed_outbound_hosts = ["{{ api_url }}", "redis://127.0.0.1:6379"]
environment = { RUST_LOG = "info" }

[component.web.variables]
admin_token = "{{ admin_token }}"
backend     = "kv={{kv_backend}}"

[component.web.build]
command = "make build"
watch = ["**/*.go"]
`

func TestParseManifest(t *testing.T) {
	m, err := ParseManifest([]byte(sampleManifest), "/app")
	if err != nil {
		t.Fatal(err)
	}
	if m.Application.Name != "sample" || m.Application.Version != "1.2.3" || m.Application.Description != "a sample" {
		t.Errorf("application = %+v", m.Application)
	}
	if v := m.Variables["admin_token"]; !v.Required || !v.Secret || v.Default != nil {
		t.Errorf("admin_token = %+v", v)
	}
	if v := m.Variables["kv_backend"]; v.Required || v.Default == nil || *v.Default != "spin" {
		t.Errorf("kv_backend = %+v", v)
	}
	if len(m.Triggers) != 3 || m.Triggers[0].Route != "/..." || m.Triggers[1].Route != "/internal" || !m.Triggers[2].Private {
		t.Errorf("triggers = %+v", m.Triggers)
	}
	c := m.Components["web"]
	if c == nil {
		t.Fatal("component web missing")
	}
	if c.Source != filepath.Join("/app", "build", "web.wasm") {
		t.Errorf("source = %q", c.Source)
	}
	if strings.Join(c.KeyValueStores, ",") != "default" {
		t.Errorf("key_value_stores = %v", c.KeyValueStores)
	}
	if strings.Join(c.AllowedOutboundHosts, ",") != "{{ api_url }},redis://127.0.0.1:6379" {
		t.Errorf("allowed_outbound_hosts = %v", c.AllowedOutboundHosts)
	}
	if c.Environment["RUST_LOG"] != "info" {
		t.Errorf("environment = %v", c.Environment)
	}
	if c.Variables["backend"] != "kv={{kv_backend}}" || c.Variables["admin_token"] != "{{ admin_token }}" {
		t.Errorf("variables = %v", c.Variables)
	}
}

func TestParseManifestErrors(t *testing.T) {
	base := func(extra string) string {
		return `spin_manifest_version = 2
[application]
name = "x"
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "c.wasm"
` + extra
	}
	cases := []struct {
		name, text, want string
	}{
		{"not toml", "this is = = not toml", "invalid TOML"},
		{"version 1", `spin_manifest_version = 1`, "manifest version 2 only"},
		{"missing version", `[application]` + "\nname='x'", "spin_manifest_version is missing"},
		{"unknown component field", base(`key_value_store = ["default"]`), `unknown field "key_value_store"`},
		{"unknown top level", base("[componnet.d]\nsource='d.wasm'"), `unknown field "componnet"`},
		{"required and default", base("[variables]\nx = { required = true, default = \"a\" }"), "cannot be both required and have a default"},
		{"neither required nor default", base("[variables]\nx = { secret = true }"), "must either be required = true or have a default"},
		{"bad variable name", base("[variables]\nMyVar = { default = \"a\" }"), `invalid variable name "MyVar"`},
		{"bad component variable name", base("[component.c.variables]\nmy__var = \"a\""), "multiple consecutive underscores"},
		{"undefined component", strings.Replace(base(""), `component = "c"`, `component = "nope"`, 1), `component "nope" is not defined`},
		{"redis trigger", base("[[trigger.redis]]\nchannel='x'\ncomponent='c'"), `trigger type "redis" is not supported`},
		{"remote source", strings.Replace(base(""), `source = "c.wasm"`, `source = { url = "https://x/c.wasm", digest = "sha256:0" }`, 1), "remote sources"},
		{"wagi executor", strings.Replace(base(""), `component = "c"`, "component = \"c\"\nexecutor = { type = \"wagi\" }", 1), "not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tc.text), "/app")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseManifestWarnsOnUnimplementedFeatures(t *testing.T) {
	m, err := ParseManifest([]byte(`spin_manifest_version = 2
[application]
name = "x"
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "c.wasm"
files = ["static/**"]
sqlite_databases = ["default"]
`), "/app")
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(m.Warnings, "\n")
	if !strings.Contains(joined, "component.c.files") || !strings.Contains(joined, "component.c.sqlite_databases") {
		t.Errorf("warnings = %v", m.Warnings)
	}
}

// The project's own manifest must stay parseable by the host that tests it.
func TestParseProjectManifest(t *testing.T) {
	path := filepath.Join("..", "spin.toml")
	if _, err := os.Stat(path); err != nil {
		t.Skip("no ../spin.toml")
	}
	m, err := LoadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Triggers) == 0 || len(m.Components) == 0 {
		t.Fatalf("manifest has no triggers or components: %+v", m)
	}
	for _, c := range m.Components {
		if _, err := ComponentVariables(c, m, defaultsOrPlaceholders(m)); err != nil {
			t.Errorf("component %s: %v", c.ID, err)
		}
		if _, err := ParseAllowedHosts(c.AllowedOutboundHosts, defaultsOrPlaceholders(m)); err != nil {
			t.Errorf("component %s: %v", c.ID, err)
		}
	}
}

func defaultsOrPlaceholders(m *Manifest) map[string]string {
	out := map[string]string{}
	for name, v := range m.Variables {
		if v.Default != nil {
			out[name] = *v.Default
		} else {
			out[name] = "placeholder"
		}
	}
	return out
}
