package spinhost

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

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
// [[client_tls]] entries are parsed and checked as Spin does (see
// ClientTLSConfig) but not applied: Spin applies them to wasi-http only,
// and this host's outbound HTTP is Spin 1's, which trusts the system roots
// (Options.CABundleFile). Other sections Spin knows (sqlite_database,
// llm_compute, variables providers, log_dir) are accepted and ignored with
// a warning.

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
	// ClientTLS are the [[client_tls]] entries in file order (in Spin,
	// for a (component, host) pair the first entry that lists both
	// applies to wasi-http). Parsed, not applied: see ClientTLSConfig.
	ClientTLS []ClientTLSConfig
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
		case "key_value_store", "state_dir", "client_tls":
		case "log_dir", "sqlite_database", "llm_compute", "variables_provider", "config_provider":
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
	if rc.ClientTLS, err = parseClientTLS(raw["client_tls"], baseDir); err != nil {
		return nil, fmt.Errorf("runtime config %s: failed to parse [[client_tls]] table: %w", path, err)
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

// ClientTLSConfig is one [[client_tls]] entry of the runtime config:
//
//	[[client_tls]]
//	component_ids = ["spinport"]          # required, not empty
//	hosts = ["kubernetes.default.svc"]    # required, not empty: "host" or "host:port"
//	ca_use_webpki_roots = false           # default: true unless ca_roots_file is set
//	ca_roots_file = "ca.crt"              # PEM, relative to the runtime config file
//	client_cert_file = "client.crt"       # client certificate chain (mTLS) ...
//	client_private_key_file = "client.key" # ... and its key: both or neither
//
// In Spin it applies to wasi-http requests of the listed components to
// the listed hosts: the server certificate is verified against
// ca_roots_file's certificates, plus Mozilla's webpki-roots when
// ca_use_webpki_roots is true, and the client certificate is presented.
// Spin's Spin 1 outbound HTTP (wasi-outbound-http, the only outbound HTTP
// this host has) ignores it and trusts the system roots
// (spinframework/spin#2604), so spinhost parses and checks it (the files
// are read, as Spin reads them at startup) and ignores it, with a warning.
type ClientTLSConfig struct {
	ComponentIDs []string
	// Hosts as written, lower-cased. "host" matches the host on any port
	// (Spin 3 matches on the URI's host only and rejects ports); "host:port"
	// matches that port only (Spin 2.7 keyed entries by host:port), where
	// a URL without a port has port 443.
	Hosts          []string
	UseWebPKIRoots bool
	// CARootsFile, ClientCertFile and ClientKeyFile are absolute ("" when
	// not set); the files were read and checked when the config loaded.
	CARootsFile    string
	ClientCertFile string
	ClientKeyFile  string

	roots      []*x509.Certificate
	clientCert *tls.Certificate
}

// clientTLSKeys are the fields Spin accepts (it denies unknown fields).
var clientTLSKeys = []string{"component_ids", "hosts", "ca_use_webpki_roots", "ca_roots_file", "client_cert_file", "client_private_key_file"}

func parseClientTLS(v any, baseDir string) ([]ClientTLSConfig, error) {
	var entries []map[string]any
	switch a := v.(type) {
	case nil:
		return nil, nil
	case []map[string]any:
		entries = a
	case []any:
		for i, e := range a {
			t, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("client_tls[%d] must be a table", i)
			}
			entries = append(entries, t)
		}
	default:
		return nil, fmt.Errorf("client_tls must be an array of tables ([[client_tls]])")
	}
	out := make([]ClientTLSConfig, 0, len(entries))
	for i, t := range entries {
		c, err := parseClientTLSEntry(t, fmt.Sprintf("client_tls[%d]", i), baseDir)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func parseClientTLSEntry(t map[string]any, where, baseDir string) (ClientTLSConfig, error) {
	var c ClientTLSConfig
	if err := onlyKeys(t, where, clientTLSKeys...); err != nil {
		return c, err
	}
	if t["component_ids"] == nil {
		return c, fmt.Errorf("%s: missing field `component_ids`", where)
	}
	if t["hosts"] == nil {
		return c, fmt.Errorf("%s: missing field `hosts`", where)
	}
	ids, err := asStrings(t["component_ids"], where+".component_ids")
	if err != nil {
		return c, err
	}
	if len(ids) == 0 {
		return c, fmt.Errorf("%s: 'component_ids' list may not be empty", where)
	}
	for _, id := range ids {
		if !isKebabID(id) {
			return c, fmt.Errorf("%s: component id %q must be kebab-case (lower-case letters, digits and single hyphens)", where, id)
		}
	}
	hosts, err := asStrings(t["hosts"], where+".hosts")
	if err != nil {
		return c, err
	}
	if len(hosts) == 0 {
		return c, fmt.Errorf("%s: 'hosts' list may not be empty", where)
	}
	for i, h := range hosts {
		norm, err := normalizeTLSHost(h)
		if err != nil {
			return c, fmt.Errorf("%s: invalid TLS 'host' %q: %v", where, h, err)
		}
		hosts[i] = norm
	}
	c.ComponentIDs, c.Hosts = ids, hosts

	file := func(key string) (string, error) {
		s, err := asString(t[key], where+"."+key)
		if err != nil || s == "" {
			if err == nil && t[key] != nil {
				err = fmt.Errorf("%s.%s must not be empty", where, key)
			}
			return "", err
		}
		if !filepath.IsAbs(s) && baseDir != "" {
			s = filepath.Join(baseDir, s)
		}
		return s, nil
	}
	if c.CARootsFile, err = file("ca_roots_file"); err != nil {
		return c, err
	}
	if c.ClientCertFile, err = file("client_cert_file"); err != nil {
		return c, err
	}
	if c.ClientKeyFile, err = file("client_private_key_file"); err != nil {
		return c, err
	}
	// Spin: use the public roots by default *unless* explicit roots are given.
	c.UseWebPKIRoots = c.CARootsFile == ""
	if t["ca_use_webpki_roots"] != nil {
		if c.UseWebPKIRoots, err = asBool(t["ca_use_webpki_roots"], where+".ca_use_webpki_roots"); err != nil {
			return c, err
		}
	}
	if c.CARootsFile != "" {
		if c.roots, err = loadPEMCertificates(c.CARootsFile); err != nil {
			return c, fmt.Errorf("%s: %w", where, err)
		}
	}
	switch {
	case c.ClientCertFile != "" && c.ClientKeyFile != "":
		pair, err := tls.LoadX509KeyPair(c.ClientCertFile, c.ClientKeyFile)
		if err != nil {
			return c, fmt.Errorf("%s: failed to load the client certificate '%s' and key '%s': %v", where, c.ClientCertFile, c.ClientKeyFile, err)
		}
		c.clientCert = &pair
	case c.ClientCertFile != "":
		return c, fmt.Errorf("%s: client_cert_file specified without client_private_key_file", where)
	case c.ClientKeyFile != "":
		return c, fmt.Errorf("%s: client_private_key_file specified without client_cert_file", where)
	}
	return c, nil
}

// loadPEMCertificates reads every CERTIFICATE block of a PEM file.
func loadPEMCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to load certificate(s) from '%s': %v", path, err)
	}
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("failed to load certificate(s) from '%s': %v", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("failed to load certificate(s) from '%s': no PEM CERTIFICATE block found", path)
	}
	return certs, nil
}

