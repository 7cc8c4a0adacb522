package doh

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ContentType is the media type of DNS messages over HTTPS (RFC 8484 6).
const ContentType = "application/dns-message"

const (
	// maxMessage is the largest DNS message (a 16-bit length, RFC 8484
	// 6); a longer body is not a DNS answer.
	maxMessage = 65535

	// maxChain bounds the CNAME chain followed in one answer. Resolvers
	// give up on much shorter chains (BIND at 17 hops); loops are caught
	// before this by remembering the names seen.
	maxChain = 16

	maxErrorText = 200
)

// Doer sends one HTTP request. *http.Client satisfies it natively; in the
// .wasm use the Spin SDK's outbound HTTP client (spinhttp.NewClient()),
// with the resolver's host in the component's allowed_outbound_hosts.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client looks names up at one DNS-over-HTTPS resolver (RFC 8484). Spin
// components have outbound HTTP but no UDP or TCP sockets, so this is the
// only way they can ask DNS. It keeps no state between calls; a Client is
// safe for concurrent use if HTTP is.
//
// Answers come from the resolver's cache: a record added a moment ago may
// be shadowed by a cached "does not exist" for the zone's negative TTL
// (the SOA minimum, often 5 minutes to an hour).
type Client struct {
	// URL is the resolver's DoH endpoint, https://host[:port]/path, e.g.
	// https://1.1.1.1/dns-query or https://dns.google/dns-query. http://
	// is accepted for resolvers on loopback or inside a cluster.
	URL string
	// HTTP sends the query. A bound on the exchange is the Doer's own
	// (natively an http.Client's Timeout): Spin's outbound HTTP does not
	// look at request contexts, and a context with a deadline starts a
	// goroutine, which the component (TinyGo -scheduler=none) cannot.
	HTTP Doer
}

// Answer is what LookupHost found.
type Answer struct {
	// CNAMEs is the alias chain from the name asked for, in order: the
	// name is an alias of CNAMEs[0], which is an alias of CNAMEs[1], ...
	// Empty when the name is not an alias. Lower-cased, no trailing dot.
	CNAMEs []string
	// Addrs are the A then AAAA addresses of the end of the chain, in the
	// order the resolver gave them ("192.0.2.1", "2001:db8::1").
	Addrs []string
}

// NotFoundError means the resolver answered, and the record is not there:
// the name does not exist (NXDOMAIN, NoSuchName) or it exists but has no
// record of the types asked for (NODATA). Either way the fix is on the
// domain's side: add the record at its DNS provider.
type NotFoundError struct {
	Name  string // the name asked for, canonical
	Types []Type // what was asked for: TXT, or A and AAAA
	// NoSuchName: the resolver answered NXDOMAIN for Name or, when it is
	// an alias, for the end of its CNAME chain.
	NoSuchName bool
	CNAMEs     []string // the alias chain, when Name is an alias
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	b.WriteString("doh: ")
	b.WriteString(e.Name)
	if len(e.CNAMEs) > 0 {
		b.WriteString(" is an alias (CNAME) of ")
		b.WriteString(strings.Join(e.CNAMEs, " -> "))
		b.WriteString(", which")
	}
	kinds := make([]string, len(e.Types))
	for i, t := range e.Types {
		kinds[i] = t.String()
	}
	what := strings.Join(kinds, " or ")
	if e.NoSuchName {
		b.WriteString(" does not exist (NXDOMAIN): create its ")
		b.WriteString(what)
		b.WriteString(" record at the domain's DNS provider")
	} else {
		b.WriteString(" exists but has no ")
		b.WriteString(what)
		b.WriteString(" record: add one at the domain's DNS provider")
	}
	b.WriteString(" (resolvers may remember the absence for the zone's negative TTL)")
	return b.String()
}

// UnavailableError means the resolver could not answer: it was
// unreachable, answered HTTP 429 or 5xx, answered SERVFAIL (it could not
// reach the name's servers, or their DNSSEC is broken), or sent something
// that is not an answer to the query. Retrying later may work; the API
// layer answers 503 (api.IsUnavailable).
type UnavailableError struct {
	Resolver string // scheme://host/path
	Name     string
	Type     Type
	Status   int    // the HTTP status when that was the failure, else 0
	Rcode    uint16 // RcodeServFail when that was the failure, else 0
	Cause    string
}

