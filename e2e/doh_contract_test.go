package e2e

// Contract tests of package doh (natively) against a DoH resolver whose
// DNS messages are packed and unpacked by github.com/miekg/dns
// (e2e/dohserver): another implementation's wire format, compression
// included, over real HTTPS on loopback. They need no .wasm.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/spinport/spinport/doh"
	"github.com/spinport/spinport/e2e/dohserver"
)

func dohClient(s *dohserver.Server) *doh.Client {
	hc := s.Client()
	hc.Timeout = 10 * time.Second
	return &doh.Client{URL: s.URL, HTTP: hc}
}

func dohNotFound(err error) *doh.NotFoundError {
	var e *doh.NotFoundError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func dohUnavailable(err error) bool {
	u, ok := err.(interface{ Unavailable() bool })
	return ok && u.Unavailable()
}

func TestDoHContractTXT(t *testing.T) {
	s := dohserver.Start(t)
	c := dohClient(s)
	const name = "_spinport-challenge.app.customer.example"
	long := "spinport-verify=" + strings.Repeat("k", 300) // published as two strings

	s.SetA("app.customer.example", "192.0.2.7")
	s.SetTXT(name, "spinport-verify=abc", long)
	got, err := c.LookupTXT("_SPINPORT-challenge.App.Customer.example.")
	if err != nil || len(got) != 2 || got[0] != "spinport-verify=abc" || got[1] != long {
		t.Fatalf("present: LookupTXT = %q, %v", got, err)
	}
	q := s.Queries()
	if len(q) != 1 || q[0].Method != http.MethodPost || q[0].Type != dns.TypeTXT || q[0].Name != name+"." || !q[0].EDNS {
		t.Errorf("the server saw %+v", q)
	}

	s.SetTXTStrings(name, []string{"spinport-", "verify=", "split"})
	if got, err := c.LookupTXT(name); err != nil || len(got) != 1 || got[0] != "spinport-verify=split" {
		t.Errorf("changed: LookupTXT = %q, %v", got, err)
	}

	// Absent: the name still exists (an A record), so NODATA, not NXDOMAIN.
	s.Remove(name, dns.TypeTXT)
	s.SetA(name, "192.0.2.8")
	_, err = c.LookupTXT(name)
	if nf := dohNotFound(err); nf == nil || nf.NoSuchName || !doh.IsNotFound(err) || dohUnavailable(err) {
		t.Errorf("absent: err = %v; want NotFound without NoSuchName", err)
	}

	// An empty non-terminal exists too (RFC 8020): app.customer.example
	// has names below it.
	s.RemoveName("app.customer.example")
	_, err = c.LookupTXT("app.customer.example")
	if nf := dohNotFound(err); nf == nil || nf.NoSuchName {
		t.Errorf("empty non-terminal: err = %v; want NotFound without NoSuchName", err)
	}

	s.RemoveName(name)
	_, err = c.LookupTXT(name)
	if nf := dohNotFound(err); nf == nil || !nf.NoSuchName || dohUnavailable(err) {
		t.Errorf("NXDOMAIN: err = %v; want NotFound with NoSuchName", err)
	} else if !strings.Contains(err.Error(), "does not exist (NXDOMAIN)") {
		t.Errorf("NXDOMAIN message: %v", err)
	}
}

func TestDoHContractTXTThroughCNAME(t *testing.T) {
	s := dohserver.Start(t)
	c := dohClient(s)
	s.SetCNAME("_spinport-challenge.shop.example", "shop-example.challenges.dns.example")
	s.SetTXT("shop-example.challenges.dns.example", "delegated")
	if got, err := c.LookupTXT("_spinport-challenge.shop.example"); err != nil || len(got) != 1 || got[0] != "delegated" {
		t.Errorf("LookupTXT = %q, %v", got, err)
	}
}

func TestDoHContractHost(t *testing.T) {
	s := dohserver.Start(t)
	c := dohClient(s)
	s.SetCNAME("www.shop.example", "shop.example.net")
	s.SetCNAME("shop.example.net", "ingress.spinport.test")
	s.SetA("ingress.spinport.test", "192.0.2.10", "192.0.2.11")
	s.SetAAAA("ingress.spinport.test", "2001:db8::10")

	ans, err := c.LookupHost("WWW.Shop.Example")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ans.CNAMEs, " ") != "shop.example.net ingress.spinport.test" ||
		strings.Join(ans.Addrs, " ") != "192.0.2.10 192.0.2.11 2001:db8::10" {
		t.Errorf("LookupHost = %+v", ans)
	}

	// A name with addresses and no alias.
	s.SetA("apex.example", "198.51.100.1")
	if ans, err := c.LookupHost("apex.example"); err != nil || len(ans.CNAMEs) != 0 || strings.Join(ans.Addrs, " ") != "198.51.100.1" {
		t.Errorf("apex: %+v, %v", ans, err)
	}

	// The chain's end loses its addresses but keeps a record: NODATA.
	s.Remove("ingress.spinport.test", dns.TypeA)
	s.Remove("ingress.spinport.test", dns.TypeAAAA)
	s.SetTXT("ingress.spinport.test", "still here")
	ans, err = c.LookupHost("www.shop.example")
	nf := dohNotFound(err)
	if nf == nil || nf.NoSuchName || len(ans.CNAMEs) != 2 || len(ans.Addrs) != 0 {
		t.Errorf("chain without address: %+v, %v", ans, err)
	} else if !strings.Contains(err.Error(), "alias (CNAME) of shop.example.net -> ingress.spinport.test, which exists but has no A or AAAA record") {
		t.Errorf("chain without address message: %v", err)
	}

	// The chain's end does not exist at all: NXDOMAIN about the end.
	s.RemoveName("ingress.spinport.test")
	ans, err = c.LookupHost("www.shop.example")
	if nf := dohNotFound(err); nf == nil || !nf.NoSuchName || strings.Join(ans.CNAMEs, " ") != "shop.example.net ingress.spinport.test" {
		t.Errorf("chain to nowhere: %+v, %v", ans, err)
	}

	_, err = c.LookupHost("nothing.example")
	if nf := dohNotFound(err); nf == nil || !nf.NoSuchName {
		t.Errorf("NXDOMAIN: %v", err)
	}
}