// normalizeTLSHost checks a [[client_tls]] host ("host", "host:port",
// "[v6]" or "[v6]:port") and returns it lower-cased, IPv6 without
// brackets when there is no port.
func normalizeTLSHost(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("empty host")
	}
	if strings.ContainsAny(h, "/?#@ \t") || strings.Contains(h, "://") {
		return "", fmt.Errorf("expected \"host\" or \"host:port\", without scheme, user or path")
	}
	h = strings.ToLower(h)
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.Index(h, "]")
		if end < 0 {
			return "", fmt.Errorf("missing ']'")
		}
		host = h[1:end]
		rest := h[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", fmt.Errorf("unexpected %q after ']'", rest)
			}
			port = rest[1:]
		}
		if net.ParseIP(host) == nil {
			return "", fmt.Errorf("%q is not an IPv6 address", host)
		}
	} else if i := strings.LastIndex(h, ":"); i >= 0 {
		host, port = h[:i], h[i+1:]
		if strings.Contains(host, ":") {
			return "", fmt.Errorf("IPv6 addresses need brackets: [%s]", h)
		}
	}
	if host == "" {
		return "", fmt.Errorf("empty host")
	}
	if strings.HasPrefix(h, "[") || port != "" {
		if port == "" {
			return host, nil
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("invalid port %q", port)
		}
		return net.JoinHostPort(host, strconv.Itoa(n)), nil
	}
	return host, nil
}

// isKebabID is Spin's rule for component ids: lower-case letters and
// digits in words joined by single hyphens, starting with a letter.
func isKebabID(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

// loadCABundle reads a PEM CA bundle (Options.CABundleFile) the way
// crypto/x509 reads SSL_CERT_FILE: every CERTIFICATE block that parses is
// added, others are skipped. A bundle with no usable certificate is an
// error, since it would make every TLS connection fail.
func loadCABundle(path string) (*x509.CertPool, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("CA bundle: %v", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" || len(b.Headers) != 0 {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			continue
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("CA bundle %s: no PEM CERTIFICATE block found", path)
	}
	return pool, n, nil
}