func (e *UnavailableError) Error() string {
	return "doh: resolver " + e.Resolver + " could not answer " + e.Type.String() + " " + e.Name + ": " + e.Cause
}

// Unavailable marks the error as retryable (api.IsUnavailable).
func (e *UnavailableError) Unavailable() bool { return true }

// Error is an answer that retrying will not change: the resolver refused
// the request (HTTP 4xx, DNS REFUSED, FORMERR, NOTIMP), the URL is not a
// DoH endpoint, or the domain's DNS is misconfigured (a CNAME loop).
type Error struct {
	Resolver string
	Name     string
	Type     Type
	Status   int    // the HTTP status when the resolver refused the request, else 0
	Rcode    uint16 // the DNS RCODE when the resolver answered one, else 0
	Reason   string // what is wrong and what to fix
}

func (e *Error) Error() string {
	return "doh: " + e.Type.String() + " " + e.Name + " (resolver " + e.Resolver + "): " + e.Reason
}

// IsNotFound reports whether err is a *NotFoundError (NXDOMAIN or no
// record of the type). A concrete errors.As target: under TinyGo 0.30 an
// interface-typed target matches any error.
func IsNotFound(err error) bool {
	var e *NotFoundError
	return errors.As(err, &e)
}

// LookupTXT returns the TXT records of name, each one's character-strings
// joined (RFC 7208 3.3: a verification token longer than 255 bytes is
// published split). An alias is followed to its canonical name, as
// resolvers do; that is how a domain delegates a challenge record
// (_spinport-challenge.example.com CNAME to a name someone else serves).
// No record: a *NotFoundError; NoSuchName tells NXDOMAIN from a name
// that exists without TXT records.
func (c *Client) LookupTXT(name string) ([]string, error) {
	name, err := CanonicalName(name)
	if err != nil {
		return nil, err
	}
	chain, recs, err := c.lookup(name, TypeTXT)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, &NotFoundError{Name: name, Types: []Type{TypeTXT}, CNAMEs: chain}
	}
	out := make([]string, len(recs))
	for i := range recs {
		out[i] = recs[i].JoinedTXT()
	}
	return out, nil
}

// LookupHost returns the alias chain of name and the A and AAAA addresses
// at its end (two queries: A, then AAAA unless the name does not exist).
// A chain that ends without an address is a *NotFoundError that names the
// chain; the Answer returned with it still holds the chain, so a caller
// can accept a CNAME to its ingress host before that host has addresses.
func (c *Client) LookupHost(name string) (Answer, error) {
	name, err := CanonicalName(name)
	if err != nil {
		return Answer{}, err
	}
	var ans Answer
	nx := false
	for _, t := range []Type{TypeA, TypeAAAA} {
		chain, recs, err := c.lookup(name, t)
		if len(chain) > len(ans.CNAMEs) {
			ans.CNAMEs = chain
		}
		var nf *NotFoundError
		if errors.As(err, &nf) {
			// NXDOMAIN: the name (or its chain's end) does not exist, and
			// asking for AAAA would only say it again.
			nx = nf.NoSuchName
			break
		}
		if err != nil {
			// Half an answer would let a caller conclude that the host
			// points only at the addresses it saw.
			return Answer{}, err
		}
		for i := range recs {
			ans.Addrs = append(ans.Addrs, recs[i].Addr)
		}
	}
	if len(ans.Addrs) == 0 {
		return ans, &NotFoundError{Name: name, Types: []Type{TypeA, TypeAAAA}, NoSuchName: nx, CNAMEs: ans.CNAMEs}
	}
	return ans, nil
}

