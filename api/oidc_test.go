//go:build !tinygo

package api

// OIDC sign-in against a fake identity provider on httptest: discovery,
// authorization (PKCE checked), token endpoint and JWKS. Native only
// (httptest servers); the verifier's pure tests are in oidc/jwt_test.go.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spinport/spinport/kv"
	"github.com/spinport/spinport/oidc"
	"github.com/spinport/spinport/oidc/oidctest"
	"github.com/tidwall/gjson"
)

const (
	idpClientSecret = "idp-client-secret-do-not-leak"
	idpPublicURL    = "http://127.0.0.1:3000"
)

// fakeIdP is an OpenID provider good enough to test the client side.
type fakeIdP struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	authMethods string                                  // token_endpoint_auth_methods_supported JSON, "" to omit
	issuer      string                                  // issuer in discovery and tokens, "" = srv.URL
	claims      func(c oidctest.Claims) oidctest.Claims // edits the ID token's claims
	tokenReply  func(w http.ResponseWriter) bool        // answers the token request itself when it returns true
	codes       map[string]idpGrant
	issued      []string // every code and ID token handed out, to check none leak
	tokenCalls  int
	lastAuth    string // "post" or "basic": how the client authenticated
}

type idpGrant struct {
	clientID, redirectURI, nonce, challenge string
}

func newFakeIdP(t *testing.T) *fakeIdP {
	p := &fakeIdP{t: t, codes: map[string]idpGrant{}, authMethods: `["client_secret_post","client_secret_basic"]`}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		io.WriteString(w, `{"keys":[`+oidctest.JWKForEC("ec-1", &oidctest.ECKey().PublicKey)+`,`+oidctest.JWKForRSA("rsa-1", &oidctest.RSAKey(0).PublicKey)+`]}`)
	})
	mux.HandleFunc("/token", p.token)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeIdP) iss() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.issuer != "" {
		return p.issuer
	}
	return p.srv.URL
}

func (p *fakeIdP) discovery(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	methods := p.authMethods
	p.mu.Unlock()
	doc := `{"issuer":` + strconv.Quote(p.iss()) + `,"authorization_endpoint":"` + p.srv.URL + `/authorize?tenant=t1",` +
		`"token_endpoint":"` + p.srv.URL + `/token","jwks_uri":"` + p.srv.URL + `/jwks",` +
		`"response_types_supported":["code"],"code_challenge_methods_supported":["S256"]`
	if methods != "" {
		doc += `,"token_endpoint_auth_methods_supported":` + methods
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, doc+"}")
}

