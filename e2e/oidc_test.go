package e2e

import (
	"database/sql"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spinport/spinport/spinhost"
)

// OIDC sign-in end to end: spinport's real .wasm in spinhost (outbound
// HTTP through the Spin host, key-value in Spin's SQLite store) signs a
// browser in against a real OpenID provider (oidcprovider_test.go).

// kvKeys lists the keys in the default store of Spin's SQLite key-value
// database under stateDir (none before the first write creates it).
func kvKeys(t *testing.T, stateDir string) []string {
	t.Helper()
	path := filepath.Join(stateDir, spinhost.DefaultKVFilename)
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT key FROM spin_key_value WHERE store = 'default' ORDER BY key`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil
		}
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// browser is a cookie-keeping HTTP client that follows redirects itself,
// so every hop can be checked.
type browser struct {
	t    *testing.T
	c    *http.Client
	hops []hop
}

type hop struct {
	Method, URL string
	Status      int
	Location    string // resolved
	Body        string
	Cookies     []*http.Cookie
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// navigate sends req and follows redirects (as GETs) until a response that
// is not a redirect, or until the next URL starts with stopAt ("" never
// stops). It returns the last hop and, when it stopped, the URL not taken.
func (b *browser) navigate(req *http.Request, stopAt string) (last hop, notTaken string) {
	b.t.Helper()
	for i := 0; i < 20; i++ {
		res, err := b.c.Do(req)
		if err != nil {
			b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		h := hop{Method: req.Method, URL: req.URL.String(), Status: res.StatusCode, Body: string(body), Cookies: res.Cookies()}
		if loc, err := res.Location(); err == nil {
			h.Location = loc.String()
		}
		b.hops = append(b.hops, h)
		if h.Location == "" || res.StatusCode < 300 || res.StatusCode > 399 {
			return h, ""
		}
		if stopAt != "" && strings.HasPrefix(h.Location, stopAt) {
			return h, h.Location
		}
		req, _ = http.NewRequest(http.MethodGet, h.Location, nil)
	}
	b.t.Fatalf("too many redirects: %+v", b.hops)
	return hop{}, ""
}

func (b *browser) get(u, stopAt string) (hop, string) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.navigate(req, stopAt)
}

func (b *browser) hopTo(prefix string) (hop, bool) {
	for _, h := range b.hops {
		if strings.HasPrefix(h.URL, prefix) {
			return h, true
		}
	}
	return hop{}, false
}

// signInAtProvider starts at spinport's /auth/login and fills in the
// provider's login form; it stops before following the redirect back to
// spinport's callback and returns that URL.
func signInAtProvider(t *testing.T, b *browser, spinURL, issuer, ret string) string {
	t.Helper()
	page, _ := b.get(spinURL+"/auth/login?return="+url.QueryEscape(ret), "")
	u, _ := url.Parse(page.URL)
	if page.Status != 200 || !strings.HasPrefix(page.URL, issuer+"/login/username") || u.Query().Get("authRequestID") == "" {
		t.Fatalf("expected the provider's login page, got %d %s: %.300s\nhops: %+v", page.Status, page.URL, page.Body, b.hops)
	}
	form := url.Values{"username": {providerUser}, "password": {providerPassword}, "id": {u.Query().Get("authRequestID")}}
	req, _ := http.NewRequest(http.MethodPost, issuer+"/login/username", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	last, callback := b.navigate(req, spinURL+"/auth/callback")
	if callback == "" {
		t.Fatalf("the provider did not redirect to spinport's callback: %d %s %.300s", last.Status, last.URL, last.Body)
	}
	return callback
}

func listen(t *testing.T) (net.Listener, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l, "http://" + l.Addr().String()
}

var userIDRe = regexp.MustCompile(`"id":"(user:[0-9a-f]{16})"`)

func TestOIDCSignInWithRealProvider(t *testing.T) {
	requireSpinport(t)
	for _, tc := range []struct{ name, clientID, secret string }{
		{"confidential client (client_secret_post)", confidentialClient, confidentialSecret},
		{"public client (PKCE checked by the provider)", publicClient, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			defer func() {
				if t.Failed() {
					t.Logf("logs:\n%s", logs)
				}
			}()
			l, spinURL := listen(t)
			p := startProvider(t, spinURL+"/auth/callback", logs)
			stateDir := startHost(t, hostOptions{Listener: l, Variables: map[string]string{
				"oidc_issuer": p.Issuer, "oidc_client_id": tc.clientID, "oidc_client_secret": tc.secret,
				"public_url": spinURL, "outbound_allow": p.Issuer,
			}}).StateDir

			b := newBrowser(t)
			before := kvKeys(t, stateDir)
			callback := signInAtProvider(t, b, spinURL, p.Issuer, "/tenants?from=e2e")

			// The sign-in in flight is in the sealed login cookie, not in
			// the KV store: /auth/login wrote no key.
			if after := kvKeys(t, stateDir); len(after) != len(before) {
				t.Errorf("GET /auth/login wrote KV keys: before %q, after %q", before, after)
			}

			// spinport's redirect to the provider carried PKCE.
			if h, ok := b.hopTo(spinURL + "/auth/login"); !ok || h.Status != 302 ||
				!strings.Contains(h.Location, "code_challenge_method=S256") || !strings.Contains(h.Location, "nonce=") {
				t.Errorf("login hop %+v", h)
			}

			// Back at spinport: the code is redeemed, the ID token verified,
			// a session started and the browser sent where it wanted to go.
			done, _ := b.get(callback, spinURL+"/tenants")
			if done.Status != 302 || done.Location != spinURL+"/tenants?from=e2e" {
				t.Fatalf("callback: %d -> %q: %s", done.Status, done.Location, done.Body)
			}
			me, _ := b.get(spinURL+"/api/v1/me", "")
			m := userIDRe.FindStringSubmatch(me.Body)
			if me.Status != 200 || m == nil || !strings.Contains(me.Body, `"kind":"user"`) || !strings.Contains(me.Body, `"csrfToken":"`) {
				t.Fatalf("GET /api/v1/me with the session: %d %s\ncallback cookies: %v", me.Status, me.Body, done.Cookies)
			}
			userID := m[1]

			// A replayed callback signs no one in: in this browser (which
			// still has the login cookie: the callback could set only the
			// session cookie) the provider refuses the used code; in
			// another browser spinport refuses it without the cookie.
			replay, _ := b.get(callback, "")
			if replay.Status != 400 || !strings.Contains(replay.Body, "refused the authorization code") {
				t.Errorf("replayed callback: %d %s", replay.Status, replay.Body)
			}
			elsewhere, _ := newBrowser(t).get(callback, "")
			if elsewhere.Status != 400 || !strings.Contains(elsewhere.Body, "another browser") || len(elsewhere.Cookies) != 1 ||
				elsewhere.Cookies[0].Name != "spinport_login" || elsewhere.Cookies[0].MaxAge >= 0 {
				t.Errorf("callback replayed in another browser: %d %s %v", elsewhere.Status, elsewhere.Body, elsewhere.Cookies)
			}

			// A second sign-in is the same user.
			b2 := newBrowser(t)
			callback2 := signInAtProvider(t, b2, spinURL, p.Issuer, "/")
			if done, _ := b2.get(callback2, spinURL+"/"); done.Status != 302 {
				t.Fatalf("second callback: %d %s", done.Status, done.Body)
			}
			if me2, _ := b2.get(spinURL+"/api/v1/me", ""); !strings.Contains(me2.Body, `"id":"`+userID+`"`) {
				t.Errorf("second sign-in is another user: %s (first %s)", me2.Body, userID)
			}

			// A code the provider never issued is refused by the provider.
			b3 := newBrowser(t)
			callback3 := signInAtProvider(t, b3, spinURL, p.Issuer, "/")
			cu, _ := url.Parse(callback3)
			q := cu.Query()
			q.Set("code", q.Get("code")+"x")
			cu.RawQuery = q.Encode()
			if bad, _ := b3.get(cu.String(), ""); bad.Status != 400 || !strings.Contains(bad.Body, "refused the authorization code") {
				t.Errorf("tampered code: %d %s", bad.Status, bad.Body)
			}

			// Signed-in users, sessions and identities are all the KV
			// store holds: no sign-in in flight, finished or not.
			sessions := 0
			for _, k := range kvKeys(t, stateDir) {
				switch {
				case strings.HasPrefix(k, "sp/session/"):
					sessions++
				case !strings.HasPrefix(k, "sp/user/") && !strings.HasPrefix(k, "sp/idp/"):
					t.Errorf("KV key %q after sign-ins", k)
				}
			}
			if sessions != 2 {
				t.Errorf("%d sessions in the KV store after two sign-ins", sessions)
			}

			// Nothing secret in spinport's or the host's output, or in any
			// page spinport served.
			secrets := []string{}
			if tc.secret != "" {
				secrets = append(secrets, tc.secret)
			}
			for _, cb := range []string{callback, callback2, callback3} {
				u, _ := url.Parse(cb)
				secrets = append(secrets, u.Query().Get("code"))
			}
			var served []string
			for _, br := range []*browser{b, b2, b3} {
				for _, h := range br.hops {
					if strings.HasPrefix(h.URL, spinURL) {
						served = append(served, h.Body)
					}
				}
			}
			out := logs.String()
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("a secret (%.8s...) is in the logs", s)
				}
				for _, body := range served {
					if strings.Contains(body, s) {
						t.Errorf("a secret (%.8s...) is in a page spinport served: %.200s", s, body)
					}
				}
			}
		})
	}
}

