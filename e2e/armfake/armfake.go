// Package armfake serves Azure Resource Manager on loopback for contract
// tests, with the Azure SDK for Go's own fake servers doing the routing
// of each operation, path parsing and (de)serialisation with the SDK's
// models: github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/dns/armdns/fake
// and .../containerregistry/armcontainerregistry/fake, both v1.2.0.
//
// What is real and what is fake:
//   - Real (from the SDK): the path templates and their parameter parsing,
//     the If-Match / If-None-Match headers the operations read, the JSON
//     models of request and response bodies, the status codes each
//     operation may answer.
//   - Added here because the fakes do not do it: the fakes dispatch on an
//     API name the SDK client puts in the request context
//     (runtime.CtxAPINameKey{}, e.g. "RecordSetsClient.CreateOrUpdate"),
//     not on the URL, so Server maps method + path to that name (routes);
//     they never check api-version, so Server refuses any but DNS
//     2018-05-01 and ACR 2023-07-01 or newer; they keep no state, so
//     Server's fake functions keep record sets, scope maps and tokens in
//     memory (with etags, If-None-Match: * → 412, If-Match mismatch →
//     412); they return Go errors, which Server writes as ARM's error
//     JSON; and their long-running operations exist only inside the SDK
//     (a fake-only poller header), so generateCredentials is answered
//     202 + Azure-AsyncOperation + Location by a small hand-written
//     responder (operations.go).
//   - Authorization: with an Entra fake attached, a request must carry a
//     bearer token that fake issued (401 InvalidAuthenticationToken
//     otherwise), as ARM would with tokens from the real Entra ID.
package armfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	acrfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry/fake"
	dnsfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/dns/armdns/fake"
)

const (
	// DNSAPIVersion is the only api-version the DNS routes accept.
	DNSAPIVersion = "2018-05-01"
	// MinACRAPIVersion is the oldest api-version the ACR routes accept.
	MinACRAPIVersion = "2023-07-01"
)

// Fault is an ARM error: the fake functions return it (through the SDK's
// ErrorResponder) and Server writes it as {"error":{"code","message"}}.
type Fault struct {
	Status  int
	Code    string
	Message string
}

func (f *Fault) Error() string { return fmt.Sprintf("%d %s: %s", f.Status, f.Code, f.Message) }

// Recorded is one request Server saw.
type Recorded struct {
	Method, Path, APIVersion string
	Header                   http.Header
	API                      string // the SDK API name it was routed to ("" for polling and refused requests)
}

// Server is the loopback ARM. Create it with New, add zones and
// registries, and serve it (httptest.NewServer(s)).
type Server struct {
	// Entra, when set, is the token issuer ARM trusts: requests must carry
	// a bearer token it issued and that has not expired.
	Entra *Entra
	// AsyncPolls is how many times an operation status answers InProgress
	// before Succeeded (default 1).
	AsyncPolls int
	// RetryAfter is the Retry-After (seconds) sent with 202s and
	// InProgress answers (default 1).
	RetryAfter int
	// Now is the clock for creation dates and token expiry (nil: time.Now).
	Now func() time.Time

	dns *dnsfake.ServerFactoryTransport
	acr *acrfake.ServerFactoryTransport

	mu         sync.Mutex
	n          int
	zones      map[string]bool           // sub/rg/zone
	records    map[string]*recordEntry   // sub/rg/zone/type/name
	registries map[string]bool           // sub/rg/registry
	scopeMaps  map[string]*scopeMapEntry // sub/rg/registry/name
	tokens     map[string]*tokenEntry    // sub/rg/registry/name
	ops        map[string]*operation     // id
	log        []Recorded
	failures   map[string][]injectedFailure // "METHOD path" -> answers to give first
}

type injectedFailure struct {
	status     int
	code       string
	retryAfter string
}

// New returns an empty Server (no zones, no registries).
func New() *Server {
	s := &Server{
		zones: map[string]bool{}, records: map[string]*recordEntry{},
		registries: map[string]bool{}, scopeMaps: map[string]*scopeMapEntry{}, tokens: map[string]*tokenEntry{},
		ops: map[string]*operation{}, failures: map[string][]injectedFailure{},
	}
	s.dns = dnsfake.NewServerFactoryTransport(&dnsfake.ServerFactory{RecordSetsServer: s.recordSetsServer()})
	s.acr = acrfake.NewServerFactoryTransport(&acrfake.ServerFactory{
		ScopeMapsServer:  s.scopeMapsServer(),
		TokensServer:     s.tokensServer(),
		RegistriesServer: s.registriesServer(),
	})
	return s
}

