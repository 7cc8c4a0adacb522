package oidc

// Pure tests of sealed values and the sealed sign-in state: no network, no
// httptest, so they run under TinyGo too (hack/tinygo-test.sh ./oidc).
// TinyGo's t.Fatal does not stop a test: every failure returns explicitly.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/spinport/spinport"
)

func TestSealRoundTripAndRefusals(t *testing.T) {
	k := deriveSealKeys("admin-token-1", loginSealLabel)
	secret := []byte(`{"verifier":"very-secret-pkce-verifier","nonce":"n0nce"}`)
	v, err := k.seal(rand.Reader, LoginCookie, secret)
	if err != nil {
		t.Errorf("seal: %v", err)
		return
	}
	if got, ok := k.open(LoginCookie, v); !ok || !bytes.Equal(got, secret) {
		t.Errorf("open(seal(x)) = %q, %v", got, ok)
	}
	// Not readable: neither in the value nor in its decoded bytes.
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	for _, part := range []string{"very-secret-pkce-verifier", "n0nce", "verifier"} {
		if strings.Contains(v, part) || bytes.Contains(raw, []byte(part)) {
			t.Errorf("the sealed value shows %q", part)
		}
	}
	// A cookie value needs no quoting: base64url only.
	if strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Errorf("sealed value %q has characters outside base64url", v)
	}
	// Fresh nonce: the same plaintext never seals to the same value.
	if v2, _ := k.seal(rand.Reader, LoginCookie, secret); v2 == v {
		t.Errorf("two seals of one plaintext are equal")
	}

	// Every single-bit change anywhere is refused.
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			m := append([]byte(nil), raw...)
			m[i] ^= 1 << bit
			if _, ok := k.open(LoginCookie, base64.RawURLEncoding.EncodeToString(m)); ok {
				t.Errorf("a value with byte %d bit %d flipped opened", i, bit)
				return
			}
		}
	}
	refused := map[string]string{
		"empty":          "",
		"not base64url":  v[:len(v)-2] + "!!",
		"padded":         v + "=",
		"truncated":      v[:len(v)-4],
		"no MAC":         base64.RawURLEncoding.EncodeToString(raw[:len(raw)-32]),
		"version only":   "AQ",
		"too long":       v + strings.Repeat("A", maxSealed),
		"other version":  base64.RawURLEncoding.EncodeToString(append([]byte{2}, raw[1:]...)),
		"appended bytes": base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), raw...), 0)),
	}
	for name, val := range refused {
		if _, ok := k.open(LoginCookie, val); ok {
			t.Errorf("%s: opened", name)
		}
	}
	for name, other := range map[string]sealKeys{
		"another admin_token":    deriveSealKeys("admin-token-2", loginSealLabel),
		"another label":          deriveSealKeys("admin-token-1", "spinport oidc login state v2"),
		"empty secret":           deriveSealKeys("", loginSealLabel),
		"label and secret moved": deriveSealKeys(loginSealLabel, "admin-token-1"),
	} {
		if _, ok := other.open(LoginCookie, v); ok {
			t.Errorf("opened with keys of %s", name)
		}
	}
	if _, ok := k.open("spinport_session", v); ok {
		t.Errorf("opened for another context")
	}
	if bytes.Equal(k.enc, k.mac) || len(k.enc) != 32 || len(k.mac) != 32 {
		t.Errorf("derived keys: enc %x mac %x", k.enc, k.mac)
	}
}

// sealTestClient is a Client with only what sealing the sign-in needs.
func sealTestClient(adminToken string, now time.Time) *Client {
	return &Client{CookieSecret: adminToken, Issuer: "https://idp.example", ClientID: "portal",
		Now: func() time.Time { return now }, Rand: rand.Reader}
}

func testLoginState(now time.Time) LoginState {
	return LoginState{State: strings.Repeat("5a", 32), Verifier: "v3rifier-" + strings.Repeat("x", 34), Nonce: strings.Repeat("0f", 16),
		Return: "/tenants/acme?tab=apps", ExpiresAt: now.Add(LoginTTL).Unix(), Issuer: "https://idp.example", ClientID: "portal",
		TokenEndpoint: "https://idp.example/token", JWKSURI: "https://idp.example/jwks", BasicAuth: true}
}

// callbackCookies are the login cookies a callback for state brings.
func callbackCookies(state string, cookies ...string) []string {
	return cookies
}