func TestDoHContractUnavailable(t *testing.T) {
	s := dohserver.Start(t)
	c := dohClient(s)
	s.SetTXT("_spinport-challenge.app.example", "v")

	s.SetServFail(true)
	_, err := c.LookupTXT("_spinport-challenge.app.example")
	if !dohUnavailable(err) || doh.IsNotFound(err) || !strings.Contains(err.Error(), "SERVFAIL") || !strings.Contains(err.Error(), "EDE 22") {
		t.Errorf("SERVFAIL: err = %v; want unavailable, naming SERVFAIL and the EDE", err)
	}
	if _, err := c.LookupHost("_spinport-challenge.app.example"); !dohUnavailable(err) {
		t.Errorf("SERVFAIL LookupHost: err = %v", err)
	}
	s.SetServFail(false)

	s.SetHTTPStatus(http.StatusServiceUnavailable)
	_, err = c.LookupTXT("_spinport-challenge.app.example")
	if !dohUnavailable(err) || !strings.Contains(err.Error(), "HTTP 503") {
		t.Errorf("HTTP 503: err = %v", err)
	}
	s.SetHTTPStatus(0)

	if got, err := c.LookupTXT("_spinport-challenge.app.example"); err != nil || len(got) != 1 {
		t.Errorf("recovered: %q, %v", got, err)
	}

	// A URL that is not a DoH endpoint is a configuration error.
	bad := &doh.Client{URL: strings.TrimSuffix(s.URL, "/dns-query") + "/nope", HTTP: s.Client()}
	_, err = bad.LookupTXT("_spinport-challenge.app.example")
	if err == nil || dohUnavailable(err) || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("wrong path: err = %v; want a 404 that is not 'unavailable'", err)
	}

	s.Close()
	_, err = c.LookupTXT("_spinport-challenge.app.example")
	if !dohUnavailable(err) || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("server gone: err = %v", err)
	}
}

// The server's GET path, checked with miekg/dns as the client, so the
// server itself is known to speak both RFC 8484 methods.
func TestDoHServerGET(t *testing.T) {
	s := dohserver.Start(t)
	s.SetA("get.example", "192.0.2.99")
	m := new(dns.Msg)
	m.SetQuestion("get.example.", dns.TypeA)
	m.Id = 0 // RFC 8484 4.1: GET clients use ID 0
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client().Get(s.URL + "?dns=" + base64.RawURLEncoding.EncodeToString(wire))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 65536))
	if err != nil {
		t.Fatal(err)
	}
	var r dns.Msg
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != dohserver.ContentType || r.Unpack(body) != nil ||
		len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.99" {
		t.Errorf("GET: %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), r.String())
	}
	// miekg compressed the answer's owner name to a pointer to the
	// question (offset 12); the doh codec reads the same bytes.
	if !bytes.Contains(body, []byte{0xC0, 0x0C}) {
		t.Errorf("the answer uses no compression pointer: % x", body)
	}
	pm, err := doh.Parse(body)
	if err != nil || len(pm.Answers) != 1 || pm.Answers[0].Addr != "192.0.2.99" {
		t.Errorf("doh.Parse of the GET answer: %+v, %v", pm, err)
	}
}
