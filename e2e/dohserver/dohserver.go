// Package dohserver serves DNS over HTTPS (RFC 8484) on loopback for
// contract tests of spinport's doh package. The DNS side is real: queries
// are unpacked and answers packed (with name compression) by
// github.com/miekg/dns v1.1.62, the DNS library CoreDNS is built on, so
// the codec in doh/ is checked against another implementation's wire
// format rather than against itself.
//
// It answers like a recursive resolver that knows one in-memory zone of
// everything: CNAME chains are followed inside the answer, a name that
// has no records and no names below it is NXDOMAIN (with an SOA in the
// authority section), a name that exists without the asked-for type is
// NODATA. Records can change while the server runs. SetServFail and
// SetHTTPStatus make it fail the way resolvers fail.
//
// Both RFC 8484 methods are served: POST with an application/dns-message
// body and GET with ?dns=<base64url>.
package dohserver

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// ContentType is the RFC 8484 media type.
const ContentType = "application/dns-message"

// TTL is the TTL of every record served (the server has no cache, so it
// only shows up in answers).
const TTL = 60

// Server is a DoH resolver on 127.0.0.1 with a self-signed certificate.
// Its methods are safe for concurrent use.
type Server struct {
	// URL is the DoH endpoint: https://127.0.0.1:<port>/dns-query.
	URL string

	srv *httptest.Server

	mu         sync.Mutex
	records    map[string][]dns.RR // owner (lower-case FQDN) -> records
	servFail   bool
	httpStatus int
	queries    []Query
}

// Query is one question the server received.
type Query struct {
	Method string // POST or GET
	Name   string // as asked (case preserved), FQDN with the trailing dot
	Type   uint16
	EDNS   bool // the query carried an OPT record
}

// Start serves on loopback until the test ends (tb.Cleanup closes it).
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{records: map[string][]dns.RR{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/dns-query", s.serveDoH)
	s.srv = httptest.NewTLSServer(mux) // listens on 127.0.0.1
	s.URL = s.srv.URL + "/dns-query"
	tb.Cleanup(s.Close)
	return s
}

// Client returns an *http.Client that trusts the server's certificate
// (and nothing else): a doh.Doer.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close stops the server; later lookups fail like an unreachable
// resolver. Calling it twice is fine.
func (s *Server) Close() { s.srv.Close() }

// SetTXT replaces the TXT records of name, one record per value. A value
// longer than 255 bytes is split into several character-strings, as DNS
// providers do: a reader must join them.
func (s *Server) SetTXT(name string, values ...string) {
	var rrs []dns.RR
	for _, v := range values {
		rrs = append(rrs, &dns.TXT{Hdr: s.hdr(name, dns.TypeTXT), Txt: split255(v)})
	}
	s.set(name, dns.TypeTXT, rrs)
}

// SetTXTStrings replaces the TXT records of name with records made of
// exactly the given character-strings (each at most 255 bytes).
func (s *Server) SetTXTStrings(name string, records ...[]string) {
	var rrs []dns.RR
	for _, strs := range records {
		rrs = append(rrs, &dns.TXT{Hdr: s.hdr(name, dns.TypeTXT), Txt: append([]string(nil), strs...)})
	}
	s.set(name, dns.TypeTXT, rrs)
}

// SetA replaces the A records of name. It panics on an address that is
// not IPv4: a mistake in the test.
func (s *Server) SetA(name string, addrs ...string) {
	var rrs []dns.RR
	for _, a := range addrs {
		ip := net.ParseIP(a).To4()
		if ip == nil {
			panic("dohserver: SetA: not an IPv4 address: " + a)
		}
		rrs = append(rrs, &dns.A{Hdr: s.hdr(name, dns.TypeA), A: ip})
	}
	s.set(name, dns.TypeA, rrs)
}

// SetAAAA replaces the AAAA records of name. It panics on an address that
// is not IPv6.
func (s *Server) SetAAAA(name string, addrs ...string) {
	var rrs []dns.RR
	for _, a := range addrs {
		ip := net.ParseIP(a)
		if ip == nil || ip.To4() != nil {
			panic("dohserver: SetAAAA: not an IPv6 address: " + a)
		}
		rrs = append(rrs, &dns.AAAA{Hdr: s.hdr(name, dns.TypeAAAA), AAAA: ip})
	}
	s.set(name, dns.TypeAAAA, rrs)
}

// SetCNAME makes name an alias of target. A CNAME cannot share its name
// with other data (RFC 1034 3.6.2): the name's other records go, as they
// would at a DNS provider; setting other records at name later removes
// the CNAME.
func (s *Server) SetCNAME(name, target string) {
	rr := &dns.CNAME{Hdr: s.hdr(name, dns.TypeCNAME), Target: fqdn(target)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[fqdn(name)] = []dns.RR{rr}
}

// Remove deletes the records of one type at name (dns.TypeTXT, TypeA,
// TypeAAAA, TypeCNAME).
func (s *Server) Remove(name string, rrtype uint16) { s.set(name, rrtype, nil) }

// RemoveName deletes every record at name.
func (s *Server) RemoveName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, fqdn(name))
}

// SetServFail makes every answer SERVFAIL (with an Extended DNS Error
// "No Reachable Authority" when the query had EDNS), as a resolver
// answers when a domain's name servers are down.
func (s *Server) SetServFail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servFail = on
}

