package armfake

// Entra is a loopback Entra ID token endpoint
// (POST /{tenant}/oauth2/v2.0/token, client-credentials grant) that does
// with a federated credential what Entra ID does: it reads the
// assertion's issuer, finds a federated credential registered for that
// client and issuer, fetches the issuer's OpenID discovery document and
// its JWKS, verifies the assertion's signature (RS256 or ES256, go-jose
// v4) and checks iss, aud (api://AzureADTokenExchange), sub and the
// validity window. It also accepts client secrets. Tokens it issues are
// random and opaque; Server (ARM) accepts only those.
//
// Fake parts: the discovery document is fetched from a configurable URL
// with a caller-supplied client (the loopback kube-apiserver, whose
// issuer URL is not reachable as such), and the jwks_uri it names is
// re-based onto that URL. The AADSTS codes are Entra's documented ones for
// each case; the descriptions are this fake's wording.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	// ARMScope is the scope Entra accepts by default.
	ARMScope = "https://management.azure.com/.default"
	// FederatedAudience is the audience a federated assertion must carry.
	FederatedAudience = "api://AzureADTokenExchange"
	// AssertionType is the client_assertion_type of a JWT assertion.
	AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// FederatedCredential is a federated identity credential on an app
// registration: which external tokens may stand in for its secret.
type FederatedCredential struct {
	Issuer   string // the assertion's iss, exactly
	Subject  string // the assertion's sub, e.g. system:serviceaccount:<ns>:<sa>
	Audience string // "" means FederatedAudience

	// DiscoveryURL is where <issuer>/.well-known/openid-configuration is
	// fetched from ("" means Issuer); the jwks_uri it names is fetched
	// from the same scheme and host. BearerToken, if set, is sent with
	// both fetches (kube-apiserver serves them to authenticated callers).
	DiscoveryURL string
	BearerToken  string
}

// IssuedToken is an access token Entra handed out.
type IssuedToken struct {
	ClientID string
	Scope    string
	Expires  time.Time
}

// Entra is the fake token endpoint. Create it with NewEntra.
type Entra struct {
	TenantID string
	Scope    string        // the only scope accepted ("" means ARMScope)
	TokenTTL time.Duration // 0 means one hour
	HTTP     *http.Client  // fetches discovery documents and JWKS
	Now      func() time.Time

	mu        sync.Mutex
	federated map[string][]FederatedCredential
	secrets   map[string]string
	issued    map[string]IssuedToken
	refusals  []string
}

// NewEntra returns an Entra for tenantID that fetches discovery
// documents with client (nil: http.DefaultClient).
func NewEntra(tenantID string, client *http.Client) *Entra {
	if client == nil {
		client = http.DefaultClient
	}
	return &Entra{TenantID: tenantID, HTTP: client, federated: map[string][]FederatedCredential{},
		secrets: map[string]string{}, issued: map[string]IssuedToken{}}
}

// AddFederated registers a federated credential for clientID.
func (e *Entra) AddFederated(clientID string, fc FederatedCredential) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.federated[clientID] = append(e.federated[clientID], fc)
}

// AddSecret registers a client secret for clientID.
func (e *Entra) AddSecret(clientID, secret string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets[clientID] = secret
}

// Valid reports whether token was issued here for the ARM scope and has
// not expired at now.
func (e *Entra) Valid(token string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.issued[token]
	return ok && now.Before(t.Expires)
}

// Issued returns what was issued, keyed by nothing a test could replay:
// client IDs, scopes and expiries only.
func (e *Entra) Issued() []IssuedToken {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []IssuedToken
	for _, t := range e.issued {
		out = append(out, t)
	}
	return out
}

// Refusals returns the error descriptions Entra answered, in order.
func (e *Entra) Refusals() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.refusals...)
}

func (e *Entra) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// refusal is an OAuth error answer.
type refusal struct {
	status int
	code   string // OAuth error
	aadsts int
	desc   string
}

