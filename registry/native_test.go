//go:build !tinygo

package registry

// The same fake over a real loopback server and net/http's transport
// (httptest servers cannot listen under TinyGo/WASI). The e2e module runs
// this package against go-containerregistry's registry as well.

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClientOverLoopback(t *testing.T) {
	f := newFakeReg()
	srv := httptest.NewServer(f)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	f.auth = "bearer"
	f.user, f.pass = "alice", "hunter2"
	f.realm = srv.URL + "/token"
	m, blobs := spinManifest(shopLocked())
	digest := f.pushApp("acme/shop", "v1", m, blobs)

	insecure := func(r string) bool { return r == host }
	creds := func(r string) (string, string, bool) { return "alice", "hunter2", r == host }

	// Token flow with credentials.
	c := &Client{HTTP: srv.Client(), Insecure: insecure, Credentials: creds}
	app, d, err := c.InspectRef(host + "/acme/shop:v1")
	if err != nil {
		t.Fatalf("InspectRef: %v", err)
	}
	if d.Digest != digest || app.Name != "shop" || strings.Join(app.RequiredVariables(), ",") != "api_key,db_url" {
		t.Errorf("InspectRef: %+v %+v", d, app)
	}
	if f.tokenCalls != 1 {
		t.Errorf("token calls: %d", f.tokenCalls)
	}

	// Anonymous: refused, with a message saying so.
	_, err = (&Client{HTTP: srv.Client(), Insecure: insecure}).Resolve(host + "/acme/shop:v1")
	var ae *AuthError
	if !errors.As(err, &ae) || ae.WithCredentials {
		t.Errorf("anonymous: %v", err)
	}

	// Basic.
	f.auth = "basic"
	if _, err := (&Client{HTTP: srv.Client(), Insecure: insecure, Credentials: creds}).Resolve(host + "/acme/shop:v1"); err != nil {
		t.Errorf("basic: %v", err)
	}

	// 404 and 5xx.
	f.auth = ""
	if _, err := c.Resolve(host + "/acme/shop:nope"); !IsNotFound(err) {
		t.Errorf("404: %v", err)
	}
	f.status["/v2/acme/shop/manifests/v1"] = http.StatusBadGateway
	if _, err := c.Resolve(host + "/acme/shop:v1"); !isUnavailable(err) {
		t.Errorf("502: %v", err)
	}

	// https by default: a plain-http server does not answer a TLS client.
	_, err = (&Client{HTTP: srv.Client()}).Resolve(host + "/acme/shop:v1")
	if !isUnavailable(err) {
		t.Errorf("https to an http server: %v", err)
	}

	// A server that is gone: unavailable.
	srv.Close()
	if _, err := c.Resolve(host + "/acme/shop:v1"); !isUnavailable(err) {
		t.Errorf("closed server: %v", err)
	}
}
