package spinhost

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
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

// writeBundle writes the PEM certificates of cas to a temp file.
func writeBundle(t *testing.T, cas ...*testPKI) string {
	t.Helper()
	var b []byte
	for _, ca := range cas {
		b = append(b, ca.pem...)
	}
	p := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// [[client_tls]] is parsed (and checked) but, as in Spin, not applied to
// Spin 1 outbound HTTP: neither its roots nor its client certificate are
// used, and the host says so once at startup.
func TestE2EClientTLSNotApplied(t *testing.T) {
	pki, clientCA := newTestPKI(t, "private-ca"), newTestPKI(t, "client-ca")
	srv := tlsUpstream(t, pki, nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	_, certPEM, keyPEM := clientCA.issue(t, "spin-guest", true)
	files := map[string]string{"certs/ca.pem": string(pki.pem), "certs/client.crt": string(certPEM), "certs/client.key": string(keyPEM)}
	rc := fmt.Sprintf(`[[client_tls]]
component_ids = ["guest"]
hosts = ["127.0.0.1"]
ca_roots_file = "certs/ca.pem"

[[client_tls]]
component_ids = ["guest"]
hosts = ["127.0.0.1:%d"]
ca_roots_file = "certs/ca.pem"
`, port)
	a := newApp(t, appConfig{allowed: []string{srv.URL}, runtimeConfig: rc})
	for f, b := range files {
		writeFile(t, a.dir, f, b)
	}
	h := start(t, a.options())
	for i := 0; i < 2; i++ {
		code, body := get(t, h, outboundPath(srv.URL+"/hello"))
		if code != http.StatusBadGateway || !strings.Contains(body, "Runtime error") {
			t.Errorf("request %d: %d %q, want a runtime error (client_tls is not applied)", i, code, body)
		}
	}
	logs := a.log.String()
	if n := strings.Count(logs, "[[client_tls]] (2 entries) is not applied to Spin 1 outbound HTTP"); n != 1 {
		t.Errorf("the client_tls warning is logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, "certificate") {
		t.Errorf("the TLS failure is not logged:\n%s", logs)
	}

	// Trusted through the CA bundle instead, a server that requires a
	// client certificate still refuses: client_tls's is not presented.
	mtls := tlsUpstream(t, pki, clientCA)
	rc = "[[client_tls]]\ncomponent_ids = [\"guest\"]\nhosts = [\"127.0.0.1\"]\nca_roots_file = \"certs/ca.pem\"\nclient_cert_file = \"certs/client.crt\"\nclient_private_key_file = \"certs/client.key\"\n"
	a = newApp(t, appConfig{allowed: []string{mtls.URL, srv.URL}, runtimeConfig: rc})
	for f, b := range files {
		writeFile(t, a.dir, f, b)
	}
	opts := a.options()
	opts.CABundleFile = writeBundle(t, pki)
	h = start(t, opts)
	expect(t, h, outboundPath(srv.URL+"/hello"), "200 anonymous tls /hello")
	if code, body := get(t, h, outboundPath(mtls.URL+"/mtls")); code != http.StatusBadGateway || !strings.Contains(body, "Runtime error") {
		t.Errorf("mTLS server: %d %q, want a runtime error (no client certificate)", code, body)
	}
}

// Options.CABundleFile replaces the system roots for outbound HTTPS, as
// SSL_CERT_FILE (or SpinKube's caCertSecret) does for Spin.
func TestE2ECABundle(t *testing.T) {
	pki, other := newTestPKI(t, "private-ca"), newTestPKI(t, "other-ca")
	srv := tlsUpstream(t, pki, nil)
	plain := newUpstream(t)
	target := outboundPath(srv.URL + "/hello")

	run := func(name string, bundle string) (*app, int, string) {
		t.Helper()
		a := newApp(t, appConfig{allowed: []string{srv.URL, plain.URL}})
		opts := a.options()
		opts.CABundleFile = bundle
		h := start(t, opts)
		code, body := get(t, h, target)
		t.Logf("%s: %d %q", name, code, body)
		// Plain HTTP is unaffected either way.
		expect(t, h, outboundPath(plain.URL+"/plain"), "202 yes GET /plain")
		return a, code, body
	}

	// The system roots do not have the private CA.
	if _, code, body := run("system roots", ""); code != http.StatusBadGateway || !strings.Contains(body, "Runtime error") {
		t.Errorf("system roots: %d %q, want a runtime error", code, body)
	}
	// A bundle with the private CA (alone, or among others) is trusted.
	a, code, body := run("bundle", writeBundle(t, pki))
	if code != http.StatusOK || body != "200 anonymous tls /hello" {
		t.Errorf("bundle: %d %q", code, body)
	}
	if !strings.Contains(a.log.String(), "Trusting the 1 CA certificates of") {
		t.Errorf("the bundle is not logged:\n%s", a.log.String())
	}
	if _, code, body := run("bundle of two", writeBundle(t, other, pki)); code != http.StatusOK || body != "200 anonymous tls /hello" {
		t.Errorf("bundle of two: %d %q", code, body)
	}
	// The bundle replaces the roots: one without the CA is not trusted.
	if _, code, body := run("other CA", writeBundle(t, other)); code != http.StatusBadGateway || !strings.Contains(body, "Runtime error") {
		t.Errorf("other CA: %d %q, want a runtime error", code, body)
	}

	// A bundle that cannot be read, or holds no certificate, stops startup.
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{junk, filepath.Join(t.TempDir(), "missing.pem")} {
		a := newApp(t, appConfig{})
		opts := a.options()
		opts.CABundleFile = bad
		if _, err := New(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "CA bundle") {
			t.Errorf("CABundleFile %s: error %v", bad, err)
		}
	}
}

// rediss:// (outbound Redis) trusts the same roots: a TLS server speaking
// just enough RESP to answer INCRBY.
func TestE2ECABundleRediss(t *testing.T) {
	pki := newTestPKI(t, "redis-ca")
	pair, _, _ := pki.issue(t, "redis", false)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err == nil {
					c.Write([]byte(":7\r\n"))
				}
			}()
		}
	}()
	addr := "rediss://" + l.Addr().String()
	for _, c := range []struct {
		name, bundle, want string
	}{{"system roots", "", "redis:"}, {"bundle", writeBundle(t, pki), "7"}} {
		a := newApp(t, appConfig{allowed: []string{addr}})
		opts := a.options()
		opts.CABundleFile = c.bundle
		h := start(t, opts)
		code, body := get(t, h, "/redis/incr?addr="+url.QueryEscape(addr)+"&key=k")
		if !strings.Contains(body, c.want) || (c.want == "7") != (code == http.StatusOK) {
			t.Errorf("%s: %d %q, want %q", c.name, code, body, c.want)
		}
	}

	// The Redis key-value store's client gets the same roots.
	pool := x509.NewCertPool()
	pool.AddCert(pki.cert)
	b, err := newRedisKV(addr, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.client.Options().TLSConfig; got == nil || got.RootCAs != pool {
		t.Errorf("the key-value store's TLS config does not use the CA bundle: %+v", got)
	}
}

// The CLI: -ca-bundle, and SSL_CERT_FILE, which Go's system roots honour
// on Linux (as OpenSSL does for Spin).
func TestCLICABundleAndSSLCertFile(t *testing.T) {
	needGuest(t)
	if runtime.GOOS != "linux" {
		t.Skip("SSL_CERT_FILE is read by crypto/x509 on Linux and other Unix systems")
	}
	bin := buildCLI(t)
	pki := newTestPKI(t, "private-ca")
	srv := tlsUpstream(t, pki, nil)
	bundle := writeBundle(t, pki)
	a := newApp(t, appConfig{allowed: []string{srv.URL}})
	clean := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"system roots", nil, nil, "Runtime error"},
		{"-ca-bundle", nil, []string{"-ca-bundle", bundle}, "200 anonymous tls /cli"},
		{"SSL_CERT_FILE", []string{"SSL_CERT_FILE=" + bundle}, nil, "200 anonymous tls /cli"},
	} {
		args := append([]string{"--manifest", a.manifest, "--listen", "127.0.0.1:0", "--cache-dir", wazeroCache}, c.args...)
		base := startCLI(t, bin, append(clean, c.env...), args...)
		res, err := http.Get(base + outboundPath(srv.URL+"/cli"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(body), c.want) {
			t.Errorf("%s: %d %q, want %q", c.name, res.StatusCode, body, c.want)
		}
	}
}

// startCLI runs the spinhost binary until the test ends and returns the
// URL it serves, read from its startup log.
func startCLI(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	var logged strings.Builder
	serving := regexp.MustCompile(`Serving (http://127\.0\.0\.1:\d+)`)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		logged.WriteString(sc.Text() + "\n")
		if m := serving.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stderr) // keep the pipe drained
			return m[1]
		}
	}
	t.Fatalf("spinhost %v did not serve:\n%s", args, logged.String())
	return ""
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