func TestLoginStateCookie(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := sealTestClient("admin-token-1", now)
	ls := testLoginState(now)
	v, err := s.SealLoginState(ls)
	if err != nil || len(v) > MaxLoginCookie {
		t.Errorf("sealLoginState: %d characters, %v", len(v), err)
		return
	}
	got, err := s.OpenLoginState(callbackCookies(ls.State, v), ls.State)
	if err != nil || got != ls {
		t.Errorf("openLoginState = %+v, %v; want %+v", got, err, ls)
	}
	// Another spinport_login cookie first (an older one on another path)
	// does not hide the right one.
	if _, err := s.OpenLoginState(callbackCookies(ls.State, "junk", v), ls.State); err != nil {
		t.Errorf("with a junk cookie before the good one: %v", err)
	}

	refusals := []struct {
		name, mention string
		srv           *Client
		cookies       []string
		state         string
	}{
		{"no cookie", "another browser", s, callbackCookies(ls.State), ls.State},
		{"garbage cookie", "not valid", s, callbackCookies(ls.State, "0123"), ls.State},
		{"other state", "does not belong", s, callbackCookies(strings.Repeat("ab", 32), v), strings.Repeat("ab", 32)},
		{"state prefix", "does not belong", s, callbackCookies(ls.State[:63], v), ls.State[:63]},
		{"another admin_token", "admin_token", sealTestClient("admin-token-2", now), callbackCookies(ls.State, v), ls.State},
		{"expired", "expired", sealTestClient("admin-token-1", now.Add(LoginTTL)), callbackCookies(ls.State, v), ls.State},
	}
	for _, c := range refusals {
		_, err := c.srv.OpenLoginState(c.cookies, c.state)
		p, ok := err.(*spinport.Error)
		if !ok || p.Kind != spinport.Invalid || !strings.Contains(p.Detail, c.mention) || !strings.Contains(p.Detail, restartHint) {
			t.Errorf("%s: %v, want a 400 mentioning %q", c.name, err, c.mention)
		}
	}

	// A well-sealed document that is not a complete sign-in is refused.
	for name, edit := range map[string]func(*LoginState){
		"no verifier":       func(l *LoginState) { l.Verifier = "" },
		"no nonce":          func(l *LoginState) { l.Nonce = "" },
		"short state":       func(l *LoginState) { l.State = "ab" },
		"no token endpoint": func(l *LoginState) { l.TokenEndpoint = "" },
	} {
		bad := ls
		edit(&bad)
		bv, _ := s.loginKeys().seal(rand.Reader, LoginCookie, bad.marshal())
		if _, err := s.OpenLoginState(callbackCookies(bad.State, bv), bad.State); err == nil || !strings.Contains(err.Error(), "not valid") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// An unsafe return path in a sealed document is still made safe.
	evil := ls
	evil.Return = "//evil.example/"
	ev, _ := s.loginKeys().seal(rand.Reader, LoginCookie, evil.marshal())
	if got, err := s.OpenLoginState(callbackCookies(ls.State, ev), ls.State); err != nil || got.Return != "/" {
		t.Errorf("return path //evil.example/ came back as %q, %v", got.Return, err)
	}
}

func TestLoginStateCookieSize(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := sealTestClient("admin-token-1", now)
	// The longest return path kept (2048) fits with ordinary endpoints.
	ls := testLoginState(now)
	ls.Return = "/" + strings.Repeat("r", 2047)
	v, err := s.SealLoginState(ls)
	got, _ := s.OpenLoginState(callbackCookies(ls.State, v), ls.State)
	if err != nil || len(v) > MaxLoginCookie || got.Return != ls.Return {
		t.Errorf("2048-character return path: %d characters, %v, return kept %v", len(v), err, got.Return == ls.Return)
	}
	// With long endpoints the return path gives way.
	ls.TokenEndpoint = "https://idp.example/" + strings.Repeat("t", 600)
	ls.JWKSURI = "https://idp.example/" + strings.Repeat("j", 600)
	v, err = s.SealLoginState(ls)
	got, _ = s.OpenLoginState(callbackCookies(ls.State, v), ls.State)
	if err != nil || len(v) > MaxLoginCookie || got.Return != "/" || got.TokenEndpoint != ls.TokenEndpoint {
		t.Errorf("long endpoints: %d characters, %v, return %.20q", len(v), err, got.Return)
	}
	// Endpoints too long for any cookie are an error, not a lost cookie.
	ls.TokenEndpoint = "https://idp.example/" + strings.Repeat("t", 4000)
	if _, err := s.SealLoginState(ls); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("endpoints too long for a cookie: %v", err)
	}
}