func refuse(status int, code string, aadsts int, format string, args ...any) *refusal {
	return &refusal{status, code, aadsts, fmt.Sprintf(format, args...)}
}

func (e *Entra) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, ref := e.token(r)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	if ref != nil {
		now := e.now().UTC()
		trace, corr := randomID(), randomID()
		desc := fmt.Sprintf("AADSTS%d: %s", ref.aadsts, ref.desc)
		e.mu.Lock()
		e.refusals = append(e.refusals, desc)
		e.mu.Unlock()
		w.WriteHeader(ref.status)
		json.NewEncoder(w).Encode(map[string]any{
			"error":             ref.code,
			"error_description": desc + "\r\nTrace ID: " + trace + "\r\nCorrelation ID: " + corr + "\r\nTimestamp: " + now.Format("2006-01-02 15:04:05Z"),
			"error_codes":       []int{ref.aadsts},
			"timestamp":         now.Format("2006-01-02 15:04:05Z"),
			"trace_id":          trace,
			"correlation_id":    corr,
			"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", ref.aadsts),
		})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"token_type": "Bearer", "expires_in": int(e.ttl().Seconds()), "ext_expires_in": int(e.ttl().Seconds()), "access_token": tok,
	})
}

func (e *Entra) ttl() time.Duration {
	if e.TokenTTL > 0 {
		return e.TokenTTL
	}
	return time.Hour
}