// authorize plays the user signing in at the provider: it checks the
// authorization request and returns the redirect back to spinport.
func (p *fakeIdP) authorize(authURL string) string {
	u, err := url.Parse(authURL)
	if err != nil || !strings.HasPrefix(authURL, p.srv.URL+"/authorize?") {
		p.t.Errorf("authorization URL %q is not the provider's", authURL)
		return ""
	}
	q := u.Query()
	for name, want := range map[string]string{"response_type": "code", "client_id": "spinport-portal", "scope": "openid profile email",
		"redirect_uri": idpPublicURL + "/auth/callback", "code_challenge_method": "S256", "tenant": "t1"} {
		if got := q.Get(name); got != want {
			p.t.Errorf("authorization request %s = %q, want %q", name, got, want)
		}
	}
	if len(q.Get("state")) < 32 || len(q.Get("nonce")) < 16 || len(q.Get("code_challenge")) != 43 {
		p.t.Errorf("authorization request state/nonce/code_challenge too short: %v", q)
	}
	code := "code-" + randomString(p.t)
	p.mu.Lock()
	p.codes[code] = idpGrant{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
	p.issued = append(p.issued, code)
	p.mu.Unlock()
	back := url.Values{"code": {code}, "state": {q.Get("state")}, "iss": {p.iss()}}
	return q.Get("redirect_uri") + "?" + back.Encode()
}

func (p *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenCalls++
	fail := func(status int, e string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"error":"`+e+`","error_description":"fake idp: `+e+`"}`)
	}
	if p.tokenReply != nil && p.tokenReply(w) {
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		fail(400, "invalid_request")
		return
	}
	f := r.PostForm
	if id, secret, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if id != "spinport-portal" || secret != idpClientSecret || f.Has("client_secret") {
			fail(401, "invalid_client")
			return
		}
		p.lastAuth = "basic"
	} else {
		if f.Get("client_secret") != idpClientSecret {
			fail(401, "invalid_client")
			return
		}
		p.lastAuth = "post"
	}
	g, ok := p.codes[f.Get("code")]
	delete(p.codes, f.Get("code"))
	verifier := sha256.Sum256([]byte(f.Get("code_verifier")))
	switch {
	case f.Get("grant_type") != "authorization_code":
		fail(400, "invalid_request")
		return
	case !ok, f.Get("client_id") != g.clientID, f.Get("redirect_uri") != g.redirectURI,
		base64.RawURLEncoding.EncodeToString(verifier[:]) != g.challenge: // PKCE
		fail(400, "invalid_grant")
		return
	}
	c := oidctest.GoodClaims().With("iss", strconv.Quote(p.issuerLocked()), "nonce", strconv.Quote(g.nonce),
		"iat", strconv.FormatInt(time.Now().Unix(), 10), "exp", strconv.FormatInt(time.Now().Unix()+300, 10))
	if p.claims != nil {
		c = p.claims(c)
	}
	idToken := oidctest.SignJWT(oidctest.RSHeader("rsa-1"), c.JSON(), oidctest.RSAKey(0))
	p.issued = append(p.issued, idToken)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"access_token":"at-`+randomString(p.t)+`","token_type":"Bearer","expires_in":300,"id_token":"`+idToken+`"}`)
}

func (p *fakeIdP) issuerLocked() string {
	if p.issuer != "" {
		return p.issuer
	}
	return p.srv.URL
}

func randomString(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

const oidcAdminToken = "oidc-test-admin-token-0123456789"

// oidcEnv is spinport (on kv.Memory) wired to a fake provider.
type oidcEnv struct {
	t      *testing.T
	idp    *fakeIdP
	srv    *Server
	mem    *kv.Memory
	clock  time.Time
	mu     sync.Mutex
	logs   []string
	bodies []string // every response body spinport sent
}

func newOIDCEnv(t *testing.T) *oidcEnv {
	e := &oidcEnv{t: t, idp: newFakeIdP(t), clock: time.Now(), mem: kv.NewMemory()}
	e.srv = &Server{
		DB:   kv.DB{B: e.mem.Backend()},
		HTTP: http.DefaultClient,
		Config: Config{AdminToken: oidcAdminToken, PublicURL: idpPublicURL,
			OIDC: OIDCConfig{Issuer: e.idp.srv.URL, ClientID: "spinport-portal", ClientSecret: idpClientSecret}},
		Now:  func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.clock },
		Rand: rand.Reader,
		Log:  func(s string) { e.mu.Lock(); e.logs = append(e.logs, s); e.mu.Unlock() },
	}
	return e
}

// get sends GET target (a path, or a URL whose path and query are used)
// to spinport with the given cookies.
func (e *oidcEnv) get(target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		target = u.RequestURI()
	}
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:3000"+target, nil)
	for _, c := range cookies {
		if c != nil {
			req.AddCookie(c)
		}
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	e.mu.Lock()
	e.bodies = append(e.bodies, rec.Body.String()+"\n"+strings.Join(rec.Header().Values("Location"), " "))
	e.mu.Unlock()
	return rec
}

