package azure

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

const (
	testAssertion = "eyJhbGciOiJFUzI1NiJ9.the-service-account-assertion.sig"
	testSecret    = "client-secret-value-Qx9"
)

type memCache struct {
	m    map[string]Token
	gets int
	puts int
}

func (c *memCache) Get(k string) (Token, bool, error) {
	c.gets++
	t, ok := c.m[k]
	return t, ok, nil
}
func (c *memCache) Put(k string, t Token) error {
	c.puts++
	c.m[k] = t
	return nil
}

func entraHandler(expires string, form *url.Values, n *int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		*n++
		r.ParseForm()
		*form = r.PostForm
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%s,"ext_expires_in":3599,"access_token":"access-%d"}`, expires, *n)
	}
}

func TestTokenFederatedCredential(t *testing.T) {
	clk := newClock()
	var form url.Values
	n := 0
	d := &handlerDoer{h: entraHandler("3599", &form, &n)}
	cache := &memCache{m: map[string]Token{}}
	tc := &TokenClient{TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", ClientID: "app-1",
		Assertion: func() (string, error) { return testAssertion, nil }, HTTP: d, Cache: cache, Now: clk.Now}
	tok, err := tc.Token()
	if err != nil {
		t.Fatal(err)
		return
	}
	r := d.requests()[0]
	if r.Method != "POST" || r.Host != "login.microsoftonline.com" || r.Path != "/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token" {
		t.Errorf("request = %s %s%s", r.Method, r.Host, r.Path)
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("content type %q", r.Header.Get("Content-Type"))
	}
	want := map[string]string{"grant_type": "client_credentials", "client_id": "app-1", "scope": "https://management.azure.com/.default",
		"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": testAssertion, "client_secret": ""}
	for k, v := range want {
		if form.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, form.Get(k), v)
		}
	}
	if tok.Value != "access-1" || !tok.Expires.Equal(clk.Now().Add(3599*time.Second)) {
		t.Errorf("token = %+v", tok)
	}
	// Cached: no second request until RefreshBefore (5m) before expiry.
	clk.Sleep(50 * time.Minute)
	if tok, _ = tc.Token(); tok.Value != "access-1" || n != 1 {
		t.Errorf("cache not used: %s, %d requests", tok.Value, n)
	}
	clk.Sleep(5 * time.Minute)
	if tok, _ = tc.Token(); tok.Value != "access-2" || n != 2 || cache.puts != 2 {
		t.Errorf("not refreshed: %s, %d requests", tok.Value, n)
	}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%+v %#v", tok, tok), fmt.Sprintf("%v %#v", tc, *tc)} {
		if contains(s, "access-") || contains(s, testAssertion) {
			t.Errorf("secret in %q", s)
		}
	}
}

func TestTokenClientSecretAndStringExpiry(t *testing.T) {
	var form url.Values
	n := 0
	d := &handlerDoer{h: entraHandler(`"600"`, &form, &n)}
	clk := newClock()
	tc := &TokenClient{Authority: "https://login.example/", TenantID: "contoso.onmicrosoft.com", ClientID: "app-2",
		Scope: "api://x/.default", ClientSecret: testSecret, HTTP: d, Now: clk.Now}
	tok, err := tc.Token()
	if err != nil {
		t.Fatal(err)
		return
	}
	if form.Get("client_secret") != testSecret || form.Get("client_assertion") != "" || form.Get("scope") != "api://x/.default" {
		t.Errorf("form = %v", form)
	}
	if d.requests()[0].Path != "/contoso.onmicrosoft.com/oauth2/v2.0/token" || d.requests()[0].Host != "login.example" {
		t.Errorf("request %+v", d.requests()[0])
	}
	if !tok.Expires.Equal(clk.Now().Add(10 * time.Minute)) {
		t.Errorf("expires %v", tok.Expires)
	}
	if contains(fmt.Sprintf("%v %+v %#v", tc, *tc, tc), testSecret) {
		t.Error("secret in String")
	}
}

func TestTokenEntraError(t *testing.T) {
	d := &handlerDoer{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		w.Write([]byte(`{"error":"invalid_client","error_description":"AADSTS700211: No matching federated identity record found for presented assertion issuer 'https://kubernetes.default.svc'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ` + testAssertion + `\r\nTrace ID: 1\r\nCorrelation ID: 2\r\nTimestamp: 2026-01-01","error_codes":[700211],"timestamp":"2026-01-01","trace_id":"t","correlation_id":"c0ffee"}`))
	})}
	tc := &TokenClient{TenantID: "t1", ClientID: "app", Assertion: func() (string, error) { return testAssertion, nil }, HTTP: d}
	_, err := tc.Token()
	var e *EntraError
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v", err, err)
		return
	}
	if e.Code != "invalid_client" || len(e.ErrorCodes) != 1 || e.ErrorCodes[0] != 700211 || e.CorrelationID != "c0ffee" || e.Unavailable() {
		t.Errorf("e = %+v", e)
	}
	msg := err.Error()
	if !contains(msg, "invalid_client") || !contains(msg, "AADSTS700211") || contains(msg, "Trace ID") || contains(msg, testAssertion) {
		t.Errorf("Error() = %s", msg)
	}
}

func TestTokenFailures(t *testing.T) {
	ok := &handlerDoer{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"token_type":"Bearer","access_token":"a"}`))
	})}
	tc := &TokenClient{TenantID: "t1", ClientID: "app", ClientSecret: testSecret, HTTP: ok}
	if _, err := tc.Token(); err == nil || !contains(err.Error(), "expires_in") {
		t.Errorf("missing expires_in: %v", err)
	}
	tc.TenantID = "../evil"
	if _, err := tc.Token(); err == nil {
		t.Error("bad tenant accepted")
	}
	tc.TenantID = "t1"
	tc.HTTP = &errDoer{}
	_, err := tc.Token()
	if !unavailableChain(err) || contains(err.Error(), testSecret) {
		t.Errorf("transport error = %v", err)
	}
	tc.HTTP = ok
	tc.ClientSecret = ""
	tc.Assertion = func() (string, error) {
		return "", &UnavailableError{Method: "POST", Path: "/tokenrequest", Cause: "kube down"}
	}
	_, err = tc.Token()
	if err == nil || !unavailableChain(err) {
		t.Errorf("assertion error = %v", err)
	}
	busy := &handlerDoer{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })}
	tc.HTTP = busy
	tc.Assertion = func() (string, error) { return "a", nil }
	if _, err = tc.Token(); !unavailableChain(err) {
		t.Errorf("503 = %v", err)
	}
}

func TestCacheKeyDependsOnIdentity(t *testing.T) {
	a := &TokenClient{TenantID: "t", ClientID: "c"}
	b := &TokenClient{TenantID: "t", ClientID: "c2"}
	c := &TokenClient{TenantID: "t", ClientID: "c", Scope: "other"}
	if a.CacheKey() == b.CacheKey() || a.CacheKey() == c.CacheKey() || a.CacheKey() != (&TokenClient{TenantID: "t", ClientID: "c", Authority: DefaultAuthority + "/"}).CacheKey() {
		t.Error("cache keys do not follow the identity")
	}
}
