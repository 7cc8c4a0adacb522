//go:build !tinygo

package api

import (
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spinport/spinport"

	"github.com/spinport/spinport/kv"
	"github.com/tidwall/gjson"
)

const testAdminToken = "test-admin-token-0123456789"

// recordingDeployer stands in for Kubernetes in API unit tests; the real
// one is tested against a real API server in the integration tests.
type recordingDeployer struct {
	mu       sync.Mutex
	applied  []string
	secrets  map[string]string
	redisURL string
	fail     error
}

func (d *recordingDeployer) record(s string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return d.fail
	}
	d.applied = append(d.applied, s)
	return nil
}
func (d *recordingDeployer) ApplyTenant(t spinport.Tenant) error { return d.record("tenant " + t.Slug) }
func (d *recordingDeployer) DeleteTenant(slug string) error      { return d.record("delete tenant " + slug) }
func (d *recordingDeployer) Apply(t spinport.Tenant, a spinport.App, r spinport.Revision, with spinport.ApplyWith) (spinport.Applied, error) {
	pull := ""
	if with.PullRegistry != "" {
		pull = " pull " + with.PullRegistry
	}
	if with.KV != nil {
		where := " kv shared "
		if with.KV.Own {
			where = " kv own "
		}
		pull += where + strconv.FormatInt(with.KV.DB, 10)
	}
	if len(r.Domains) > 0 {
		pull += " domains " + strings.Join(r.Domains, ",")
	}
	return spinport.Applied{"SpinApp": r.Image}, d.record("apply " + a.Tenant + "/" + a.Name + " " + r.Image + pull)
}
func (d *recordingDeployer) DeleteApp(a spinport.App) error {
	return d.record("delete " + a.Tenant + "/" + a.Name)
}
func (d *recordingDeployer) SetSecret(t, a, n, v string) error {
	if err := d.record("secret " + t + "/" + a + "/" + n); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.secrets == nil {
		d.secrets = map[string]string{}
	}
	d.secrets[t+"/"+a+"/"+n] = v
	return nil
}
func (d *recordingDeployer) Status(a spinport.App) (spinport.Status, error) {
	return spinport.Status{}, d.record("status " + a.Name)
}
func (d *recordingDeployer) Logs(a spinport.App, tail int) ([]spinport.PodLog, error) {
	return []spinport.PodLog{}, d.record("logs " + a.Name)
}
func (d *recordingDeployer) SetPullSecret(t, registry, user, password string) error {
	return d.record("pull secret " + t + "/" + registry + " " + user)
}
func (d *recordingDeployer) DeletePullSecret(t, registry string) error {
	return d.record("delete pull secret " + t + "/" + registry)
}
func (d *recordingDeployer) SetTenantRedis(t, url string) error {
	d.redisURL = url // kept to show the test it reached the deployer, not KV
	return d.record("tenant redis " + t)
}
func (d *recordingDeployer) DeleteTenantRedis(t string) error {
	return d.record("delete tenant redis " + t)
}
func (d *recordingDeployer) DeleteSecret(t, a, n string) error {
	return d.record("delete secret " + t + "/" + a + "/" + n)
}

// fakePush is a spinport.PushRegistry that records scopes and tokens.
type fakePush struct {
	mu     sync.Mutex
	scopes map[string][]string
	tokens map[string]bool
	n      int
	fail   error
}

func (f *fakePush) LoginServer() string                  { return "acr.example.test" }
func (f *fakePush) Repository(tenant, app string) string { return tenant + "/" + app }
func (f *fakePush) SetTenantScope(tenant string, apps []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if len(apps) == 0 {
		return &spinport.Error{Kind: spinport.Refused, Detail: "the tenant has no apps"}
	}
	if f.scopes == nil {
		f.scopes = map[string][]string{}
	}
	f.scopes[tenant] = append([]string(nil), apps...)
	return nil
}
func (f *fakePush) Issue(tenant, name string, expiry time.Time, slot int) (spinport.PushSecret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return spinport.PushSecret{}, f.fail
	}
	if f.tokens == nil {
		f.tokens = map[string]bool{}
	}
	f.tokens[tenant+"/"+name] = true
	f.n++
	return spinport.PushSecret{Username: "spinport-" + tenant + "-" + name, Password: "acr-pw-" + strconv.Itoa(f.n) + "-slot" + strconv.Itoa(slot), Expiry: expiry}, nil
}
func (f *fakePush) Revoke(tenant, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tokens, tenant+"/"+name)
	return f.fail
}
func (f *fakePush) DeleteTenantScope(tenant string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.scopes, tenant)
	return f.fail
}

type harness struct {
	t   *testing.T
	mem *kv.Memory
	srv *Server
	dep *recordingDeployer
	ts  *httptest.Server
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, mem: kv.NewMemory(), dep: &recordingDeployer{}}
	h.srv = &Server{
		DB:       kv.DB{B: h.mem.Backend()},
		Deployer: h.dep,
		Config:   Config{AdminToken: testAdminToken, BaseDomain: "apps.example.test", KVBackend: "memory", Version: "test"},
		Now:      time.Now,
		Rand:     rand.Reader,
		Log:      func(s string) { t.Log(s) },
	}
	// A fresh Server per request, as in Spin.
	h.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv := *h.srv
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(h.ts.Close)
	return h
}

// caller is a way of authenticating: a bearer token or a session.
type caller struct {
	bearer string
	cookie string
	csrf   string
}

var admin = caller{bearer: testAdminToken}

type resp struct {
	status int
	body   string
	header http.Header
}

func (r resp) get(path string) gjson.Result { return gjson.Get(r.body, path) }

func (h *harness) do(c caller, method, path, body string, headers ...string) resp {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, h.ts.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: c.cookie})
		if c.csrf != "" {
			req.Header.Set(csrfHeader, c.csrf)
		}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, string(b), res.Header}
}

// must asserts the status and returns the response.
func (h *harness) must(want int, c caller, method, path, body string, headers ...string) resp {
	h.t.Helper()
	r := h.do(c, method, path, body, headers...)
	if r.status != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// user creates a user with a portal session and returns a caller for it.
func (h *harness) user(id string) caller {
	h.t.Helper()
	if err := h.srv.DB.PutUser(spinport.User{ID: id, Issuer: "https://idp.test", Subject: id, DisplayName: "User " + id}); err != nil {
		h.t.Fatal(err)
	}
	cookie, csrf := "cookie-"+id+"-0123456789abcdef", "csrf-"+id
	err := h.srv.DB.PutSession(kv.SecretHash(cookie), spinport.Session{UserID: id, CSRF: csrf, ExpiresAt: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		h.t.Fatal(err)
	}
	return caller{cookie: cookie, csrf: csrf}
}

// token creates an API token in tenant and returns a caller using it.
func (h *harness) token(owner caller, tenant, scopes, app string) caller {
	h.t.Helper()
	body := `{"name":"t","scopes":[` + scopes + `]`
	if app != "" {
		body += `,"app":"` + app + `"`
	}
	r := h.must(201, owner, "POST", "/api/v1/tenants/"+tenant+"/tokens", body+"}")
	return caller{bearer: r.get("secret").String()}
}
