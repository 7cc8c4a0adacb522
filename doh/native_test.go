//go:build !tinygo

package doh

// Native-only tests: a Go fuzz target, a comparison with net/netip, and
// the client over real HTTPS (httptest needs sockets, which the WASI test
// runner does not have).

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// FuzzParse: `go test -fuzz FuzzParse ./doh` explores further; the seed
// corpus runs with every `go test`.
func FuzzParse(f *testing.F) {
	w, _ := richResponse()
	f.Add(w.b)
	q, _ := Query{ID: 1, Name: "a.example.com", Type: TypeA, EDNS0: true}.Pack()
	f.Add(q)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if (m == nil) == (err == nil) {
			t.Fatalf("Parse gave %v and %v", m, err)
		}
	})
}

func TestFormatIPv6LikeNetip(t *testing.T) {
	rng := xorshift(42)
	for i := 0; i < 20000; i++ {
		var b [16]byte
		for k := range b {
			// Mostly zero groups, where the "::" rules matter.
			if rng.intn(3) == 0 {
				b[k] = byte(rng.next())
			}
		}
		if i%7 == 0 {
			b = [16]byte{10: 0xff, 11: 0xff, 12: byte(i), 13: 1, 14: 2, 15: 3}
		}
		if got, want := formatIPv6(b[:]), netip.AddrFrom16(b).String(); got != want {
			t.Fatalf("formatIPv6(% x) = %q, netip says %q", b, got, want)
		}
	}
}

func TestClientOverHTTPS(t *testing.T) {
	f := newFakeResolver()
	f.txt["_spinport-challenge.app.example.com"] = [][]string{{"spinport-verify=", "abc"}}
	srv := httptest.NewTLSServer(f)
	defer srv.Close()
	c := &Client{URL: srv.URL + "/dns-query", HTTP: srv.Client()}
	got, err := c.LookupTXT("_spinport-challenge.app.example.com")
	if err != nil || len(got) != 1 || got[0] != "spinport-verify=abc" {
		t.Errorf("LookupTXT = %q, %v", got, err)
	}
}

// TestClientTimeout: a resolver that never answers, behind a Doer with a
// timeout, is unavailable (a 503 upstream), not a refusal.
func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	hc := srv.Client()
	hc.Timeout = 100 * time.Millisecond
	c := &Client{URL: srv.URL + "/dns-query", HTTP: hc}
	_, err := c.LookupTXT("app.example.com")
	if !unavailable(err) || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("err = %v; want unavailable", err)
	}
}
