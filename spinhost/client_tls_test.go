package spinhost

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a throwaway CA that issues server and client certificates.
type testPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testPKI{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate for 127.0.0.1 (server) or a client, and its
// PEM certificate and key.
func (p *testPKI) issue(t *testing.T, cn string, client bool) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	if client {
		tmpl.ExtKeyUsage, tmpl.IPAddresses, tmpl.DNSNames = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPEM, keyPEM
}

// tlsUpstream is an HTTPS server with a certificate from pki; with
// clientCA set it requires a client certificate from that CA.
func tlsUpstream(t *testing.T, pki *testPKI, clientCA *testPKI) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := "anonymous"
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			who = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		w.Header().Set("X-Upstream", who)
		fmt.Fprintf(w, "tls %s", r.URL.Path)
	}))
	pair, _, _ := pki.issue(t, "upstream", false)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	if clientCA != nil {
		pool := x509.NewCertPool()
		pool.AddCert(clientCA.cert)
		srv.TLS.ClientAuth, srv.TLS.ClientCAs = tls.RequireAndVerifyClientCert, pool
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func outboundPath(u string) string { return "/outbound?url=" + url.QueryEscape(u) }

// A server whose CA is trusted only through [[client_tls]]: the guest's
// request fails without the entry and succeeds with it, for host:port and
// for a bare host, and only for the components and hosts listed.
func TestE2EClientTLSCustomRoots(t *testing.T) {
	pki, other := newTestPKI(t, "private-ca"), newTestPKI(t, "other-ca")
	srv := tlsUpstream(t, pki, nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	target := srv.URL + "/hello"

	run := func(name, rc string, files map[string][]byte) (*app, int, string) {
		t.Helper()
		a := newApp(t, appConfig{allowed: []string{srv.URL}, runtimeConfig: rc})
		for f, b := range files {
			writeFile(t, a.dir, f, string(b))
		}
		h := start(t, a.options())
		code, body := get(t, h, outboundPath(target))
		t.Logf("%s: %d %q", name, code, body)
		return a, code, body
	}
	entry := func(ids, hosts, extra string) string {
		return fmt.Sprintf("[[client_tls]]\ncomponent_ids = %s\nhosts = %s\n%s\n", ids, hosts, extra)
	}
	certs := map[string][]byte{"certs/ca.pem": pki.pem, "certs/other.pem": other.pem}

	// No client_tls: the private CA is not trusted.
	a, code, body := run("none", "", nil)
	if code != http.StatusBadGateway || !strings.Contains(body, "Runtime error") {
		t.Errorf("without client_tls: %d %q, want a runtime error", code, body)
	}
	if !strings.Contains(a.log.String(), "certificate") {
		t.Errorf("the TLS failure is not logged:\n%s", a.log.String())
	}

	ok := []struct{ name, rc string }{
		{"host:port", entry(`["guest"]`, fmt.Sprintf(`["127.0.0.1:%d"]`, port), `ca_roots_file = "certs/ca.pem"`)},
		{"bare host", entry(`["guest"]`, `["127.0.0.1"]`, `ca_roots_file = "certs/ca.pem"`)},
		{"webpki roots too", entry(`["guest"]`, `["127.0.0.1"]`, "ca_roots_file = \"certs/ca.pem\"\nca_use_webpki_roots = true")},
		{"first entry wins", entry(`["guest"]`, `["127.0.0.1"]`, `ca_roots_file = "certs/ca.pem"`) +
			entry(`["guest"]`, `["127.0.0.1"]`, `ca_roots_file = "certs/other.pem"`)},
		{"absolute path", entry(`["guest"]`, `["127.0.0.1"]`, "ca_roots_file = %ABS%")},
	}
	for _, c := range ok {
		rc := c.rc
		if strings.Contains(rc, "%ABS%") {
			p := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(p, pki.pem, 0o644); err != nil {
				t.Fatal(err)
			}
			rc = strings.ReplaceAll(rc, "%ABS%", fmt.Sprintf("%q", p))
		}
		if _, code, body := run(c.name, rc, certs); code != http.StatusOK || body != "200 anonymous tls /hello" {
			t.Errorf("%s: %d %q", c.name, code, body)
		}
	}

	refused := []struct{ name, rc, log string }{
		{"other component", entry(`["someone-else"]`, `["127.0.0.1"]`, `ca_roots_file = "certs/ca.pem"`), `names component "someone-else"`},
		{"other port", entry(`["guest"]`, fmt.Sprintf(`["127.0.0.1:%d"]`, port+1), `ca_roots_file = "certs/ca.pem"`), ""},
		{"other host", entry(`["guest"]`, `["localhost"]`, `ca_roots_file = "certs/ca.pem"`), ""},
		{"wrong CA", entry(`["guest"]`, `["127.0.0.1"]`, `ca_roots_file = "certs/other.pem"`), ""},
		{"first entry wins (wrong CA first)", entry(`["guest"]`, fmt.Sprintf(`["127.0.0.1:%d"]`, port), `ca_roots_file = "certs/other.pem"`) +
			entry(`["guest"]`, `["127.0.0.1"]`, `ca_roots_file = "certs/ca.pem"`), ""},
		{"webpki only", entry(`["guest"]`, `["127.0.0.1"]`, ""), ""},
	}
	for _, c := range refused {
		a, code, body := run(c.name, c.rc, certs)
		if code != http.StatusBadGateway || !strings.Contains(body, "Runtime error") {
			t.Errorf("%s: %d %q, want a runtime error", c.name, code, body)
		}
		if c.log != "" && !strings.Contains(a.log.String(), c.log) {
			t.Errorf("%s: log lacks %q:\n%s", c.name, c.log, a.log.String())
		}
	}
}

// Mutual TLS: client_cert_file and client_private_key_file are presented
// to the hosts of the entry.
func TestE2EClientTLSClientCertificate(t *testing.T) {
	serverCA, clientCA := newTestPKI(t, "server-ca"), newTestPKI(t, "client-ca")
	srv := tlsUpstream(t, serverCA, clientCA)
	_, certPEM, keyPEM := clientCA.issue(t, "spin-guest", true)
	files := map[string]string{"tls/ca.pem": string(serverCA.pem), "tls/client.crt": string(certPEM), "tls/client.key": string(keyPEM)}
	for _, c := range []struct {
		name, extra string
		want        int
		body        string
	}{
		{"with client certificate", "client_cert_file = \"tls/client.crt\"\nclient_private_key_file = \"tls/client.key\"", 200, "200 spin-guest tls /mtls"},
		{"without", "", http.StatusBadGateway, "Runtime error"},
	} {
		rc := "[[client_tls]]\ncomponent_ids = [\"guest\"]\nhosts = [\"127.0.0.1\"]\nca_roots_file = \"tls/ca.pem\"\n" + c.extra + "\n"
		a := newApp(t, appConfig{allowed: []string{srv.URL}, runtimeConfig: rc})
		for f, b := range files {
			writeFile(t, a.dir, f, b)
		}
		h := start(t, a.options())
		code, body := get(t, h, outboundPath(srv.URL+"/mtls"))
		if code != c.want || !strings.Contains(body, c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, body, c.want, c.body)
		}
	}
}

func TestRuntimeConfigClientTLS(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, "ca")
	_, certPEM, keyPEM := pki.issue(t, "client", true)
	writeFile(t, dir, "ca.pem", string(pki.pem))
	writeFile(t, dir, "client.crt", string(certPEM))
	writeFile(t, dir, "client.key", string(keyPEM))
	writeFile(t, dir, "junk.pem", "not a certificate\n")

	path := writeFile(t, dir, "rc.toml", `
[[client_tls]]
component_ids = ["spinport", "other-1"]
hosts = ["Kubernetes.Default.svc", "127.0.0.1:16443", "[::1]:443", "[::1]"]

[[client_tls]]
component_ids = ["spinport"]
hosts = ["example.com"]
ca_roots_file = "ca.pem"

[[client_tls]]
component_ids = ["spinport"]
hosts = ["example.org"]
ca_use_webpki_roots = true
ca_roots_file = "ca.pem"
client_cert_file = "client.crt"
client_private_key_file = "client.key"
`)
	rc, err := LoadRuntimeConfig(path, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Warnings) != 0 {
		t.Errorf("warnings: %v", rc.Warnings)
	}
	if len(rc.ClientTLS) != 3 {
		t.Fatalf("client_tls = %+v", rc.ClientTLS)
	}
	c0, c1, c2 := rc.ClientTLS[0], rc.ClientTLS[1], rc.ClientTLS[2]
	if strings.Join(c0.ComponentIDs, ",") != "spinport,other-1" ||
		strings.Join(c0.Hosts, ",") != "kubernetes.default.svc,127.0.0.1:16443,[::1]:443,::1" {
		t.Errorf("entry 0: %+v", c0)
	}
	// ca_use_webpki_roots defaults to true without ca_roots_file, false with it.
	if !c0.UseWebPKIRoots || c1.UseWebPKIRoots || !c2.UseWebPKIRoots {
		t.Errorf("UseWebPKIRoots = %v %v %v, want true false true", c0.UseWebPKIRoots, c1.UseWebPKIRoots, c2.UseWebPKIRoots)
	}
	if c1.CARootsFile != filepath.Join(dir, "ca.pem") || len(c1.roots) != 1 {
		t.Errorf("entry 1 roots: %q %d", c1.CARootsFile, len(c1.roots))
	}
	if c2.clientCert == nil || c1.clientCert != nil {
		t.Errorf("client certificates: %v %v", c1.clientCert != nil, c2.clientCert != nil)
	}

	cases := map[string]string{
		"[[client_tls]]\nhosts = [\"a\"]":                                                                                                   "missing field `component_ids`",
		"[[client_tls]]\ncomponent_ids = [\"x\"]":                                                                                           "missing field `hosts`",
		"[[client_tls]]\ncomponent_ids = []\nhosts = [\"a\"]":                                                                               "'component_ids' list may not be empty",
		"[[client_tls]]\ncomponent_ids = [\"x\"]\nhosts = []":                                                                               "'hosts' list may not be empty",
		"[[client_tls]]\ncomponent_ids = [\"Bad_Id\"]\nhosts = [\"a\"]":                                                                     "kebab-case",
		"[[client_tls]]\ncomponent_ids = [\"x\"]\nhosts = [\"https://a\"]":                                                                  "invalid TLS 'host'",
		"[[client_tls]]\ncomponent_ids = [\"x\"]\nhosts = [\"a:99999\"]":                                                                    "invalid port",
		"[[client_tls]]\ncomponent_ids = [\"x\"]\nhosts = [\"::1\"]":                                                                        "need brackets",
		"[[client_tls]]\ncomponent_ids = [\"x\"]\nhosts = [\"a\"]\nca_root_file = \"x\"":                                                    `unknown field "ca_root_file"`,
		"[[client_tls]]\ncomponent_ids = [\"x\"]\nhosts = [\"a\"]\nca_roots_file = \"missing.pem\"":                                         "failed to load certificate(s)",
		"[[client_tls]]\ncomponent_ids = [\"x\"]\nhosts = [\"a\"]\nca_roots_file = \"junk.pem\"":                                            "no PEM CERTIFICATE block",
		"[[client_tls]]\ncomponent_ids = [\"x\"]\nhosts = [\"a\"]\nclient_cert_file = \"client.crt\"":                                       "client_cert_file specified without client_private_key_file",
		"[[client_tls]]\ncomponent_ids = [\"x\"]\nhosts = [\"a\"]\nclient_private_key_file = \"client.key\"":                                "client_private_key_file specified without client_cert_file",
		"[[client_tls]]\ncomponent_ids = [\"x\"]\nhosts = [\"a\"]\nclient_cert_file = \"ca.pem\"\nclient_private_key_file = \"client.key\"": "failed to load the client certificate",
		"[[client_tls]]\ncomponent_ids = [\"x\"]\nhosts = [\"a\"]\nca_use_webpki_roots = \"yes\"":                                           "must be true or false",
		"client_tls = 3": "array of tables",
	}
	for text, want := range cases {
		p := writeFile(t, dir, "bad.toml", text)
		_, err := LoadRuntimeConfig(p, dir, "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", text, err, want)
		}
	}
}
