//go:build tinygo

// Command spinport is the Spin component: it reads Spin variables, opens
// the KV store and hands each request to the api and ui packages. It and
// the adapters beside it are the only code that imports the Spin SDK.
package main

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	spinhttp "github.com/fermyon/spin/sdk/go/v2/http"
	"github.com/spinport/spinport"
	"github.com/spinport/spinport/api"
	"github.com/spinport/spinport/k8sproxy"
	"github.com/spinport/spinport/kv"
	"github.com/spinport/spinport/spinkube"
	"github.com/spinport/spinport/ui"
)

// Set at build time with -ldflags -X (hack/tinygo-build.sh). No
// initializers: TinyGo 0.30 ignores -X for a variable that has one
// (tinygo-org/tinygo#2976), so `version = "dev"` would always report
// "dev". versionString supplies the default instead.
var (
	version   string
	buildTime string
)

func versionString() string {
	if version == "" {
		return "dev"
	}
	return version
}

func init() {
	// Guard keeps only the runtime's spin-full-url (see api.FromRuntime)
	// before anything looks at the path.
	spinhttp.Handle(api.Guard(http.HandlerFunc(serve), func(s string) { logf("%s", s) }).ServeHTTP)
}

// portal serves the portal's embedded files.
var portal = ui.Handler()

