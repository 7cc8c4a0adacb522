// Package api is spinport's HTTP API (/api/v1), portal sign-in and health
// endpoints. It depends only on small interfaces (the KV backend, the
// deployer, an HTTP doer, a clock and randomness), so it runs natively in
// `go test` and inside the Spin component alike.
package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/kv"
)

// Doer sends outbound HTTP requests (Spin outbound HTTP in the .wasm).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Config is spinport's installation settings, read from Spin variables.
type Config struct {
	AdminToken        string // bootstrap admin bearer token (secret)
	BaseDomain        string
	RegistryAllowlist []string
	PublicURL         string // where browsers reach spinport, for OIDC redirects
	OIDC              OIDCConfig
	KVBackend         string
	AppKV             bool  // app_redis_url is set: apps may bind a KV store
	AppRedisDBs       int64 // databases of the app Redis, one per tenant
	// RestrictRegistryRepos: images from the installation registry must be
	// in the tenant's own repositories (acr_restrict_deploys).
	RestrictRegistryRepos bool
	IngressAddress        string // where app hosts should point (dns_target)
	// CI OIDC exchange: the issuers trust policies may name, the audience
	// CI tokens must carry, and how long an exchanged token lives.
	CIIssuers  []string
	CIAudience string
	CITokenTTL time.Duration
	Version    string
	BuildTime  string
}

// OIDCConfig is the portal's OpenID Connect client.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string // secret
}

// Server holds one request's dependencies. In Spin a Server lives for a
// single request, so nothing here is shared between requests.
type Server struct {
	DB       kv.DB
	Deployer spinport.Deployer     // nil: no Kubernetes configured, revisions stay pending
	Registry spinport.PushRegistry // nil: no installation registry (push credentials)
	DNS      spinport.HostDNS      // nil: no managed DNS zones
	Resolver spinport.Resolver     // nil: custom domains cannot be verified
	// Artifacts inspects images before deploys (nil: inspect_artifacts=off).
	Artifacts spinport.Artifacts
	HTTP      Doer // outbound HTTP for OIDC
	Config    Config
	Now       func() time.Time
	Rand      io.Reader // crypto/rand.Reader in production
	Log       func(string)
	Checks    []HealthCheck // extra dependency checks for /healthz?deep=1
}

// Serves reports whether path is one of spinport's own (the API, sign-in,
// health); every other path is the portal's (package ui). The component
// asks before building a Server: a portal file needs no configuration.
func Serves(path string) bool {
	return path == "/healthz" || strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/auth/")
}

// Handler returns the HTTP handler for every spinport route (the table
// in routes.go); see Serves for the paths that are not the API's. The
// router is shared; the request carries s to it.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		routerFor(req.Method).ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), serverKey{}, s)))
	})
}

type serverKey struct{}

// serverOf is the Server that Handler put on the request.
func serverOf(r *http.Request) *Server { return r.Context().Value(serverKey{}).(*Server) }

// routers holds the routers built so far, by method ("" for every route).
// A request needs only its own method's routes, and in Spin every request
// is a fresh instance that builds what it uses: inserting the GET routes
// alone costs half of inserting all 50 (~0.3 ms in the component). A path
// its method does not have goes on to the full router, which answers 405
// with Allow or 404. Not built at package initialisation: every instance,
// portal files included, would pay (TinyGo's build-time interp does not
// evaluate it).
var routers = struct {
	sync.Mutex
	m map[string]*httprouter.Router
}{m: map[string]*httprouter.Router{}}

func routerFor(method string) *httprouter.Router {
	routers.Lock()
	defer routers.Unlock()
	r := routers.m[method]
	if r == nil {
		r = newRouter(method)
		routers.m[method] = r
	}
	return r
}

// newRouter routes method's routes, or every route for "".
func newRouter(method string) *httprouter.Router {
	r := httprouter.New()
	r.RedirectTrailingSlash = false
	if method != "" {
		for _, rt := range routes {
			if rt.method == method {
				r.Handle(rt.method, rt.path, handle(rt))
			}
		}
		r.RedirectFixedPath = false // the full router decides
		r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			routerFor("").ServeHTTP(w, req)
		})
		r.PanicHandler = panicked
		return r
	}
	for _, rt := range routes {
		r.Handle(rt.method, rt.path, handle(rt))
	}
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, notFound("no route "+req.Method+" "+req.URL.Path+"; see /api/v1/openapi.json"), serverOf(req).Log)
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, &Problem{Status: http.StatusMethodNotAllowed, Title: "Method not allowed",
			Detail: req.Method + " is not allowed on " + req.URL.Path + "; allowed: " + w.Header().Get("Allow")}, serverOf(req).Log)
	})
	r.PanicHandler = panicked
	return r
}

// panicked answers a handler's panic. Native only: under TinyGo a panic
// traps the instance, so every parse is guarded instead of relying on this.
func panicked(w http.ResponseWriter, req *http.Request, _ interface{}) {
	writeError(w, &Problem{Status: 500, Title: "Internal error", Detail: "spinport failed to complete the request; it has been logged"}, serverOf(req).Log)
}

// handle is rt's handler: raw routes write their own answers, the others
// go through wrap.
func handle(rt route) httprouter.Handle {
	if raw := rt.raw; raw != nil {
		return func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) { raw(serverOf(req), w, req, ps) }
	}
	return wrap(rt)
}

// wrap authenticates, applies Idempotency-Key, runs the handler and maps
// its error — the single path from handlers to responses.
func wrap(rt route) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		s := serverOf(r)
		var p *Principal
		if rt.auth {
			var err error
			p, err = s.authenticate(r)
			if err != nil {
				writeError(w, err, s.Log)
				return
			}
		}
		if r.Method == http.MethodPost && r.Header.Get("Idempotency-Key") != "" && p != nil {
			s.idempotent(w, r, ps, p, rt)
			return
		}
		status, body, err := rt.handle(s, r, ps, p)
		if err != nil {
			writeError(w, err, s.Log)
			return
		}
		writeAnswer(w, status, body)
	}
}

// svc is the use cases on this request's dependencies; without a cluster
// the deployer is control.RecordOnly.
func (s *Server) svc() *control.Service {
	d := s.Deployer
	if d == nil {
		d = control.RecordOnly{}
	}
	return &control.Service{DB: s.DB, Deployer: d, Registry: s.Registry, DNS: s.DNS, Resolver: s.Resolver, Artifacts: s.Artifacts, Now: s.Now, Rand: s.Rand, Log: s.Log,
		Config: control.Config{AdminToken: s.Config.AdminToken, BaseDomain: s.Config.BaseDomain, PublicHost: publicHost(s.Config.PublicURL),
			RegistryAllowlist: s.Config.RegistryAllowlist,
			AppKV:             s.Config.AppKV, AppRedisDBs: s.Config.AppRedisDBs, RestrictRegistryRepos: s.Config.RestrictRegistryRepos, IngressAddress: s.Config.IngressAddress,
			CIIssuers: s.Config.CIIssuers, CITokenTTL: s.Config.CITokenTTL}}
}

func (s *Server) logf(msg string) {
	if s.Log != nil {
		s.Log(msg)
	}
}

// ParseAllowlist splits the registry_allowlist variable.
func ParseAllowlist(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// publicHost is the host of public_url ("" if it has none).
func publicHost(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