// lookup asks for name (canonical) and type t and returns the CNAME chain
// in the answer and the records of type t at its end (none: NODATA).
// NXDOMAIN is a *NotFoundError with NoSuchName, returned with the chain.
func (c *Client) lookup(name string, t Type) ([]string, []Record, error) {
	m, err := c.Exchange(Query{ID: RandomID(), Name: name, Type: t, EDNS0: true})
	if err != nil {
		return nil, nil, err
	}
	fail := func(reason string) error {
		return &Error{Resolver: c.resolver(), Name: name, Type: t, Reason: reason}
	}

	// Follow the chain only through the answer section and only from the
	// name asked for: records about other names prove nothing about it.
	var chain []string
	cur := name
	seen := map[string]bool{name: true}
	for {
		next := ""
		for i := range m.Answers {
			r := &m.Answers[i]
			if r.Type == TypeCNAME && r.Class == ClassINET && strings.EqualFold(r.Name, cur) {
				next = strings.ToLower(r.Target)
				break
			}
		}
		if next == "" {
			break
		}
		if seen[next] {
			return chain, nil, fail("CNAME loop: " + name + " -> " + strings.Join(append(chain, next), " -> ") + ": fix the aliases at the domain's DNS provider")
		}
		if len(chain) == maxChain {
			return chain, nil, fail("CNAME chain longer than " + strconv.Itoa(maxChain) + " aliases: shorten it at the domain's DNS provider")
		}
		seen[next] = true
		chain = append(chain, next)
		cur = next
	}

	// RFC 6604: with a CNAME chain the RCODE is about its end.
	if m.Rcode == RcodeNXDomain {
		return chain, nil, &NotFoundError{Name: name, Types: []Type{t}, NoSuchName: true, CNAMEs: chain}
	}
	var recs []Record
	for i := range m.Answers {
		r := m.Answers[i]
		if r.Type == t && r.Class == ClassINET && strings.EqualFold(r.Name, cur) {
			recs = append(recs, r)
		}
	}
	return chain, recs, nil
}