func cookieNamed(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// login runs /auth/login and the provider's side; it returns the callback
// URL and the login cookie (the sealed sign-in in flight).
func (e *oidcEnv) login(ret string) (callback string, sealed *http.Cookie) {
	e.t.Helper()
	target := "/auth/login"
	if ret != "" {
		target += "?return=" + url.QueryEscape(ret)
	}
	keys := e.mem.Len()
	rec := e.get(target)
	if rec.Code != http.StatusFound {
		e.t.Errorf("GET %s: %d %s", target, rec.Code, rec.Body)
		return "", nil
	}
	// Anonymous requests write nothing: the sign-in in flight is in the cookie.
	if n := e.mem.Len(); n != keys {
		e.t.Errorf("GET %s wrote %d KV keys: %q", target, n-keys, e.mem.Keys())
	}
	sealed = cookieNamed(rec, loginCookie)
	if sealed == nil || !sealed.HttpOnly || sealed.MaxAge != 600 || sealed.Path != "/auth/" || sealed.SameSite != http.SameSiteLaxMode ||
		sealed.Secure || len(sealed.Value) > oidc.MaxLoginCookie {
		e.t.Errorf("login cookie %+v (plain http on loopback: not Secure)", sealed)
		return "", nil
	}
	if n := len(rec.Header().Values("Set-Cookie")); n != 1 {
		e.t.Errorf("GET %s sets %d cookies; under Spin only the first would arrive", target, n)
	}
	// Nothing of the authorization request can be read in the cookie.
	auth, _ := url.Parse(rec.Header().Get("Location"))
	for _, name := range []string{"state", "nonce", "code_challenge"} {
		if v := auth.Query().Get(name); v == "" || strings.Contains(sealed.Value, v) {
			e.t.Errorf("the login cookie shows the %s %q", name, v)
		}
	}
	if raw, err := base64.RawURLEncoding.DecodeString(sealed.Value); err != nil || strings.Contains(string(raw), auth.Query().Get("state")) {
		e.t.Errorf("the login cookie is not an opaque sealed value: %v", err)
	}
	return e.idp.authorize(rec.Header().Get("Location")), sealed
}

// checkNoLeaks fails if a code, token or the client secret reached a log
// line or a response.
func (e *oidcEnv) checkNoLeaks() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.idp.mu.Lock()
	secrets := append([]string{idpClientSecret}, e.idp.issued...)
	e.idp.mu.Unlock()
	for _, s := range secrets {
		for _, where := range append(append([]string{}, e.logs...), e.bodies...) {
			if strings.Contains(where, s) {
				e.t.Errorf("a secret (%.12s...) leaked into %q", s, where)
			}
		}
	}
}

func problem(t *testing.T, rec *httptest.ResponseRecorder, status int, mention string) {
	t.Helper()
	if rec.Code != status || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("got %d %s %s, want %d problem+json", rec.Code, rec.Header().Get("Content-Type"), rec.Body, status)
		return
	}
	if d := gjson.Get(rec.Body.String(), "detail").String(); !strings.Contains(d, mention) {
		t.Errorf("detail %q does not mention %q", d, mention)
	}
}