func TestOIDCWrongClientSecretWithRealProvider(t *testing.T) {
	requireSpinport(t)
	logs := &logBuffer{}
	l, spinURL := listen(t)
	p := startProvider(t, spinURL+"/auth/callback", logs)
	startHost(t, hostOptions{Listener: l, Variables: map[string]string{
		"oidc_issuer": p.Issuer, "oidc_client_id": confidentialClient, "oidc_client_secret": "not-the-secret",
		"public_url": spinURL, "outbound_allow": p.Issuer,
	}})
	b := newBrowser(t)
	callback := signInAtProvider(t, b, spinURL, p.Issuer, "/")
	res, _ := b.get(callback, "")
	if res.Status != 502 || !strings.Contains(res.Body, "check oidc_client_id and oidc_client_secret") {
		t.Errorf("callback with a wrong client secret: %d %s\nlogs:\n%s", res.Status, res.Body, logs)
	}
}

func TestOIDCNotConfiguredInWasm(t *testing.T) {
	h := startHost(t, hostOptions{})
	res, _ := newBrowser(t).get(h.URL+"/auth/login", "")
	if res.Status != 503 || !strings.Contains(res.Body, "oidc_issuer") || !strings.Contains(res.Body, "POST /auth/session") {
		t.Errorf("/auth/login without OIDC configured: %d %s", res.Status, res.Body)
	}
}

// The issuer's origin must be allowed for outbound HTTP, as in Spin.
func TestOIDCProviderNotAllowedOutbound(t *testing.T) {
	requireSpinport(t)
	logs := &logBuffer{}
	l, spinURL := listen(t)
	p := startProvider(t, spinURL+"/auth/callback", logs)
	startHost(t, hostOptions{Listener: l, Variables: map[string]string{
		"oidc_issuer": p.Issuer, "oidc_client_id": publicClient, "public_url": spinURL,
	}})
	res, _ := newBrowser(t).get(spinURL+"/auth/login", "")
	if res.Status != 503 || !strings.Contains(res.Body, "allowed_outbound_hosts") {
		t.Errorf("/auth/login with the issuer not allowed: %d %s\nlogs:\n%s", res.Status, res.Body, logs)
	}
}
