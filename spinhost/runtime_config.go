package spinhost

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/BurntSushi/toml"
)

// The runtime configuration file is what spin up --runtime-config-file
// reads. This host understands the key-value part of it, with spin up's
// rules (spin-runtime-config):
//
//   - The state directory is --state-dir, else the file's state_dir (an
//     empty string means "unset"), else <app dir>/.spin.
//   - The store labelled "default" is SQLite at
//     <state dir>/sqlite_key_value.db unless [key_value_store.default]
//     says otherwise (in-memory if the state directory is unset).
//   - [key_value_store.<label>] type = "spin" is SQLite at path, relative
//     to the runtime config file's directory; without path it is an
//     in-memory database.
//   - type = "redis" with url = "redis://..." is Redis; Spin's Redis
//     provider ignores the label, so all Redis-backed labels that share a
//     database share one keyspace.
//
// Other sections Spin knows (client_tls, sqlite_database, llm_compute,
// variables providers, log_dir) are accepted and ignored with a warning.

// DefaultKVFilename is the file name of the default SQLite store.
const DefaultKVFilename = "sqlite_key_value.db"

// KVStoreConfig is one configured key-value store label.
type KVStoreConfig struct {
	Label string
	Type  string // "spin" or "redis"
	// Path of the SQLite file for type "spin"; "" means in-memory.
	Path string
	// URL of the Redis server for type "redis".
	URL string
}

// RuntimeConfig is the resolved runtime configuration.
type RuntimeConfig struct {
	// Path of the file, "" when none was given.
	Path string
	// StateDir is the resolved state directory ("" = unset).
	StateDir string
	// KeyValueStores by label; always contains "default".
	KeyValueStores map[string]KVStoreConfig
	// Warnings lists sections that parsed but are not implemented.
	Warnings []string
}

// LoadRuntimeConfig reads the runtime config file at path ("" for none).
// appDir is the application (manifest) directory; stateDir, if not empty,
// overrides the state directory like spin up --state-dir.
func LoadRuntimeConfig(path, appDir, stateDir string) (*RuntimeConfig, error) {
	rc := &RuntimeConfig{KeyValueStores: map[string]KVStoreConfig{}}
	var raw map[string]any
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(abs)
		if err != nil {
			return nil, fmt.Errorf("failed to read runtime config file '%s': %w", path, err)
		}
		if _, err := toml.Decode(string(data), &raw); err != nil {
			return nil, fmt.Errorf("failed to parse runtime config file '%s' as toml: %w", path, err)
		}
		rc.Path = abs
	}

	// State directory.
	switch {
	case stateDir != "":
		abs, err := filepath.Abs(stateDir)
		if err != nil {
			return nil, err
		}
		rc.StateDir = abs
	case raw["state_dir"] != nil:
		s, ok := raw["state_dir"].(string)
		if !ok {
			return nil, fmt.Errorf("runtime config %s: state_dir must be a string", path)
		}
		if s != "" {
			abs, err := filepath.Abs(s) // Spin makes it absolute against the working directory
			if err != nil {
				return nil, err
			}
			rc.StateDir = abs
		}
	default:
		rc.StateDir = filepath.Join(appDir, ".spin")
	}

	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "key_value_store", "state_dir":
		case "log_dir", "client_tls", "sqlite_database", "llm_compute", "variables_provider", "config_provider":
			rc.Warnings = append(rc.Warnings, fmt.Sprintf("runtime config: [%s] is not implemented by spinhost and is ignored", k))
		default:
			rc.Warnings = append(rc.Warnings, fmt.Sprintf("runtime config: unknown key %q is ignored (spin up would reject it)", k))
		}
	}

	stores, err := asTable(raw["key_value_store"], "key_value_store")
	if err != nil {
		return nil, fmt.Errorf("runtime config %s: %w", path, err)
	}
	baseDir := ""
	if rc.Path != "" {
		baseDir = filepath.Dir(rc.Path)
	}
	for label, v := range stores {
		where := "key_value_store." + label
		t, err := asTable(v, where)
		if err != nil {
			return nil, fmt.Errorf("runtime config %s: %w", path, err)
		}
		cfg, err := parseKVStoreConfig(label, t, baseDir)
		if err != nil {
			return nil, fmt.Errorf("runtime config %s: could not configure key-value store with label '%s': %w", path, label, err)
		}
		rc.KeyValueStores[label] = cfg
	}
	if _, ok := rc.KeyValueStores["default"]; !ok {
		def := KVStoreConfig{Label: "default", Type: "spin"}
		if rc.StateDir != "" {
			def.Path = filepath.Join(rc.StateDir, DefaultKVFilename)
		}
		rc.KeyValueStores["default"] = def
	}
	return rc, nil
}

func parseKVStoreConfig(label string, t map[string]any, baseDir string) (KVStoreConfig, error) {
	where := "key_value_store." + label
	typ, err := asString(t["type"], where+".type")
	if err != nil {
		return KVStoreConfig{}, err
	}
	cfg := KVStoreConfig{Label: label, Type: typ}
	switch typ {
	case "spin":
		if err := onlyKeys(t, where, "type", "path"); err != nil {
			return KVStoreConfig{}, err
		}
		p, err := asString(t["path"], where+".path")
		if err != nil {
			return KVStoreConfig{}, err
		}
		if p != "" {
			if !filepath.IsAbs(p) && baseDir != "" {
				p = filepath.Join(baseDir, p)
			}
			cfg.Path = p
		}
	case "redis":
		if err := onlyKeys(t, where, "type", "url"); err != nil {
			return KVStoreConfig{}, err
		}
		u, err := asString(t["url"], where+".url")
		if err != nil {
			return KVStoreConfig{}, err
		}
		if u == "" {
			return KVStoreConfig{}, fmt.Errorf("%s: type \"redis\" needs url = \"redis://host:port\"", where)
		}
		cfg.URL = u
	case "":
		return KVStoreConfig{}, fmt.Errorf("%s: missing type (\"spin\" or \"redis\")", where)
	case "azure_cosmos", "aws_dynamo":
		return KVStoreConfig{}, fmt.Errorf("%s: store type %q is not implemented by spinhost (use \"spin\" or \"redis\")", where, typ)
	default:
		return KVStoreConfig{}, fmt.Errorf("the store type '%s' was not registered with the config resolver", typ)
	}
	return cfg, nil
}