func TestOIDCSignInFlow(t *testing.T) {
	e := newOIDCEnv(t)
	callback, binder := e.login("/tenants/acme?tab=apps")
	if callback == "" {
		return
	}
	rec := e.get(callback, binder)
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/tenants/acme?tab=apps" {
		t.Fatalf("callback: %d %q %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if e.idp.lastAuth != "post" {
		t.Errorf("client authentication %q, want client_secret_post", e.idp.lastAuth)
	}
	session := cookieNamed(rec, sessionCookie)
	if session == nil || session.Value == "" || !session.HttpOnly || session.Secure {
		t.Fatalf("session cookie %+v (plain http on loopback: not Secure)", session)
	}
	// Spin's Go SDK passes only the first value of a response header: a
	// response that sets two cookies loses one in the real component.
	if n := len(rec.Header().Values("Set-Cookie")); n != 1 {
		t.Errorf("the callback sets %d cookies; under Spin only the first would arrive", n)
	}

	me := e.get("/api/v1/me", session)
	body := me.Body.String()
	if me.Code != 200 || gjson.Get(body, "kind").String() != "user" || gjson.Get(body, "name").String() != "Ada Lovelace" ||
		!regexp.MustCompile(`^user:[0-9a-f]{16}$`).MatchString(gjson.Get(body, "id").String()) || gjson.Get(body, "csrfToken").String() == "" {
		t.Fatalf("GET /api/v1/me: %d %s", me.Code, body)
	}
	u, err := e.srv.DB.GetUser(strings.TrimPrefix(gjson.Get(body, "id").String(), "user:"))
	if err != nil || u.Issuer != e.idp.srv.URL || u.Subject != "user-42" || u.Email != "ada@example.test" {
		t.Errorf("stored user %+v, %v", u, err)
	}

	// A replayed callback signs no one in. Without the login cookie
	// spinport refuses it before the provider is asked.
	keys := e.mem.Len()
	replay := e.get(callback)
	problem(t, replay, 400, "another browser")
	if e.idp.tokenCalls != 1 {
		t.Errorf("a replayed callback without the login cookie reached the token endpoint (%d calls)", e.idp.tokenCalls)
	}
	// With the cookie (a success leaves it to expire: one Set-Cookie per
	// response) the provider refuses the code it already redeemed.
	replay = e.get(callback, binder)
	problem(t, replay, 400, "refused the authorization code")
	if e.idp.tokenCalls != 2 {
		t.Errorf("token endpoint calls %d, want 2", e.idp.tokenCalls)
	}
	if cookieNamed(replay, sessionCookie) != nil || e.mem.Len() != keys {
		t.Errorf("a replayed callback started a session (or wrote KV keys)")
	}

	// Signing in again is the same user, with the profile updated.
	e.idp.claims = func(c oidctest.Claims) oidctest.Claims { return c.With("name", `"Ada King"`) }
	callback, binder = e.login("https://evil.example/")
	rec = e.get(callback, binder)
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/" {
		t.Fatalf("second callback: %d %q %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	me2 := e.get("/api/v1/me", cookieNamed(rec, sessionCookie))
	if gjson.Get(me2.Body.String(), "id").String() != gjson.Get(body, "id").String() || gjson.Get(me2.Body.String(), "name").String() != "Ada King" {
		t.Errorf("second sign-in: %s, first %s", me2.Body, body)
	}
	e.checkNoLeaks()
}

// Anonymous sign-ins, finished or abandoned, leave nothing in the KV store
// (it has no expiry): the state in flight lives in the sealed cookie.
func TestOIDCLoginWritesNoKV(t *testing.T) {
	e := newOIDCEnv(t)
	for i := 0; i < 25; i++ { // abandoned at the provider
		if cb, _ := e.login("/tenants/" + strconv.Itoa(i)); cb == "" {
			return
		}
	}
	if n := e.mem.Len(); n != 0 {
		t.Errorf("25 abandoned sign-ins left %d KV keys: %q", n, e.mem.Keys())
	}
	callback, sealed := e.login("/")
	if rec := e.get(callback, sealed); rec.Code != http.StatusFound {
		t.Fatalf("callback: %d %s", rec.Code, rec.Body)
	}
	for _, k := range e.mem.Keys() {
		if !strings.HasPrefix(k, "sp/session/") && !strings.HasPrefix(k, "sp/user/") && !strings.HasPrefix(k, "sp/idp/") {
			t.Errorf("a sign-in wrote %q", k)
		}
	}
}

func TestOIDCClientSecretBasic(t *testing.T) {
	for _, methods := range []string{`["client_secret_basic"]`, ""} { // listed alone, or omitted (the default)
		e := newOIDCEnv(t)
		e.idp.authMethods = methods
		e.srv.Config.OIDC.ClientSecret = idpClientSecret
		callback, binder := e.login("")
		if rec := e.get(callback, binder); rec.Code != http.StatusFound {
			t.Errorf("methods %q: callback %d %s", methods, rec.Code, rec.Body)
		}
		if e.idp.lastAuth != "basic" {
			t.Errorf("methods %q: client authentication %q, want client_secret_basic", methods, e.idp.lastAuth)
		}
		e.checkNoLeaks()
	}
}

func TestOIDCNotConfigured(t *testing.T) {
	e := newOIDCEnv(t)
	e.srv.Config.OIDC = OIDCConfig{}
	for _, path := range []string{"/auth/login", "/auth/callback?code=x&state=y"} {
		rec := e.get(path)
		problem(t, rec, 503, "oidc_issuer")
		for _, want := range []string{"oidc_client_id", "oidc_client_secret", "POST /auth/session", idpPublicURL + "/auth/callback"} {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("%s: %s does not mention %q", path, rec.Body, want)
			}
		}
	}
}