// Exchange sends one query and returns the resolver's answer after
// checking that it answers this query (ID, question, QR). RCODEs NOERROR
// and NXDOMAIN come back as messages; SERVFAIL is an *UnavailableError,
// any other RCODE an *Error.
//
// It POSTs the message (RFC 8484 4.1) rather than GET ?dns=<base64url>:
// GET exists so that HTTP caches can keep answers, and a verification
// wants the resolver's current answer, not an HTTP cache's copy of an
// older one; POST also skips base64 and any URL length limit, and
// resolvers must support both.
func (c *Client) Exchange(q Query) (*Message, error) {
	if c.HTTP == nil {
		return nil, errors.New("doh: Client needs HTTP (a Doer: *http.Client natively, spinhttp.NewClient() in Spin)")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("doh: Client.URL must be the resolver's DoH endpoint, https://host[:port]/path with no query " +
			"(e.g. https://1.1.1.1/dns-query or https://dns.google/dns-query), got " + strconv.Quote(clip(c.URL, 128)))
	}
	name, err := CanonicalName(q.Name)
	if err != nil {
		return nil, err
	}
	q.Name = name
	body, err := q.Pack()
	if err != nil {
		return nil, err
	}
	unavailable := func(status int, rcode uint16, cause string) error {
		return &UnavailableError{Resolver: c.resolver(), Name: name, Type: q.Type, Status: status, Rcode: rcode, Cause: cause}
	}
	refused := func(status int, rcode uint16, reason string) error {
		return &Error{Resolver: c.resolver(), Name: name, Type: q.Type, Status: status, Rcode: rcode, Reason: reason}
	}

	req, err := http.NewRequest(http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("doh: cannot build a request to " + c.resolver() + ": " + err.Error())
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Accept", ContentType)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, unavailable(0, 0, "unreachable: "+clip(err.Error(), maxErrorText))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxMessage+1))
	if err != nil {
		return nil, unavailable(0, 0, "reading the answer: "+clip(err.Error(), maxErrorText))
	}

	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, unavailable(resp.StatusCode, 0, "HTTP "+strconv.Itoa(resp.StatusCode)+snippet(resp, raw))
	case resp.StatusCode != http.StatusOK:
		hint := "check Client.URL: it must be the resolver's DoH endpoint (e.g. https://1.1.1.1/dns-query)"
		if resp.StatusCode == http.StatusUnsupportedMediaType || resp.StatusCode == http.StatusBadRequest {
			hint = "the resolver did not take an RFC 8484 POST of " + ContentType + "; is Client.URL a DoH endpoint?"
		}
		return nil, refused(resp.StatusCode, 0, "HTTP "+strconv.Itoa(resp.StatusCode)+snippet(resp, raw)+": "+hint)
	}
	if ct := mediaType(resp.Header.Get("Content-Type")); ct != ContentType {
		return nil, refused(resp.StatusCode, 0, "the answer is "+strconv.Quote(clip(ct, 64))+", not "+ContentType+
			": Client.URL is not a DoH endpoint (e.g. https://1.1.1.1/dns-query)")
	}
	if len(raw) > maxMessage {
		return nil, unavailable(resp.StatusCode, 0, "the answer is longer than the largest DNS message (65535 bytes)")
	}

	m, err := Parse(raw)
	if err != nil {
		return nil, unavailable(resp.StatusCode, 0, "the answer is not a DNS message: "+err.Error())
	}
	switch {
	case !m.Response:
		return nil, unavailable(resp.StatusCode, 0, "the answer is a query, not a response (QR unset)")
	case m.ID != q.ID:
		return nil, unavailable(resp.StatusCode, 0, "the answer has ID "+strconv.Itoa(int(m.ID))+", the query had "+strconv.Itoa(int(q.ID))+": it answers another query")
	case m.Truncated:
		// There is no datagram limit over HTTPS (RFC 8484 6): a truncated
		// answer is incomplete and there is no TCP to retry over.
		return nil, unavailable(resp.StatusCode, 0, "the answer is truncated (TC)")
	}
	if m.Rcode == RcodeServFail {
		return nil, unavailable(resp.StatusCode, m.Rcode, "SERVFAIL: the resolver could not get an answer from the domain's name servers (down, unreachable or DNSSEC broken)"+edeText(m))
	}
	// A server that rejects the query (FORMERR, NOTIMP) may leave the
	// question out; check the question only once the RCODE says it answered.
	switch m.Rcode {
	case RcodeSuccess, RcodeNXDomain:
	case RcodeRefused:
		return nil, refused(resp.StatusCode, m.Rcode, "REFUSED: the resolver does not answer this query for us (policy, or not a recursive resolver); use a public resolver such as https://1.1.1.1/dns-query"+edeText(m))
	default:
		return nil, refused(resp.StatusCode, m.Rcode, RcodeName(m.Rcode)+edeText(m))
	}
	if len(m.Questions) != 1 || !strings.EqualFold(m.Questions[0].Name, name) || m.Questions[0].Type != q.Type || m.Questions[0].Class != ClassINET {
		got := "no question"
		if len(m.Questions) > 0 {
			got = strconv.Itoa(len(m.Questions)) + " question(s), the first " + m.Questions[0].Type.String() + " " + m.Questions[0].Name
		}
		return nil, unavailable(resp.StatusCode, 0, "the answer is for "+got+": it answers another query")
	}
	return m, nil
}

// resolver names the endpoint in errors: no query string (Exchange
// refuses one anyway).
func (c *Client) resolver() string {
	if i := strings.IndexAny(c.URL, "?#"); i >= 0 {
		return c.URL[:i]
	}
	return c.URL
}

func mediaType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

// snippet quotes the start of a text error body (resolvers explain 4xx
// answers in plain text), nothing for binary bodies.
func snippet(resp *http.Response, raw []byte) string {
	ct := mediaType(resp.Header.Get("Content-Type"))
	if len(raw) == 0 || !(strings.HasPrefix(ct, "text/") || ct == "application/json") {
		return ""
	}
	return " " + strconv.Quote(clip(strings.TrimSpace(string(raw)), maxErrorText))
}

func edeText(m *Message) string {
	if m.EDNS == nil || len(m.EDNS.ExtendedErrors) == 0 {
		return ""
	}
	parts := make([]string, len(m.EDNS.ExtendedErrors))
	for i, e := range m.EDNS.ExtendedErrors {
		parts[i] = e.String()
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