// token checks one token request and issues a token.
func (e *Entra) token(r *http.Request) (string, *refusal) {
	want := "/" + e.TenantID + "/oauth2/v2.0/token"
	if r.URL.Path != want {
		if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
			tenant := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/oauth2/v2.0/token")
			return "", refuse(400, "invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant)
		}
		return "", refuse(404, "invalid_request", 900561, "The endpoint only accepts POST requests to /{tenant}/oauth2/v2.0/token.")
	}
	if r.Method != http.MethodPost {
		return "", refuse(405, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a %s request.", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return "", refuse(400, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded, got '%s'.", ct)
	}
	if err := r.ParseForm(); err != nil {
		return "", refuse(400, "invalid_request", 900144, "The request body could not be parsed.")
	}
	f := r.PostForm
	if g := f.Get("grant_type"); g != "client_credentials" {
		return "", refuse(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'.", g)
	}
	clientID := f.Get("client_id")
	if clientID == "" {
		return "", refuse(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
	}
	scope := e.Scope
	if scope == "" {
		scope = ARMScope
	}
	if f.Get("scope") != scope {
		return "", refuse(400, "invalid_scope", 1002012, "The provided value for scope '%s' is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", f.Get("scope"))
	}
	e.mu.Lock()
	creds := append([]FederatedCredential(nil), e.federated[clientID]...)
	secret, hasSecret := e.secrets[clientID]
	e.mu.Unlock()
	if len(creds) == 0 && !hasSecret {
		return "", refuse(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'.", clientID, e.TenantID)
	}

	switch {
	case f.Get("client_assertion") != "":
		if f.Get("client_assertion_type") != AssertionType {
			return "", refuse(400, "invalid_request", 50027, "client_assertion_type must be '%s'.", AssertionType)
		}
		if ref := e.checkAssertion(clientID, f.Get("client_assertion"), creds); ref != nil {
			return "", ref
		}
	case f.Get("client_secret") != "":
		if !hasSecret || f.Get("client_secret") != secret {
			return "", refuse(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)
		}
	default:
		return "", refuse(401, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
	}

	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	e.mu.Lock()
	e.issued[tok] = IssuedToken{ClientID: clientID, Scope: scope, Expires: e.now().Add(e.ttl())}
	e.mu.Unlock()
	return tok, nil
}

// checkAssertion verifies a federated credential's assertion.
func (e *Entra) checkAssertion(clientID, assertion string, creds []FederatedCredential) *refusal {
	algs := []jose.SignatureAlgorithm{jose.RS256, jose.ES256}
	parsed, err := jwt.ParseSigned(assertion, algs)
	if err != nil {
		return refuse(401, "invalid_client", 50027, "Invalid JWT token: the client assertion is not a JWS signed with RS256 or ES256 (%v).", err)
	}
	var unverified jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return refuse(401, "invalid_client", 50027, "Invalid JWT token: the client assertion's claims cannot be read.")
	}
	var fc *FederatedCredential
	for i := range creds {
		if creds[i].Issuer == unverified.Issuer {
			fc = &creds[i]
			break
		}
	}
	if fc == nil {
		return refuse(401, "invalid_client", 700211, "No matching federated identity record found for presented assertion issuer '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", unverified.Issuer)
	}
	keys, ref := e.fetchKeys(*fc)
	if ref != nil {
		return ref
	}
	var verified jwt.Claims
	ok := false
	for _, k := range candidateKeys(keys, parsed) {
		if parsed.Claims(k.Key, &verified) == nil {
			ok = true
			break
		}
	}
	if !ok {
		return refuse(401, "invalid_client", 700027, "Client assertion failed signature validation: no key of the issuer's JWKS verifies it.")
	}
	aud := fc.Audience
	if aud == "" {
		aud = FederatedAudience
	}
	if !verified.Audience.Contains(aud) {
		return refuse(401, "invalid_client", 700212, "No matching federated identity record found for presented assertion audience '%s'. The federated credential expects '%s'.", strings.Join(verified.Audience, ","), aud)
	}
	if verified.Subject != fc.Subject {
		return refuse(401, "invalid_client", 700213, "No matching federated identity record found for presented assertion subject '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.", verified.Subject)
	}
	if verified.Expiry == nil {
		return refuse(401, "invalid_client", 700024, "Client assertion has no expiry (exp).")
	}
	if err := verified.ValidateWithLeeway(jwt.Expected{Time: e.now()}, time.Minute); err != nil {
		return refuse(401, "invalid_client", 700024, "Client assertion is not within its valid time range (%v).", err)
	}
	return nil
}

// candidateKeys: the key the assertion names (kid), or every key.
func candidateKeys(set *jose.JSONWebKeySet, tok *jwt.JSONWebToken) []jose.JSONWebKey {
	if len(tok.Headers) > 0 && tok.Headers[0].KeyID != "" {
		if ks := set.Key(tok.Headers[0].KeyID); len(ks) > 0 {
			return ks
		}
	}
	return set.Keys
}

// fetchKeys fetches the issuer's discovery document and its JWKS.
func (e *Entra) fetchKeys(fc FederatedCredential) (*jose.JSONWebKeySet, *refusal) {
	base := fc.DiscoveryURL
	if base == "" {
		base = fc.Issuer
	}
	failed := func(what string, err error) *refusal {
		return refuse(401, "invalid_client", 50166, "Request to External OIDC endpoint failed: %s: %v", what, err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := e.getJSON(strings.TrimRight(base, "/")+"/.well-known/openid-configuration", fc.BearerToken, &doc); err != nil {
		return nil, failed("discovery document", err)
	}
	if doc.Issuer != fc.Issuer {
		return nil, refuse(401, "invalid_client", 50166, "The discovery document names issuer '%s', not the assertion's issuer '%s'.", doc.Issuer, fc.Issuer)
	}
	ju, err := url.Parse(doc.JWKSURI)
	if err != nil || doc.JWKSURI == "" {
		return nil, failed("jwks_uri", errors.New("missing or malformed"))
	}
	b, _ := url.Parse(base)
	ju.Scheme, ju.Host = b.Scheme, b.Host // re-based: see the file comment
	var set jose.JSONWebKeySet
	if err := e.getJSON(ju.String(), fc.BearerToken, &set); err != nil {
		return nil, failed("JWKS", err)
	}
	return &set, nil
}

func (e *Entra) getJSON(u, bearer string, v any) error {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %d", u, resp.StatusCode)
	}
	return json.Unmarshal(body, v)
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