// Requests returns what Server saw so far.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.log...)
}

// FailNext makes the next request of method to path (escaped, no query)
// answer status with ARM error code, and Retry-After if not empty, before
// anything else happens: for 429/5xx retry tests.
func (s *Server) FailNext(method, path string, status int, code, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := method + " " + path
	s.failures[k] = append(s.failures[k], injectedFailure{status, code, retryAfter})
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// route maps an ARM request to the SDK API name its fake dispatches on.
type route struct {
	method string
	re     *regexp.Regexp
	api    string
	family string // "dns" or "acr": which fake and which api-version rule
}

const (
	seg    = `[^/]+`
	subRG  = `^/subscriptions/(?P<sub>` + seg + `)/resourceGroups/` + seg
	dnsZ   = subRG + `/providers/Microsoft\.Network/dnsZones/` + seg
	acrReg = subRG + `/providers/Microsoft\.ContainerRegistry/registries/` + seg
	types  = `(?:A|AAAA|CAA|CNAME|MX|NS|PTR|SOA|SRV|TXT)`
)

// routes: the SDK's URL templates (recordsets_client.go, scopemaps_client.go,
// tokens_client.go, registries_client.go) with the API names its clients
// put in the context. More specific patterns come first.
var routes = []route{
	{"GET", regexp.MustCompile(dnsZ + `/recordsets$`), "RecordSetsClient.NewListByDNSZonePager", "dns"},
	{"GET", regexp.MustCompile(dnsZ + `/all$`), "RecordSetsClient.NewListAllByDNSZonePager", "dns"},
	{"GET", regexp.MustCompile(dnsZ + `/` + types + `$`), "RecordSetsClient.NewListByTypePager", "dns"},
	{"PUT", regexp.MustCompile(dnsZ + `/` + types + `/` + seg + `$`), "RecordSetsClient.CreateOrUpdate", "dns"},
	{"PATCH", regexp.MustCompile(dnsZ + `/` + types + `/` + seg + `$`), "RecordSetsClient.Update", "dns"},
	{"GET", regexp.MustCompile(dnsZ + `/` + types + `/` + seg + `$`), "RecordSetsClient.Get", "dns"},
	{"DELETE", regexp.MustCompile(dnsZ + `/` + types + `/` + seg + `$`), "RecordSetsClient.Delete", "dns"},

	{"GET", regexp.MustCompile(acrReg + `/scopeMaps$`), "ScopeMapsClient.NewListPager", "acr"},
	{"PUT", regexp.MustCompile(acrReg + `/scopeMaps/` + seg + `$`), "ScopeMapsClient.BeginCreate", "acr"},
	{"PATCH", regexp.MustCompile(acrReg + `/scopeMaps/` + seg + `$`), "ScopeMapsClient.BeginUpdate", "acr"},
	{"GET", regexp.MustCompile(acrReg + `/scopeMaps/` + seg + `$`), "ScopeMapsClient.Get", "acr"},
	{"DELETE", regexp.MustCompile(acrReg + `/scopeMaps/` + seg + `$`), "ScopeMapsClient.BeginDelete", "acr"},
	{"GET", regexp.MustCompile(acrReg + `/tokens$`), "TokensClient.NewListPager", "acr"},
	{"PUT", regexp.MustCompile(acrReg + `/tokens/` + seg + `$`), "TokensClient.BeginCreate", "acr"},
	{"PATCH", regexp.MustCompile(acrReg + `/tokens/` + seg + `$`), "TokensClient.BeginUpdate", "acr"},
	{"GET", regexp.MustCompile(acrReg + `/tokens/` + seg + `$`), "TokensClient.Get", "acr"},
	{"DELETE", regexp.MustCompile(acrReg + `/tokens/` + seg + `$`), "TokensClient.BeginDelete", "acr"},
	{"POST", regexp.MustCompile(acrReg + `/generateCredentials$`), "RegistriesClient.BeginGenerateCredentials", "acr"},
}

// ctxSub carries the subscription ID to the fake functions (the SDK's
// fakes parse it but do not pass it on).
type ctxSub struct{}

func subscriptionOf(ctx context.Context) string {
	s, _ := ctx.Value(ctxSub{}).(string)
	return strings.ToLower(s)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	apiVersion := r.URL.Query().Get("api-version")
	rec := Recorded{Method: r.Method, Path: path, APIVersion: apiVersion, Header: r.Header.Clone()}
	defer func() {
		s.mu.Lock()
		s.log = append(s.log, rec)
		s.mu.Unlock()
	}()

	if f := s.authorize(r); f != nil {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"`)
		writeFault(w, f)
		return
	}
	s.mu.Lock()
	if q := s.failures[r.Method+" "+path]; len(q) > 0 {
		s.failures[r.Method+" "+path] = q[1:]
		s.mu.Unlock()
		if q[0].retryAfter != "" {
			w.Header().Set("Retry-After", q[0].retryAfter)
		}
		writeFault(w, &Fault{Status: q[0].status, Code: q[0].code, Message: "armfake: injected failure"})
		return
	}
	s.mu.Unlock()

	if s.serveOperation(w, r, path) {
		return
	}

	var rt *route
	var sub string
	for i := range routes {
		if routes[i].method == r.Method {
			if m := routes[i].re.FindStringSubmatch(path); m != nil {
				rt, sub = &routes[i], m[1]
				break
			}
		}
	}
	if rt == nil {
		writeFault(w, &Fault{Status: http.StatusNotFound, Code: "InvalidResourceType", Message: "armfake: no route for " + r.Method + " " + path})
		return
	}
	rec.API = rt.api
	if f := checkAPIVersion(rt.family, apiVersion); f != nil {
		writeFault(w, f)
		return
	}

	ctx := context.WithValue(r.Context(), runtime.CtxAPINameKey{}, rt.api)
	ctx = context.WithValue(ctx, ctxSub{}, sub)
	req := r.Clone(ctx)
	var resp *http.Response
	var err error
	if rt.family == "dns" {
		resp, err = s.dns.Do(req)
	} else {
		resp, err = s.acr.Do(req)
	}
	if err != nil {
		writeFault(w, faultOf(err))
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if rt.api == "RegistriesClient.BeginGenerateCredentials" && resp.StatusCode == http.StatusOK {
		s.startOperation(w, r, sub, body)
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

// authorize checks the bearer token against the Entra fake.
func (s *Server) authorize(r *http.Request) *Fault {
	if s.Entra == nil {
		return nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return &Fault{Status: http.StatusUnauthorized, Code: "AuthenticationFailed", Message: "Authentication failed. The 'Authorization' header is missing."}
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || !s.Entra.Valid(tok, s.now()) {
		return &Fault{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken", Message: "The access token is invalid."}
	}
	return nil
}

// checkAPIVersion: what ARM enforces and the SDK fakes do not.
func checkAPIVersion(family, v string) *Fault {
	if v == "" {
		return &Fault{Status: http.StatusBadRequest, Code: "MissingApiVersionParameter", Message: "The api-version query parameter (?api-version=) is required for all requests."}
	}
	switch family {
	case "dns":
		if v != DNSAPIVersion {
			return &Fault{Status: http.StatusBadRequest, Code: "NoRegisteredProviderFound",
				Message: "armfake: api-version '" + v + "' is not served for Microsoft.Network/dnszones; the contract under test is '" + DNSAPIVersion + "'"}
		}
	case "acr":
		date := strings.TrimSuffix(v, "-preview")
		if len(date) != len("2006-01-02") || date < MinACRAPIVersion {
			return &Fault{Status: http.StatusBadRequest, Code: "NoRegisteredProviderFound",
				Message: "armfake: api-version '" + v + "' is not served for Microsoft.ContainerRegistry; use " + MinACRAPIVersion + " or newer"}
		}
		if _, err := time.Parse("2006-01-02", date); err != nil {
			return &Fault{Status: http.StatusBadRequest, Code: "InvalidApiVersionParameter", Message: "armfake: malformed api-version '" + v + "'"}
		}
	}
	return nil
}

// faultOf turns what a fake returned into an ARM error: our *Fault, the
// SDK's *azcore.ResponseError, or anything else (the fake could not parse
// the request: path, headers or body) as 400.
func faultOf(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return &Fault{Status: re.StatusCode, Code: re.ErrorCode, Message: re.ErrorCode}
	}
	return &Fault{Status: http.StatusBadRequest, Code: "InvalidRequestContent", Message: "armfake: the SDK's fake refused the request: " + err.Error()}
}

func writeFault(w http.ResponseWriter, f *Fault) {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": f.Code, "message": f.Message}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-failure-cause", "gateway")
	w.WriteHeader(f.Status)
	w.Write(body)
}

// nextID returns a fresh counter value (callers hold mu).
func (s *Server) nextID() int {
	s.n++
	return s.n
}

func key(parts ...string) string {
	for i := range parts {
		parts[i] = strings.ToLower(parts[i])
	}
	return strings.Join(parts, "/")
}
