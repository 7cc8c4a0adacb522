package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// caBundle writes a PEM file of the CA file base (if any) and certs, for a
// host that must trust loopback TLS servers (hostOptions.CABundle, or the
// caFile of startClusterHost).
func caBundle(tb testing.TB, base string, certs ...*x509.Certificate) string {
	tb.Helper()
	var b []byte
	if base != "" {
		var err error
		if b, err = os.ReadFile(base); err != nil {
			tb.Fatal(err)
		}
	}
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	path := filepath.Join(tb.TempDir(), "ca.crt")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// buildCLI builds cmd/spinportctl for a test and returns its path.
func buildCLI(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "spinportctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/spinportctl").CombinedOutput(); err != nil {
		tb.Fatalf("go build ../cmd/spinportctl: %v\n%s", err, out)
	}
	return bin
}