// serve builds the request's dependencies (Spin runs a fresh instance per
// request, so there is nothing to cache) and routes the request. Portal
// files come first: they need none of the ~60 variables or the router.
func serve(w http.ResponseWriter, r *http.Request) {
	if !api.Serves(r.URL.Path) {
		portal.ServeHTTP(w, r)
		return
	}
	srv, err := newServer()
	if err != nil {
		logf("configuration error: %v", err)
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"title":"spinport is misconfigured","status":503,"detail":%q}`, err.Error())
		return
	}
	srv.Handler().ServeHTTP(w, r)
}

// spinDoer sends outbound HTTP with Spin's SDK directly. Not an
// http.Client: Client.Do arms request timeouts with a goroutine (and
// references Go's own http.Transport, ~1 MB of TLS, x509 and HTTP/2 that
// never runs in the component), and the component is built with TinyGo's
// -scheduler=none, which refuses any reachable goroutine at build time.
// Redirects are the host's: Spin follows them itself.
type spinDoer struct{}

func (spinDoer) Do(r *http.Request) (*http.Response, error) { return spinhttp.Send(r) }

func newServer() (*api.Server, error) {
	v := spinVariables{}
	cfg := api.Config{
		AdminToken:        v.get("admin_token"),
		BaseDomain:        v.get("base_domain"),
		RegistryAllowlist: api.ParseAllowlist(v.get("registry_allowlist")),
		PublicURL:         v.get("public_url"),
		OIDC:              api.OIDCConfig{Issuer: v.get("oidc_issuer"), ClientID: v.get("oidc_client_id"), ClientSecret: v.get("oidc_client_secret")},
		KVBackend:         v.get("kv_backend"),
		AppKV:             v.get("app_redis_url") != "",
		Version:           versionString(),
		BuildTime:         buildTime,
	}
	if v.err != nil {
		return nil, v.err
	}
	dbs, err := strconv.ParseInt(v.get("app_redis_databases"), 10, 64)
	if err != nil || dbs < 2 || dbs > spinport.MaxRedisDatabases {
		return nil, fmt.Errorf("app_redis_databases must be a number from 2 to %d (how many databases the app Redis has), not %q", spinport.MaxRedisDatabases, v.get("app_redis_databases"))
	}
	cfg.AppRedisDBs = dbs
	backend, err := openBackend(cfg.KVBackend, v.get("redis_url"))
	if err != nil {
		return nil, err
	}
	lockTTL, err := duration("lock_ttl", v.get("lock_ttl"))
	if err != nil {
		return nil, err
	}
	idemTTL, err := duration("idempotency_ttl", v.get("idempotency_ttl"))
	if err != nil {
		return nil, err
	}
	doer := spinDoer{}
	srv := &api.Server{
		DB:     kv.DB{B: backend, Now: time.Now, LockTTL: lockTTL, IdempotencyTTL: idemTTL},
		HTTP:   doer,
		Config: cfg,
		Now:    time.Now,
		Rand:   rand.Reader,
		Log:    func(s string) { logf("%s", s) },
	}
	// Kubernetes is configured by a service-account token; without one
	// spinport records revisions and applies nothing.
	var k *k8sproxy.Client
	if token := v.get("kube_token"); token != "" {
		retry, err := duration("apply_retry_budget", v.get("apply_retry_budget"))
		if err != nil {
			return nil, err
		}
		k, err = k8sproxy.New(v.get("kube_api_url"), token, doer)
		if err != nil {
			return nil, err
		}
		k.SelfNamespace = v.get("self_namespace")
		srv.Deployer = &spinkube.Deployer{K: k, S: spinkube.Settings{
			NamespacePrefix:      v.get("namespace_prefix"),
			BaseDomain:           cfg.BaseDomain,
			IngressClass:         v.get("ingress_class"),
			ClusterIssuer:        v.get("cluster_issuer"),
			RuntimeClass:         v.get("runtime_class"),
			AppRedisURL:          v.get("app_redis_url"),
			CPULimit:             v.get("app_cpu_limit"),
			MemoryLimit:          v.get("app_memory_limit"),
			CPURequest:           v.get("app_cpu_request"),
			MemoryRequest:        v.get("app_memory_request"),
			RetryBudget:          retry,
			Network:              networkSettings(&v),
			BlockPrivateNetworks: v.get("block_private_networks") == "on",
		}, Sleep: wasiSleep}
		srv.Checks = append(srv.Checks, api.HealthCheck{Name: "kubernetes", Check: func() error {
			// Lists spinport's own namespaces: one request that needs the
			// server, the token and spinport's RBAC. (Getting "default"
			// never left the guest: k8sproxy refuses system namespaces
			// before sending, so the check always passed.)
			_, err := k.List("Namespace", "", "")
			return err
		}})
		if v.err != nil {
			return nil, v.err
		}
	}
	srv.Registry, srv.DNS, err = azureClients(&v, k, srv.DB, doer, cfg.AdminToken)
	if err != nil {
		return nil, err
	}
	srv.Config.RestrictRegistryRepos = v.get("acr_restrict_deploys") == "on"
	srv.Config.IngressAddress = v.get("dns_target")
	srv.Resolver = resolver(&v, doer)
	srv.Artifacts = artifacts(&v, doer)
	// CI OIDC exchange: the issuers (also in allowed_outbound_hosts, for
	// their discovery documents and keys) and the audience CI asks for.
	for _, name := range []string{"ci_issuer_1", "ci_issuer_2"} {
		if iss := v.get(name); iss != "" {
			srv.Config.CIIssuers = append(srv.Config.CIIssuers, iss)
		}
	}
	if srv.Config.CIAudience = v.get("ci_audience"); srv.Config.CIAudience == "" {
		srv.Config.CIAudience = cfg.PublicURL
	}
	if srv.Config.CITokenTTL, err = duration("ci_token_ttl", v.get("ci_token_ttl")); err != nil {
		return nil, err
	}
	if v.err != nil {
		return nil, v.err
	}
	return srv, nil
}

// networkSettings reads the tenant NetworkPolicy's shape (nil: off).
func networkSettings(v *spinVariables) *spinkube.NetworkSettings {
	if v.get("network_policies") == "off" {
		return nil
	}
	return &spinkube.NetworkSettings{IngressNamespace: v.get("ingress_namespace"),
		AllowNamespaces: api.ParseAllowlist(v.get("egress_allow_namespaces")), DenyCIDRs: api.ParseAllowlist(v.get("egress_deny"))}
}

// duration reads a duration variable ("90s", "2m", "24h").
func duration(name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("variable %s is %q: give a positive duration such as \"90s\", \"2m\" or \"24h\"", name, s)
	}
	return d, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "spinport: "+format+"\n", args...)
}

func main() {}