// The login cookie is sealed with a key derived from admin_token: without
// one (Spin refuses to start so; an embedder might not) there is no sign-in.
func TestOIDCNeedsAdminToken(t *testing.T) {
	e := newOIDCEnv(t)
	e.srv.Config.AdminToken = ""
	for _, path := range []string{"/auth/login", "/auth/callback?code=x&state=y"} {
		problem(t, e.get(path), 503, "admin_token")
	}
	if n := e.mem.Len(); n != 0 {
		t.Errorf("%d KV keys written", n)
	}
}

func TestOIDCCallbackRefusals(t *testing.T) {
	type tc struct {
		name    string
		setup   func(e *oidcEnv)
		mangle  func(e *oidcEnv, callback string, binder *http.Cookie) (string, *http.Cookie)
		status  int
		mention string
	}
	withQuery := func(callback string, edit func(url.Values)) string {
		u, _ := url.Parse(callback)
		q := u.Query()
		edit(q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	idToken := func(edit func(oidctest.Claims) oidctest.Claims) func(*oidcEnv) {
		return func(e *oidcEnv) { e.idp.claims = edit }
	}
	cases := []tc{
		{name: "unknown state", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			return withQuery(cb, func(q url.Values) { q.Set("state", strings.Repeat("ab", 32)) }), b
		}, status: 400, mention: "does not belong"},
		{name: "malformed state", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			return withQuery(cb, func(q url.Values) { q.Set("state", "../../x") }), b
		}, status: 400, mention: "does not belong"},
		{name: "login cookie of another sign-in", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			_, other := e.login("/")
			return cb, other
		}, status: 400, mention: "does not belong"},
		{name: "no state", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			return withQuery(cb, func(q url.Values) { q.Del("state") }), b
		}, status: 400, mention: "no state"},
		{name: "expired state", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			e.mu.Lock()
			e.clock = e.clock.Add(11 * time.Minute)
			e.mu.Unlock()
			return cb, b
		}, status: 400, mention: "expired"},
		{name: "other browser (no login cookie)", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			return cb, nil
		}, status: 400, mention: "another browser"},
		{name: "garbage login cookie", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			return cb, &http.Cookie{Name: loginCookie, Value: "0123"}
		}, status: 400, mention: "not valid"},
		{name: "tampered login cookie", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			raw, _ := base64.RawURLEncoding.DecodeString(b.Value)
			raw[len(raw)/2] ^= 0x01
			return cb, &http.Cookie{Name: loginCookie, Value: base64.RawURLEncoding.EncodeToString(raw)}
		}, status: 400, mention: "altered"},
		{name: "login cookie sealed with another admin_token", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			e.srv.Config.AdminToken = "rotated-admin-token-9876543210"
			return cb, b
		}, status: 400, mention: "admin_token"},
		{name: "login cookie forged with another admin_token", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			u, _ := url.Parse(cb)
			e.mu.Lock()
			now := e.clock
			e.mu.Unlock()
			forged := oidc.LoginState{State: u.Query().Get("state"), Verifier: "attacker-verifier", Nonce: "attacker-nonce", Return: "/",
				ExpiresAt: now.Add(oidc.LoginTTL).Unix(), Issuer: e.idp.srv.URL, ClientID: "spinport-portal",
				TokenEndpoint: e.idp.srv.URL + "/token", JWKSURI: e.idp.srv.URL + "/jwks"}
			v, _ := (&oidc.Client{CookieSecret: "guessed-admin-token", Rand: rand.Reader}).SealLoginState(forged)
			return cb, &http.Cookie{Name: loginCookie, Value: v}
		}, status: 400, mention: "not valid"},
		{name: "OIDC configuration changed during the sign-in", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			e.srv.Config.OIDC.ClientID = "another-client"
			return cb, b
		}, status: 400, mention: "configuration changed"},
		{name: "no code", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			return withQuery(cb, func(q url.Values) { q.Del("code") }), b
		}, status: 400, mention: "no authorization code"},
		{name: "access denied at the provider", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			return withQuery(cb, func(q url.Values) {
				q.Del("code")
				q.Set("error", "access_denied")
				q.Set("error_description", "user said no\r\n<script>")
			}), b
		}, status: 403, mention: "(access_denied: user said no<script>)"},
		{name: "iss response parameter of another issuer", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			return withQuery(cb, func(q url.Values) { q.Set("iss", "https://evil.example") }), b
		}, status: 400, mention: "another issuer"},
		{name: "code already redeemed", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			e.idp.mu.Lock()
			e.idp.codes = map[string]idpGrant{}
			e.idp.mu.Unlock()
			return cb, b
		}, status: 400, mention: "(invalid_grant: fake idp: invalid_grant)"},
		{name: "wrong client secret", setup: func(e *oidcEnv) {
			e.srv.Config.OIDC.ClientSecret = "wrong"
		}, status: 502, mention: "check oidc_client_id and oidc_client_secret"},
		{name: "token endpoint error 500", setup: func(e *oidcEnv) {
			e.idp.tokenReply = func(w http.ResponseWriter) bool { w.WriteHeader(500); return true }
		}, status: 502, mention: "HTTP 500"},
		{name: "token response without id_token", setup: func(e *oidcEnv) {
			e.idp.tokenReply = func(w http.ResponseWriter) bool { io.WriteString(w, `{"access_token":"x"}`); return true }
		}, status: 502, mention: "no id_token"},
		{name: "provider down", mangle: func(e *oidcEnv, cb string, b *http.Cookie) (string, *http.Cookie) {
			e.idp.srv.Close()
			return cb, b
		}, status: 503, mention: "could not reach the identity provider's token endpoint"},
		{name: "ID token: wrong nonce", setup: idToken(func(c oidctest.Claims) oidctest.Claims { return c.With("nonce", `"other"`) }), status: 401, mention: "nonce"},
		{name: "ID token: wrong aud", setup: idToken(func(c oidctest.Claims) oidctest.Claims { return c.With("aud", `"other-client"`) }), status: 401, mention: "aud"},
		{name: "ID token: expired", setup: idToken(func(c oidctest.Claims) oidctest.Claims {
			return c.With("exp", strconv.FormatInt(time.Now().Unix()-3600, 10))
		}), status: 401, mention: "expired"},
		{name: "ID token: wrong iss", setup: idToken(func(c oidctest.Claims) oidctest.Claims { return c.With("iss", `"https://evil.example"`) }), status: 401, mention: "iss"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newOIDCEnv(t)
			e.t = t
			callback, binder := e.login("/somewhere")
			if callback == "" {
				return
			}
			if c.setup != nil {
				c.setup(e)
			}
			if c.mangle != nil {
				callback, binder = c.mangle(e, callback, binder)
			}
			keys := e.mem.Len()
			rec := e.get(callback, binder)
			problem(t, rec, c.status, c.mention)
			if cookieNamed(rec, sessionCookie) != nil || e.mem.Len() != keys {
				t.Errorf("a refused sign-in set a session cookie (or wrote KV keys)")
			}
			if lc := cookieNamed(rec, loginCookie); lc == nil || lc.MaxAge >= 0 || len(rec.Header().Values("Set-Cookie")) != 1 {
				t.Errorf("a refused sign-in must clear the login cookie, and set nothing else: %q", rec.Header().Values("Set-Cookie"))
			}
			e.checkNoLeaks()
		})
	}
}

func TestOIDCLoginProviderProblems(t *testing.T) {
	e := newOIDCEnv(t)
	e.idp.issuer = e.idp.srv.URL + "/"
	problem(t, e.get("/auth/login"), 502, "must match exactly")

	e = newOIDCEnv(t)
	e.srv.Config.OIDC.Issuer = e.idp.srv.URL + "/nowhere"
	problem(t, e.get("/auth/login"), 502, "answered HTTP 404")

	e = newOIDCEnv(t)
	e.idp.srv.Close()
	problem(t, e.get("/auth/login"), 503, "could not reach the identity provider's discovery document")
}
