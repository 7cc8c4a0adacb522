package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Client tests over memDoer (in memory): they run natively and under
// TinyGo. TinyGo's t.Fatal does not stop a test: every Fatal is followed
// by return.

const shopRef = "reg.example/acme/shop:v1"

func newShop(t *testing.T, auth string) (*fakeReg, *Client, string) {
	f := newFakeReg()
	f.auth = auth
	m, blobs := spinManifest(shopLocked())
	d := f.pushApp("acme/shop", "v1", m, blobs)
	return f, &Client{HTTP: &memDoer{h: f}}, d
}

func TestClientAnonymous(t *testing.T) {
	f, c, digest := newShop(t, "")
	d, err := c.Resolve(shopRef)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
		return
	}
	if d.Digest != digest || d.MediaType != MediaTypeOCIManifest || d.Size <= 0 {
		t.Errorf("Resolve = %+v, want digest %s", d, digest)
	}
	app, d2, err := c.InspectRef(shopRef)
	if err != nil {
		t.Fatalf("InspectRef: %v", err)
		return
	}
	if d2.Digest != digest || app.Name != "shop" || len(app.Components) != 3 {
		t.Errorf("InspectRef: %+v %+v", d2, app)
	}
	for _, r := range f.requests {
		if !strings.HasPrefix(strings.SplitN(r, " ", 2)[1], "https://reg.example/v2/acme/shop/") || !strings.HasSuffix(r, "auth=none") {
			t.Errorf("request %q: want https, no Authorization", r)
		}
	}
	// HEAD was enough to resolve: the first request is a HEAD.
	if !strings.HasPrefix(f.requests[0], "HEAD ") {
		t.Errorf("first request %q", f.requests[0])
	}
	// By digest too, and a tag+digest whose digest does not match is refused.
	if d, err := c.Resolve("reg.example/acme/shop@" + digest); err != nil || d.Digest != digest {
		t.Errorf("Resolve by digest: %+v %v", d, err)
	}
	if _, err := c.Resolve("reg.example/acme/shop:v1@" + dgst); err == nil {
		t.Errorf("Resolve with a wrong digest: no error")
	}
}

func TestClientResolveWithoutHEAD(t *testing.T) {
	f, c, digest := newShop(t, "")
	f.noHEAD = true
	d, err := c.Resolve(shopRef)
	if err != nil || d.Digest != digest || d.MediaType != MediaTypeOCIManifest {
		t.Errorf("Resolve: %+v %v", d, err)
	}
}

func TestClientBearerAnonymous(t *testing.T) {
	f, c, digest := newShop(t, "bearer")
	f.anonPull = true
	app, d, err := c.InspectRef(shopRef)
	if err != nil {
		t.Fatalf("InspectRef: %v", err)
		return
	}
	if d.Digest != digest || app.Name != "shop" {
		t.Errorf("InspectRef: %+v", d)
	}
	// One token for the Client's life, fetched anonymously; one 401.
	if f.tokenCalls != 1 || f.tokenBasic[0] {
		t.Errorf("token calls %d (basic %v)", f.tokenCalls, f.tokenBasic)
	}
	var unauth int
	for _, k := range f.authByHost["reg.example"] {
		if k == "none" {
			unauth++
		}
	}
	if unauth != 1 {
		t.Errorf("requests without Authorization: %d (%v)", unauth, f.requests)
	}
	if _, err := c.Blob("reg.example/acme/shop", sha256Digest(wasmAPI), 1<<20); err != nil || f.tokenCalls != 1 {
		t.Errorf("Blob: %v, token calls %d", err, f.tokenCalls)
	}
}

func TestClientBearerCredentials(t *testing.T) {
	f, c, _ := newShop(t, "bearer")
	f.user, f.pass = "alice", "hunter2"
	// Anonymous: the token service issues a token that may not pull.
	_, _, err := c.InspectRef(shopRef)
	var ae *AuthError
	if !errors.As(err, &ae) || ae.WithCredentials || !strings.Contains(err.Error(), "refused anonymous access") || !strings.Contains(err.Error(), "give pull credentials for reg.example") {
		t.Errorf("anonymous: %v", err)
	}
	// With credentials from the hook.
	var asked []string
	c = &Client{HTTP: &memDoer{h: f}, Credentials: func(reg string) (string, string, bool) {
		asked = append(asked, reg)
		return "alice", "hunter2", reg == "reg.example"
	}}
	f.tokenBasic = nil
	app, _, err := c.InspectRef(shopRef)
	if err != nil || app.Name != "shop" {
		t.Fatalf("with credentials: %v", err)
		return
	}
	if len(f.tokenBasic) != 1 || !f.tokenBasic[0] || len(asked) == 0 || asked[0] != "reg.example" {
		t.Errorf("token calls with basic: %v, asked %v", f.tokenBasic, asked)
	}
	// Wrong password: the token service says 401.
	c = &Client{HTTP: &memDoer{h: f}, Credentials: func(string) (string, string, bool) { return "alice", "wrong-pw", true }}
	_, err = c.Resolve(shopRef)
	if !errors.As(err, &ae) || !ae.WithCredentials || !strings.Contains(err.Error(), "registry refused credentials") || strings.Contains(err.Error(), "wrong-pw") {
		t.Errorf("wrong password: %v", err)
	}
	if isUnavailable(err) || IsNotFound(err) {
		t.Errorf("wrong password is not unavailable/not found: %v", err)
	}
}

