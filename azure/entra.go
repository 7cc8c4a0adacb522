package azure

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

const (
	// DefaultAuthority is Entra ID in the public cloud.
	DefaultAuthority = "https://login.microsoftonline.com"

	// ARMScope asks Entra ID for a token for Azure Resource Manager.
	ARMScope = "https://management.azure.com/.default"

	// AssertionType is the client_assertion_type of a federated credential.
	AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

	// FederatedAudience is the audience Entra ID requires in a federated
	// credential's assertion (the service-account token's audience).
	FederatedAudience = "api://AzureADTokenExchange"

	// DefaultRefreshBefore: a cached token is replaced this long before it
	// expires, so a token handed out still lasts a whole request.
	DefaultRefreshBefore = 5 * time.Minute

	maxTokenAnswer = 64 << 10
)

// Token is an access token and when it expires. Its String and GoString
// never show the value.
type Token struct {
	Value   string
	Expires time.Time
}

// String keeps the value out of %v and %+v output.
func (t Token) String() string {
	if t.Value == "" {
		return "azure.Token(none)"
	}
	return "azure.Token(expires " + t.Expires.UTC().Format(time.RFC3339) + ")"
}

// GoString keeps the value out of %#v output.
func (t Token) GoString() string { return t.String() }

// Cache stores tokens between requests (in spinport: sealed with Seal in
// the KV store; a Spin instance lives for one request). Get answers false
// when it has nothing for key. Errors from a Cache never fail a token
// request: the client asks Entra ID instead, or keeps the token it got.
type Cache interface {
	Get(key string) (Token, bool, error)
	Put(key string, t Token) error
}

// TokenClient gets access tokens from Entra ID with the client-credentials
// grant: with Assertion set it presents a federated credential (workload
// identity), otherwise ClientSecret.
type TokenClient struct {
	Authority string // "" means DefaultAuthority
	TenantID  string // directory (tenant) ID or domain
	ClientID  string // application (client) ID
	Scope     string // "" means ARMScope

	// Assertion returns a fresh JWT for client_assertion: in spinport a
	// Kubernetes service-account token from the TokenRequest API with
	// audience FederatedAudience. Takes precedence over ClientSecret.
	Assertion    func() (string, error)
	ClientSecret string // secret; used when Assertion is nil

	HTTP          Doer
	Cache         Cache         // optional
	RefreshBefore time.Duration // 0 means DefaultRefreshBefore
	Now           func() time.Time
}

// String keeps the secret out of %v output.
func (c TokenClient) String() string {
	return "azure.TokenClient(" + c.authority() + "/" + c.TenantID + ", client " + c.ClientID + ")"
}

// GoString keeps the secret out of %#v output.
func (c TokenClient) GoString() string { return c.String() }

// EntraError is Entra ID refusing a token request. Code is the OAuth
// error ("invalid_client", "unauthorized_client", …) and Description the
// first line of error_description (e.g. "AADSTS700211: No matching
// federated identity record found for presented assertion issuer …"),
// which says what to fix in the app registration.
type EntraError struct {
	Status        int
	Code          string
	Description   string
	ErrorCodes    []int // AADSTS numbers
	CorrelationID string
}

func (e *EntraError) Error() string {
	var b strings.Builder
	b.WriteString("azure: Entra ID answered ")
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.CorrelationID != "" {
		b.WriteString(" (correlation ID ")
		b.WriteString(e.CorrelationID)
		b.WriteString(")")
	}
	return b.String()
}

// Unavailable: Entra ID was busy or failing (429, 5xx); a refused
// credential is not a retry matter.
func (e *EntraError) Unavailable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

func (c *TokenClient) authority() string {
	if c.Authority == "" {
		return DefaultAuthority
	}
	return strings.TrimRight(c.Authority, "/")
}

func (c *TokenClient) scope() string {
	if c.Scope == "" {
		return ARMScope
	}
	return c.Scope
}

func (c *TokenClient) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// CacheKey names this client's token in a Cache: a hash of authority,
// tenant, client and scope, so one cache serves several identities.
func (c *TokenClient) CacheKey() string {
	h := sha256.Sum256([]byte(c.authority() + "\x00" + c.TenantID + "\x00" + c.ClientID + "\x00" + c.scope()))
	return "azure-token-" + hex.EncodeToString(h[:16])
}

// Source adapts the client to Client.Token.
func (c *TokenClient) Source() func() (string, error) {
	return func() (string, error) {
		t, err := c.Token()
		return t.Value, err
	}
}

// Token returns a cached token that lasts at least RefreshBefore longer,
// or a new one from Entra ID (then stored in the Cache).
func (c *TokenClient) Token() (Token, error) {
	if c.HTTP == nil {
		return Token{}, errors.New("azure: TokenClient needs HTTP (a Doer)")
	}
	if !validTenant(c.TenantID) {
		return Token{}, errors.New("azure: TokenClient.TenantID must be a directory ID or domain (letters, digits, '.', '-'), got " + strconv.Quote(clip(c.TenantID, 64)))
	}
	if c.ClientID == "" {
		return Token{}, errors.New("azure: TokenClient.ClientID (the application's client ID) is empty")
	}
	if c.Assertion == nil && c.ClientSecret == "" {
		return Token{}, errors.New("azure: TokenClient needs Assertion (federated credential) or ClientSecret")
	}
	refresh := c.RefreshBefore
	if refresh <= 0 {
		refresh = DefaultRefreshBefore
	}
	key := c.CacheKey()
	if c.Cache != nil {
		if t, ok, err := c.Cache.Get(key); err == nil && ok && t.Value != "" && c.now().Add(refresh).Before(t.Expires) {
			return t, nil
		}
	}
	t, err := c.fetch()
	if err != nil {
		return Token{}, err
	}
	if c.Cache != nil {
		_ = c.Cache.Put(key, t) // the token is good; a failed write costs a token request later
	}
	return t, nil
}