// SetHTTPStatus makes every request answer this HTTP status with a text
// body instead of DNS (0 restores normal answers).
func (s *Server) SetHTTPStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.httpStatus = status
}

// Queries returns the questions received so far.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

func fqdn(name string) string { return strings.ToLower(dns.Fqdn(name)) }

func (s *Server) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: fqdn(name), Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
}

func (s *Server) set(name string, t uint16, rrs []dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := fqdn(name)
	var keep []dns.RR
	for _, rr := range s.records[owner] {
		if h := rr.Header().Rrtype; h != t && h != dns.TypeCNAME {
			keep = append(keep, rr)
		}
	}
	keep = append(keep, rrs...)
	if len(keep) == 0 {
		delete(s.records, owner)
		return
	}
	s.records[owner] = keep
}

func split255(v string) []string {
	if v == "" {
		return []string{""}
	}
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}

// exists: the name has records, or names below it do (an empty
// non-terminal is NODATA, not NXDOMAIN: RFC 8020). Called with s.mu held.
func (s *Server) exists(owner string) bool {
	if len(s.records[owner]) > 0 {
		return true
	}
	for n := range s.records {
		if strings.HasSuffix(n, "."+owner) {
			return true
		}
	}
	return false
}

func (s *Server) serveDoH(w http.ResponseWriter, r *http.Request) {
	var wire []byte
	switch r.Method {
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); ct != ContentType {
			http.Error(w, "POST needs Content-Type "+ContentType+", got "+ct, http.StatusUnsupportedMediaType)
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, 65536))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		wire = b
	case http.MethodGet:
		b, err := base64.RawURLEncoding.DecodeString(r.URL.Query().Get("dns"))
		if err != nil || len(b) == 0 {
			http.Error(w, "GET needs ?dns=<base64url DNS message>", http.StatusBadRequest)
			return
		}
		wire = b
	default:
		http.Error(w, "POST or GET", http.StatusMethodNotAllowed)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpStatus != 0 {
		http.Error(w, "dohserver: answering "+http.StatusText(s.httpStatus)+" as told", s.httpStatus)
		return
	}
	q := new(dns.Msg)
	if err := q.Unpack(wire); err != nil || len(q.Question) != 1 || q.Response || q.Opcode != dns.OpcodeQuery {
		http.Error(w, fmt.Sprintf("not a DNS query with one question: %v", err), http.StatusBadRequest)
		return
	}
	opt := q.IsEdns0()
	s.queries = append(s.queries, Query{Method: r.Method, Name: q.Question[0].Name, Type: q.Question[0].Qtype, EDNS: opt != nil})

	resp := s.answer(q)
	if opt != nil {
		resp.SetEdns0(1232, false)
		if resp.Rcode == dns.RcodeServerFailure {
			o := resp.IsEdns0()
			o.Option = append(o.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNoReachableAuthority, ExtraText: "dohserver: SERVFAIL as told"})
		}
	}
	resp.Compress = true
	out, err := resp.Pack()
	if err != nil {
		http.Error(w, "packing the answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d", TTL))
	w.Write(out)
}

// answer builds the reply to q. Called with s.mu held.
func (s *Server) answer(q *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(q) // echoes the question as asked, case included
	resp.RecursionAvailable = true
	if s.servFail {
		resp.Rcode = dns.RcodeServerFailure
		return resp
	}
	qt := q.Question[0].Qtype
	cur := fqdn(q.Question[0].Name)
	seen := map[string]bool{cur: true}
	for qt != dns.TypeCNAME {
		var next string
		for _, rr := range s.records[cur] {
			if c, ok := rr.(*dns.CNAME); ok {
				resp.Answer = append(resp.Answer, dns.Copy(c))
				next = c.Target
			}
		}
		if next == "" {
			break
		}
		if seen[next] {
			// A real resolver gives up on a loop with SERVFAIL.
			resp.Answer = nil
			resp.Rcode = dns.RcodeServerFailure
			return resp
		}
		seen[next] = true
		cur = next
	}
	found := false
	for _, rr := range s.records[cur] {
		if rr.Header().Rrtype == qt {
			resp.Answer = append(resp.Answer, dns.Copy(rr))
			found = true
		}
	}
	if !found {
		if !s.exists(cur) {
			resp.Rcode = dns.RcodeNameError
		}
		resp.Ns = []dns.RR{soa(cur)}
	}
	return resp
}

// soa is the negative-answer SOA (RFC 2308) of the zone a name is in,
// taken here as its last two labels.
func soa(name string) dns.RR {
	labels := dns.SplitDomainName(name)
	zone := "."
	if n := len(labels); n >= 2 {
		zone = labels[n-2] + "." + labels[n-1] + "."
	} else if n == 1 {
		zone = labels[0] + "."
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: TTL},
		Ns:      "ns1." + zone,
		Mbox:    "hostmaster." + zone,
		Serial:  1,
		Refresh: 7200, Retry: 900, Expire: 1209600, Minttl: TTL,
	}
}

// Certificate is the server's self-signed certificate, for the CA bundle
// of a host that must trust the resolver.
func (s *Server) Certificate() *x509.Certificate { return s.srv.Certificate() }

// Origin is the scheme://host:port of URL (what allowed_outbound_hosts and
// spinport's doh_resolver take).
func (s *Server) Origin() string { return strings.TrimSuffix(s.URL, "/dns-query") }
