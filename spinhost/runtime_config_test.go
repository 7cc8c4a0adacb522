package spinhost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRuntimeConfigDefault(t *testing.T) {
	app := t.TempDir()
	rc, err := LoadRuntimeConfig("", app, "")
	if err != nil {
		t.Fatal(err)
	}
	def := rc.KeyValueStores["default"]
	if def.Type != "spin" || def.Path != filepath.Join(app, ".spin", "sqlite_key_value.db") {
		t.Errorf("default store = %+v", def)
	}
	if len(rc.KeyValueStores) != 1 {
		t.Errorf("stores = %v", rc.KeyValueStores)
	}
}

func TestRuntimeConfigRedisAndSpin(t *testing.T) {
	app, cfgDir := t.TempDir(), t.TempDir()
	path := writeFile(t, cfgDir, "rc.toml", `
[key_value_store.default]
type = "redis"
url = "redis://127.0.0.1:6379/0"

[key_value_store.cache]
type = "spin"
path = "data/cache.db"

[key_value_store.scratch]
type = "spin"

[[client_tls]]
component_ids = ["x"]
hosts = ["example.com"]
`)
	rc, err := LoadRuntimeConfig(path, app, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := rc.KeyValueStores["default"]; d.Type != "redis" || d.URL != "redis://127.0.0.1:6379/0" {
		t.Errorf("default = %+v", d)
	}
	// Relative paths are relative to the runtime config file.
	if c := rc.KeyValueStores["cache"]; c.Type != "spin" || c.Path != filepath.Join(cfgDir, "data", "cache.db") {
		t.Errorf("cache = %+v", c)
	}
	// type = "spin" without a path is in-memory.
	if s := rc.KeyValueStores["scratch"]; s.Type != "spin" || s.Path != "" {
		t.Errorf("scratch = %+v", s)
	}
	// [[client_tls]] is parsed (client_tls_test.go has the details).
	if len(rc.ClientTLS) != 1 || rc.ClientTLS[0].Hosts[0] != "example.com" || len(rc.Warnings) != 0 {
		t.Errorf("client_tls = %+v, warnings = %v", rc.ClientTLS, rc.Warnings)
	}
}

func TestRuntimeConfigStateDir(t *testing.T) {
	app, cfgDir := t.TempDir(), t.TempDir()
	state := filepath.Join(t.TempDir(), "state")
	path := writeFile(t, cfgDir, "rc.toml", "state_dir = \""+state+"\"\n")
	rc, err := LoadRuntimeConfig(path, app, "")
	if err != nil {
		t.Fatal(err)
	}
	if rc.KeyValueStores["default"].Path != filepath.Join(state, "sqlite_key_value.db") {
		t.Errorf("default = %+v", rc.KeyValueStores["default"])
	}
	// An explicit --state-dir wins over the file.
	rc, err = LoadRuntimeConfig(path, app, filepath.Join(app, "flag"))
	if err != nil {
		t.Fatal(err)
	}
	if rc.KeyValueStores["default"].Path != filepath.Join(app, "flag", "sqlite_key_value.db") {
		t.Errorf("default = %+v", rc.KeyValueStores["default"])
	}
}

func TestRuntimeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadRuntimeConfig(filepath.Join(dir, "missing.toml"), dir, ""); err == nil || !strings.Contains(err.Error(), "failed to read runtime config file") {
		t.Errorf("missing file: %v", err)
	}
	cases := map[string]string{
		"this is not toml = = ":                                      "failed to parse runtime config file",
		"[key_value_store.default]\ntype = \"memcached\"":            "was not registered",
		"[key_value_store.default]\ntype = \"redis\"":                "needs url",
		"[key_value_store.default]\nurl = \"redis://x\"":             "missing type",
		"[key_value_store.default]\ntype = \"spin\"\npth = \"x.db\"": `unknown field "pth"`,
		"[key_value_store.default]\ntype = \"azure_cosmos\"":         "not implemented by spinhost",
		"key_value_store = 3":                                        "must be a table",
	}
	for text, want := range cases {
		p := writeFile(t, dir, "rc.toml", text)
		_, err := LoadRuntimeConfig(p, dir, "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", text, err, want)
		}
	}
}