// fetch asks Entra ID for a new token.
func (c *TokenClient) fetch() (Token, error) {
	form := url.Values{}
	form.Set("grant_type", "client_credentials")
	form.Set("client_id", c.ClientID)
	form.Set("scope", c.scope())
	var secret string
	if c.Assertion != nil {
		a, err := c.Assertion()
		if err != nil {
			return Token{}, &assertionError{err: err}
		}
		if a == "" {
			return Token{}, errors.New("azure: the federated credential's assertion is empty")
		}
		secret = a
		form.Set("client_assertion_type", AssertionType)
		form.Set("client_assertion", a)
	} else {
		secret = c.ClientSecret
		form.Set("client_secret", c.ClientSecret)
	}
	redact := func(s string) string {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
		return s
	}

	endpoint := c.authority() + "/" + url.PathEscape(c.TenantID) + "/oauth2/v2.0/token"
	path := "/" + c.TenantID + "/oauth2/v2.0/token"
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, errors.New("azure: TokenClient.Authority must be an https URL: " + redact(err.Error()))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	started := c.now()
	hresp, err := c.HTTP.Do(req)
	var body []byte
	if err == nil {
		var r *Response
		r, err = readResponse(hresp)
		if err == nil {
			body = r.Body
			if len(body) > maxTokenAnswer {
				err = errors.New("the token answer is too large")
			}
		}
	}
	if err != nil {
		return Token{}, &UnavailableError{Method: http.MethodPost, Path: path, Cause: "Entra ID: " + redact(err.Error())}
	}
	v, perr := fastjson.ParseBytes(body)
	if hresp.StatusCode != http.StatusOK {
		e := &EntraError{Status: hresp.StatusCode}
		if perr == nil {
			e.Code = string(v.GetStringBytes("error"))
			desc := string(v.GetStringBytes("error_description"))
			if i := strings.IndexAny(desc, "\r\n"); i >= 0 {
				desc = desc[:i] // the rest is trace and correlation IDs, and timestamps
			}
			e.Description = redact(clip(strings.TrimSpace(desc), maxErrorText))
			for _, n := range v.GetArray("error_codes") {
				if i, err := n.Int(); err == nil {
					e.ErrorCodes = append(e.ErrorCodes, i)
				}
			}
			e.CorrelationID = clip(string(v.GetStringBytes("correlation_id")), 64)
		}
		if e.Code == "" {
			e.Code = strings.ReplaceAll(strings.ToLower(http.StatusText(hresp.StatusCode)), " ", "_")
		}
		return Token{}, e
	}
	if perr != nil {
		return Token{}, &EntraError{Status: hresp.StatusCode, Code: "invalid_response", Description: "the token answer is not JSON"}
	}
	access := string(v.GetStringBytes("access_token"))
	if access == "" {
		return Token{}, &EntraError{Status: hresp.StatusCode, Code: "invalid_response", Description: "the token answer has no access_token"}
	}
	if tt := string(v.GetStringBytes("token_type")); tt != "" && !strings.EqualFold(tt, "Bearer") {
		return Token{}, &EntraError{Status: hresp.StatusCode, Code: "invalid_response", Description: "the token answer's token_type is " + strconv.Quote(clip(tt, 32)) + ", not Bearer"}
	}
	secs, ok := expiresIn(v.Get("expires_in"))
	if !ok {
		return Token{}, &EntraError{Status: hresp.StatusCode, Code: "invalid_response", Description: "the token answer has no valid expires_in"}
	}
	// Count from when the request left: the token's clock started no later.
	return Token{Value: access, Expires: started.Add(time.Duration(secs) * time.Second)}, nil
}

// expiresIn reads expires_in, a number of seconds that Entra ID (v2) sends
// as a JSON number and older endpoints as a string.
func expiresIn(v *fastjson.Value) (int64, bool) {
	if v == nil {
		return 0, false
	}
	var n int64
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil {
			return 0, false
		}
		n = int64(f)
	case fastjson.TypeString:
		i, err := strconv.ParseInt(string(v.GetStringBytes()), 10, 64)
		if err != nil {
			return 0, false
		}
		n = i
	default:
		return 0, false
	}
	if n <= 0 || n > 366*24*3600 {
		return 0, false
	}
	return n, true
}

// assertionError: the caller's assertion source failed (e.g. the
// Kubernetes TokenRequest); its Unavailable() mark is kept by Unwrap.
type assertionError struct{ err error }

func (e *assertionError) Error() string {
	return "azure: could not get the federated credential's assertion: " + e.err.Error()
}
func (e *assertionError) Unwrap() error { return e.err }

// validTenant: a GUID or a domain; it becomes a URL path segment.
func validTenant(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return s != "." && s != ".."
}