func TestClientBasic(t *testing.T) {
	f, _, digest := newShop(t, "basic")
	f.user, f.pass = "bob", "pa55word"
	c := &Client{HTTP: &memDoer{h: f}}
	_, err := c.Resolve(shopRef)
	var ae *AuthError
	if !errors.As(err, &ae) || ae.WithCredentials {
		t.Errorf("no credentials: %v", err)
	}
	c = &Client{HTTP: &memDoer{h: f}, Credentials: func(string) (string, string, bool) { return "bob", "pa55word", true }}
	app, d, err := c.InspectRef(shopRef)
	if err != nil || d.Digest != digest || app.Name != "shop" {
		t.Fatalf("basic: %v", err)
		return
	}
	// Basic is remembered: one 401 in all.
	n := 0
	for _, k := range f.authByHost["reg.example"] {
		if k == "none" {
			n++
		}
	}
	if n != 2 { // one from the refused client above, one from this one
		t.Errorf("unauthenticated requests: %d", n)
	}
	c = &Client{HTTP: &memDoer{h: f}, Credentials: func(string) (string, string, bool) { return "bob", "nope-secret", true }}
	_, err = c.Resolve(shopRef)
	if !errors.As(err, &ae) || !ae.WithCredentials || ae.Status != http.StatusUnauthorized || strings.Contains(err.Error(), "nope-secret") {
		t.Errorf("wrong basic: %v", err)
	}
}

func TestClientNotFound(t *testing.T) {
	_, c, _ := newShop(t, "")
	_, err := c.Resolve("reg.example/acme/shop:v2")
	var nf *NotFoundError
	if !errors.As(err, &nf) || !IsNotFound(err) || !strings.Contains(err.Error(), "reg.example/acme/shop:v2 not found (MANIFEST_UNKNOWN)") {
		t.Errorf("Resolve missing tag: %v", err)
	}
	if _, err := c.Blob("reg.example/acme/shop", dgst, 10); !IsNotFound(err) || !strings.Contains(err.Error(), "blob") {
		t.Errorf("Blob missing: %v", err)
	}
	if _, err := c.Manifest("reg.example/acme/shop", dgst); !IsNotFound(err) {
		t.Errorf("Manifest missing: %v", err)
	}
	if isUnavailable(err) {
		t.Errorf("not found is not unavailable")
	}
}

func TestClientUnavailable(t *testing.T) {
	f, c, _ := newShop(t, "")
	f.status["/v2/acme/shop/manifests/v1"] = http.StatusServiceUnavailable
	_, err := c.Resolve(shopRef)
	var ue *UnavailableError
	if !errors.As(err, &ue) || !isUnavailable(err) || ue.Status != 503 {
		t.Errorf("503: %v", err)
	}
	f.status["/v2/acme/shop/manifests/v1"] = http.StatusTooManyRequests
	f.headers["Retry-After"] = "7"
	_, err = c.Resolve(shopRef)
	if !isUnavailable(err) || !strings.Contains(err.Error(), "retry after 7") {
		t.Errorf("429: %v", err)
	}
	// Transport errors: unavailable, and no password from a URL in the text.
	c = &Client{HTTP: &memDoer{err: errTransport}}
	_, err = c.Resolve(shopRef)
	if !isUnavailable(err) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("transport: %v", err)
	}
	// Token service down.
	f, c, _ = newShop(t, "bearer")
	f.realm = "https://auth.example/token-down"
	f.status["/token-down"] = 502
	_, err = c.Resolve(shopRef)
	if !isUnavailable(err) {
		t.Errorf("token service down: %v", err)
	}
}

func TestClientIndex(t *testing.T) {
	f, c, digest := newShop(t, "")
	other := f.putManifest("acme/shop", "", MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"`+dgst+`","size":2},"layers":[]}`))
	idx := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + other + `","size":10,"platform":{"os":"linux","architecture":"amd64"}},` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digest + `","size":20,"platform":{"os":"wasip1","architecture":"wasm"}}]}`
	f.putManifest("acme/shop", "multi", MediaTypeOCIIndex, []byte(idx))
	app, d, err := c.InspectRef("reg.example/acme/shop:multi")
	if err != nil || d.Digest != digest || app.Name != "shop" {
		t.Errorf("index with wasm entry: %+v %v", d, err)
	}
	linuxOnly := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + other + `","size":10,"platform":{"os":"linux","architecture":"amd64"}},` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + other + `","size":10,"platform":{"os":"linux","architecture":"arm64"}}]}`
	f.putManifest("acme/shop", "linux", MediaTypeDockerList, []byte(linuxOnly))
	_, err = c.Resolve("reg.example/acme/shop:linux")
	var nsa *NotSpinAppError
	if !errors.As(err, &nsa) || !strings.Contains(err.Error(), "multi-platform image index (linux/amd64, linux/arm64) without a wasm/wasip1 entry, not a Spin app") {
		t.Errorf("linux-only index: %v", err)
	}
}

func TestClientContainerImageRefused(t *testing.T) {
	f, c, _ := newShop(t, "")
	gz := "application/vnd.oci.image.layer.v1.tar+gzip"
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	m := &Manifest{MediaType: MediaTypeOCIManifest, Config: layer(MediaTypeOCIConfig, cfg), Layers: []Descriptor{layer(gz, []byte("rootfs"))}}
	f.pushApp("acme/web", "v1", m, map[string][]byte{m.Config.Digest: cfg})
	_, _, err := c.InspectRef("reg.example/acme/web:v1")
	want := "reg.example/acme/web:v1 is a container image (layers application/vnd.oci.image.layer.v1.tar+gzip), not a Spin app: push it with `spin registry push`"
	if err == nil || err.Error() != want || !IsRefusal(err) {
		t.Errorf("container image: %v", err)
	}
}

func TestClientBlobChecks(t *testing.T) {
	f, c, _ := newShop(t, "")
	d := sha256Digest(wasmAPI)
	if b, err := c.Blob("reg.example/acme/shop", d, int64(len(wasmAPI))); err != nil || string(b) != string(wasmAPI) {
		t.Errorf("Blob at the bound: %v", err)
	}
	_, err := c.Blob("reg.example/acme/shop", d, int64(len(wasmAPI))-1)
	var pe *ProtocolError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "byte bound") {
		t.Errorf("Blob over the bound: %v", err)
	}
	f.corrupt[d] = true
	if _, err := c.Blob("reg.example/acme/shop", d, 1<<20); !errors.As(err, &pe) || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("corrupt blob: %v", err)
	}
	if _, err := c.Blob("reg.example/acme/shop:v1", d, 10); err == nil {
		t.Errorf("Blob accepted a tag in repo")
	}
}

func TestClientRedirectDropsAuthorization(t *testing.T) {
	f, _, _ := newShop(t, "basic")
	f.user, f.pass = "bob", "pa55word"
	f.redirect = "https://blobs.example"
	c := &Client{HTTP: &memDoer{h: f}, Credentials: func(string) (string, string, bool) { return "bob", "pa55word", true }}
	if _, err := c.Blob("reg.example/acme/shop", sha256Digest(wasmAPI), 1<<20); err != nil {
		t.Errorf("redirected blob: %v", err)
	}
	for _, k := range f.authByHost["blobs.example"] {
		if k != "none" {
			t.Errorf("Authorization sent to the redirect target: %v", f.authByHost["blobs.example"])
		}
	}
	if len(f.authByHost["blobs.example"]) != 1 {
		t.Errorf("redirect target requests: %v", f.requests)
	}
}

func TestClientInsecureAndRealm(t *testing.T) {
	f, _, _ := newShop(t, "bearer")
	f.anonPull = true
	f.realm = "http://auth.example/token"
	// https registry with a plain-http realm: refused.
	c := &Client{HTTP: &memDoer{h: f}}
	if _, err := c.Resolve(shopRef); err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("http realm for https registry: %v", err)
	}
	// Marked insecure: http to registry and realm.
	f.requests = nil
	c = &Client{HTTP: &memDoer{h: f}, Insecure: func(r string) bool { return r == "reg.example" }}
	if _, err := c.Resolve(shopRef); err != nil {
		t.Fatalf("insecure: %v", err)
		return
	}
	for _, r := range f.requests {
		if !strings.Contains(r, " http://") {
			t.Errorf("request %q is not plain http", r)
		}
	}
}

func TestClientNoSecretsInOutput(t *testing.T) {
	f, c, _ := newShop(t, "bearer")
	f.anonPull = true
	if _, err := c.Resolve(shopRef); err != nil {
		t.Fatalf("Resolve: %v", err)
		return
	}
	s := fmt.Sprintf("%v %+v %#v %s", c, c, c, c)
	if strings.Contains(s, "s3cr3t") || strings.Contains(s, "tok-") {
		t.Errorf("client printed a token: %s", s)
	}
	var nilHTTP Client
	if _, err := nilHTTP.Resolve(shopRef); err == nil || !strings.Contains(err.Error(), "needs HTTP") {
		t.Errorf("nil HTTP: %v", err)
	}
}

// isUnavailable is api.IsUnavailable's test (a type assertion, not an
// interface-target errors.As, which TinyGo 0.30 gets wrong).
func isUnavailable(err error) bool {
	for err != nil {
		if u, ok := err.(interface{ Unavailable() bool }); ok && u.Unavailable() {
			return true
		}
		err = errors.Unwrap(err)
	}
	return false
}
