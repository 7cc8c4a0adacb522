package doh

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// fakeResolver is an http.Handler speaking RFC 8484 POST from a small
// in-memory zone, with switches for the failures a resolver can answer.
// Responses are built with the test's wire builder, not with the codec
// under test.
type fakeResolver struct {
	mu    sync.Mutex
	txt   map[string][][]string
	a     map[string][][4]byte
	aaaa  map[string][][16]byte
	cname map[string]string
	extra map[string]bool // names that exist without records

	rcode       int    // > 0: answer this RCODE instead
	ede         string // with rcode: an Extended DNS Error text (code 22)
	upper       bool   // echo names in upper case (0x20 randomization)
	status      int    // != 0: HTTP status instead of 200
	contentType string // != "": instead of application/dns-message
	body        []byte // != nil: instead of the DNS answer
	mangle      func(b []byte) []byte

	reqs []seenReq
}

type seenReq struct {
	Method, ContentType, Accept, RawQuery string
	Body                                  []byte
}

func newFakeResolver() *fakeResolver {
	return &fakeResolver{
		txt:   map[string][][]string{},
		a:     map[string][][4]byte{},
		aaaa:  map[string][][16]byte{},
		cname: map[string]string{},
		extra: map[string]bool{},
	}
}

func (f *fakeResolver) exists(n string) bool {
	return f.txt[n] != nil || f.a[n] != nil || f.aaaa[n] != nil || f.cname[n] != "" || f.extra[n]
}

func (f *fakeResolver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	f.reqs = append(f.reqs, seenReq{r.Method, r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.URL.RawQuery, body})
	if f.status != 0 || f.body != nil {
		ct := f.contentType
		if ct == "" {
			ct = ContentType
		}
		w.Header().Set("Content-Type", ct)
		if f.status != 0 {
			w.WriteHeader(f.status)
		}
		w.Write(f.body)
		return
	}
	q, err := Parse(body)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != ContentType || err != nil || len(q.Questions) != 1 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	qn, qt := strings.ToLower(q.Questions[0].Name), q.Questions[0].Type
	echo := q.Questions[0].Name
	if f.upper {
		echo = strings.ToUpper(echo)
	}

	type rr struct {
		owner string
		t     Type
		rdata func(*wire)
	}
	var answers []rr
	cur := qn
	for hops := 0; f.cname[cur] != "" && hops < 20; hops++ {
		target := f.cname[cur]
		answers = append(answers, rr{cur, TypeCNAME, func(w *wire) { w.name(target) }})
		cur = target
	}
	switch qt {
	case TypeTXT:
		for _, strs := range f.txt[cur] {
			strs := strs
			answers = append(answers, rr{cur, TypeTXT, func(w *wire) { w.txt(strs...) }})
		}
	case TypeA:
		for _, ip := range f.a[cur] {
			ip := ip
			answers = append(answers, rr{cur, TypeA, func(w *wire) { w.raw(ip[:]...) }})
		}
	case TypeAAAA:
		for _, ip := range f.aaaa[cur] {
			ip := ip
			answers = append(answers, rr{cur, TypeAAAA, func(w *wire) { w.raw(ip[:]...) }})
		}
	}
	// Unrelated data a resolver might add: the client must ignore it.
	answers = append(answers, rr{"unrelated.example", qt, func(w *wire) {
		switch qt {
		case TypeA:
			w.raw(203, 0, 113, 66)
		case TypeAAAA:
			w.raw(make([]byte, 16)...)
		default:
			w.txt("not yours")
		}
	}})

	rcode := RcodeSuccess
	if !f.exists(cur) {
		rcode = RcodeNXDomain
	}
	if f.rcode > 0 {
		rcode = f.rcode
		answers = nil
	}
	ar := 0
	if q.EDNS != nil {
		ar = 1
	}
	m := newWire(q.ID, 0x8180|uint16(rcode), 1, len(answers), 0, ar)
	m.question(echo, qt)
	for _, a := range answers {
		owner := a.owner
		if f.upper {
			owner = strings.ToUpper(owner)
		}
		m.name(owner)
		end := m.rr(a.t, ClassINET, 60)
		a.rdata(m)
		end()
	}
	if ar == 1 {
		m.u8(0)
		end := m.rr(TypeOPT, 1232, 0)
		if f.ede != "" {
			m.u16(optEDE).u16(uint16(2 + len(f.ede))).u16(22).raw([]byte(f.ede)...)
		}
		end()
	}
	out := m.b
	if f.mangle != nil {
		out = f.mangle(out)
	}
	w.Header().Set("Content-Type", ContentType)
	w.Write(out)
}

func (f *fakeResolver) requests() []seenReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenReq(nil), f.reqs...)
}

// handlerDoer serves requests with an http.Handler in-process (no
// sockets: the tests run under TinyGo too).
type handlerDoer struct {
	h   http.Handler
	err error // != nil: fail every request like a transport would
}

func (d *handlerDoer) Do(r *http.Request) (*http.Response, error) {
	if d.err != nil {
		return nil, d.err
	}
	rec := &recorder{header: http.Header{}}
	d.h.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{StatusCode: rec.status, Header: rec.header, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())), Request: r}, nil
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

func newTestClient() (*Client, *fakeResolver) {
	f := newFakeResolver()
	return &Client{URL: "https://resolver.test/dns-query", HTTP: &handlerDoer{h: f}}, f
}

// asNotFound, asUnavailable, asError: concrete targets (TinyGo 0.30's
// errors.As matches any error with an interface target).
func asNotFound(err error) *NotFoundError {
	var e *NotFoundError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func asUnavailable(err error) *UnavailableError {
	var e *UnavailableError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// unavailable is how the API layer asks (api.IsUnavailable).
func unavailable(err error) bool {
	u, ok := err.(interface{ Unavailable() bool })
	return ok && u.Unavailable()
}

func TestLookupTXT(t *testing.T) {
	c, f := newTestClient()
	long := strings.Repeat("x", 255)
	f.txt["_spinport-challenge.app.example.com"] = [][]string{{"spinport-verify=abc"}, {long, "tail"}}
	got, err := c.LookupTXT("_spinport-challenge.App.Example.com.")
	if err != nil {
		t.Fatal(err)
		return
	}
	if len(got) != 2 || got[0] != "spinport-verify=abc" || got[1] != long+"tail" {
		t.Errorf("LookupTXT = %q", got)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
		return
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.ContentType != ContentType || r.Accept != ContentType || r.RawQuery != "" {
		t.Errorf("request: %+v", r)
	}
	q, err := Parse(r.Body)
	if err != nil || q.Response || !q.RecursionDesired || len(q.Questions) != 1 ||
		q.Questions[0] != (Question{"_spinport-challenge.app.example.com", TypeTXT, ClassINET}) || q.EDNS == nil || len(r.Body)%128 != 0 {
		t.Errorf("query: %+v, %v", q, err)
	}
}

func TestLookupTXTChanges(t *testing.T) {
	c, f := newTestClient()
	f.txt["a.example"] = [][]string{{"one"}}
	if got, err := c.LookupTXT("a.example"); err != nil || len(got) != 1 || got[0] != "one" {
		t.Errorf("first: %q, %v", got, err)
	}
	f.txt["a.example"] = [][]string{{"two"}}
	if got, err := c.LookupTXT("a.example"); err != nil || len(got) != 1 || got[0] != "two" {
		t.Errorf("after the change: %q, %v", got, err)
	}
}

func TestLookupTXTAbsent(t *testing.T) {
	c, f := newTestClient()
	f.a["app.example.com"] = [][4]byte{{192, 0, 2, 1}}
	got, err := c.LookupTXT("app.example.com")
	nf := asNotFound(err)
	if got != nil || nf == nil || nf.NoSuchName || nf.Name != "app.example.com" || !IsNotFound(err) || unavailable(err) {
		t.Fatalf("LookupTXT = %q, %v; want a NotFoundError without NoSuchName", got, err)
		return
	}
	if !strings.Contains(err.Error(), "app.example.com exists but has no TXT record") {
		t.Errorf("message: %v", err)
	}
}

func TestLookupTXTNXDomain(t *testing.T) {
	c, _ := newTestClient()
	_, err := c.LookupTXT("_spinport-challenge.nope.example")
	nf := asNotFound(err)
	if nf == nil || !nf.NoSuchName || len(nf.CNAMEs) != 0 || !IsNotFound(err) || unavailable(err) {
		t.Fatalf("err = %v; want a NotFoundError with NoSuchName", err)
		return
	}
	if !strings.Contains(err.Error(), "_spinport-challenge.nope.example does not exist (NXDOMAIN)") {
		t.Errorf("message: %v", err)
	}
}

func TestLookupTXTThroughCNAME(t *testing.T) {
	c, f := newTestClient()
	f.cname["_spinport-challenge.app.example.com"] = "app-example.challenges.dns.example"
	f.txt["app-example.challenges.dns.example"] = [][]string{{"token"}}
	got, err := c.LookupTXT("_spinport-challenge.app.example.com")
	if err != nil || len(got) != 1 || got[0] != "token" {
		t.Errorf("LookupTXT = %q, %v", got, err)
	}
}

func TestLookupHostCNAMEChain(t *testing.T) {
	c, f := newTestClient()
	f.upper = true // names compare without case
	f.cname["www.shop.example"] = "shop.example.net"
	f.cname["shop.example.net"] = "ingress.spinport.test"
	f.a["ingress.spinport.test"] = [][4]byte{{192, 0, 2, 10}, {192, 0, 2, 11}}
	f.aaaa["ingress.spinport.test"] = [][16]byte{{0x20, 0x01, 0x0d, 0xb8, 15: 0x10}}
	ans, err := c.LookupHost("WWW.shop.example")
	if err != nil {
		t.Fatal(err)
		return
	}
	if strings.Join(ans.CNAMEs, " ") != "shop.example.net ingress.spinport.test" ||
		strings.Join(ans.Addrs, " ") != "192.0.2.10 192.0.2.11 2001:db8::10" {
		t.Errorf("LookupHost = %+v", ans)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("%d requests, want 2 (A and AAAA)", n)
	}
}

func TestLookupHostOnlyIPv6(t *testing.T) {
	c, f := newTestClient()
	f.aaaa["v6.example"] = [][16]byte{{15: 1}}
	ans, err := c.LookupHost("v6.example")
	if err != nil || len(ans.CNAMEs) != 0 || len(ans.Addrs) != 1 || ans.Addrs[0] != "::1" {
		t.Errorf("LookupHost = %+v, %v", ans, err)
	}
}

func TestLookupHostChainWithoutAddress(t *testing.T) {
	c, f := newTestClient()
	f.cname["app.example.com"] = "ingress.spinport.test"
	f.extra["ingress.spinport.test"] = true
	ans, err := c.LookupHost("app.example.com")
	nf := asNotFound(err)
	if nf == nil || nf.NoSuchName || strings.Join(nf.CNAMEs, ",") != "ingress.spinport.test" ||
		strings.Join(ans.CNAMEs, ",") != "ingress.spinport.test" || len(ans.Addrs) != 0 {
		t.Fatalf("LookupHost = %+v, %v", ans, err)
		return
	}
	if want := "app.example.com is an alias (CNAME) of ingress.spinport.test, which exists but has no A or AAAA record"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not say %q", err, want)
	}
}

func TestLookupHostChainToNowhere(t *testing.T) {
	c, f := newTestClient()
	f.cname["app.example.com"] = "gone.example.net"
	ans, err := c.LookupHost("app.example.com")
	nf := asNotFound(err)
	if nf == nil || !nf.NoSuchName || strings.Join(ans.CNAMEs, ",") != "gone.example.net" {
		t.Fatalf("LookupHost = %+v, %v", ans, err)
		return
	}
	if !strings.Contains(err.Error(), "alias (CNAME) of gone.example.net, which does not exist (NXDOMAIN)") {
		t.Errorf("message: %v", err)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests after NXDOMAIN for A, want 1", n)
	}
}

func TestLookupHostNXDomain(t *testing.T) {
	c, _ := newTestClient()
	ans, err := c.LookupHost("nope.example")
	if nf := asNotFound(err); nf == nil || !nf.NoSuchName || len(ans.Addrs) != 0 {
		t.Errorf("LookupHost = %+v, %v", ans, err)
	}
}

func TestLookupCNAMELoop(t *testing.T) {
	c, f := newTestClient()
	f.cname["a.example"] = "b.example"
	f.cname["b.example"] = "a.example"
	_, err := c.LookupHost("a.example")
	e := asError(err)
	if e == nil || unavailable(err) || IsNotFound(err) || !strings.Contains(err.Error(), "CNAME loop: a.example -> b.example -> a.example") {
		t.Errorf("err = %v; want an *Error naming the loop", err)
	}
}

func TestLookupServFail(t *testing.T) {
	c, f := newTestClient()
	f.rcode = RcodeServFail
	f.ede = "no reachable authority at 192.0.2.53"
	_, err := c.LookupTXT("app.example.com")
	u := asUnavailable(err)
	if u == nil || !unavailable(err) || IsNotFound(err) || u.Rcode != RcodeServFail {
		t.Fatalf("err = %v; want an UnavailableError", err)
		return
	}
	if !strings.Contains(err.Error(), "SERVFAIL") || !strings.Contains(err.Error(), `EDE 22 "no reachable authority at 192.0.2.53"`) {
		t.Errorf("message: %v", err)
	}
	// LookupHost gives up on the first failure rather than half an answer.
	if ans, err := c.LookupHost("app.example.com"); !unavailable(err) || len(ans.Addrs) != 0 {
		t.Errorf("LookupHost = %+v, %v", ans, err)
	}
}

func TestLookupRefused(t *testing.T) {
	c, f := newTestClient()
	f.rcode = RcodeRefused
	_, err := c.LookupTXT("app.example.com")
	if e := asError(err); e == nil || e.Rcode != RcodeRefused || unavailable(err) || !strings.Contains(err.Error(), "REFUSED") {
		t.Errorf("err = %v; want an *Error with REFUSED", err)
	}
}

func TestLookupHTTPFailures(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		unavailable bool
		want        string
	}{
		{"503", 503, "text/plain", "overloaded", true, `HTTP 503 "overloaded"`},
		{"502 binary", 502, "application/octet-stream", "\x00\x01", true, "HTTP 502"},
		{"429", 429, "", "", true, "HTTP 429"},
		{"404", 404, "text/plain", "no such page", false, `HTTP 404 "no such page": check Client.URL`},
		{"415", 415, "", "", false, "did not take an RFC 8484 POST"},
		{"HTML page", 200, "text/html; charset=utf-8", "<html>", false, `"text/html", not application/dns-message`},
		{"garbage", 200, "", "\x00\x01\x02", true, "not a DNS message"},
		{"too long", 200, "", strings.Repeat("x", 70000), true, "longer than the largest DNS message"},
	}
	for _, tc := range cases {
		c, f := newTestClient()
		f.status, f.contentType, f.body = tc.status, tc.contentType, []byte(tc.body)
		_, err := c.LookupTXT("app.example.com")
		if err == nil || unavailable(err) != tc.unavailable || !strings.Contains(err.Error(), tc.want) || IsNotFound(err) {
			t.Errorf("%s: err = %v (unavailable %v); want unavailable=%v and %q", tc.name, err, unavailable(err), tc.unavailable, tc.want)
		}
		if e := asUnavailable(err); tc.unavailable && tc.status != 200 && (e == nil || e.Status != tc.status) {
			t.Errorf("%s: UnavailableError.Status: %+v", tc.name, e)
		}
		if e := asError(err); !tc.unavailable && (e == nil || e.Status != tc.status) {
			t.Errorf("%s: Error.Status: %+v", tc.name, e)
		}
	}
}

func TestLookupTransportError(t *testing.T) {
	c := &Client{URL: "https://resolver.test/dns-query", HTTP: &handlerDoer{err: errors.New("dial tcp: connection refused")}}
	_, err := c.LookupTXT("app.example.com")
	if asUnavailable(err) == nil || !strings.Contains(err.Error(), "unreachable: dial tcp: connection refused") {
		t.Errorf("err = %v", err)
	}
}

func TestLookupMismatchedAnswers(t *testing.T) {
	cases := []struct {
		name   string
		mangle func(b []byte) []byte
		want   string
	}{
		{"other ID", func(b []byte) []byte { b[0] ^= 0xFF; return b }, "it answers another query"},
		{"QR unset", func(b []byte) []byte { b[2] &^= 0x80; return b }, "QR unset"},
		{"truncated", func(b []byte) []byte { b[2] |= 0x02; return b }, "truncated (TC)"},
		{"other question", func(b []byte) []byte { b[13] = 'z'; return b }, "answer is for 1 question(s), the first TXT zpp.example.com"},
		{"no question", func(b []byte) []byte {
			for i := 4; i < 12; i++ {
				b[i] = 0 // no sections at all
			}
			return b[:12]
		}, "no question"},
		{"other type", func(b []byte) []byte {
			// The type follows the question name (12 + 17 bytes).
			b[12+17+1] = byte(TypeA)
			return b
		}, "the first A app.example.com"},
		{"cut short", func(b []byte) []byte { return b[:len(b)-3] }, "not a DNS message"},
	}
	for _, tc := range cases {
		c, f := newTestClient()
		f.txt["app.example.com"] = [][]string{{"x"}}
		f.mangle = tc.mangle
		_, err := c.LookupTXT("app.example.com")
		if asUnavailable(err) == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want an UnavailableError saying %q", tc.name, err, tc.want)
		}
	}
}

func TestClientConfigErrors(t *testing.T) {
	f := newFakeResolver()
	cases := []struct {
		c    *Client
		name string
		want string
	}{
		{&Client{URL: "https://r.test/dns-query"}, "a.example", "needs HTTP"},
		{&Client{URL: "", HTTP: &handlerDoer{h: f}}, "a.example", "Client.URL must be"},
		{&Client{URL: "udp://1.1.1.1", HTTP: &handlerDoer{h: f}}, "a.example", "Client.URL must be"},
		{&Client{URL: "https://r.test/dns-query?dns=x", HTTP: &handlerDoer{h: f}}, "a.example", "Client.URL must be"},
		{&Client{URL: "https://r.test/dns-query", HTTP: &handlerDoer{h: f}}, "a..example", "empty label"},
		{&Client{URL: "https://r.test/dns-query", HTTP: &handlerDoer{h: f}}, strings.Repeat("a", 64) + ".example", "at most 63"},
	}
	for _, tc := range cases {
		_, err := tc.c.LookupTXT(tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) || unavailable(err) {
			t.Errorf("LookupTXT(%q) with %+v: %v, want %q", tc.name, tc.c, err, tc.want)
		}
		_, err = tc.c.LookupHost(tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LookupHost(%q) with %+v: %v, want %q", tc.name, tc.c, err, tc.want)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent for invalid input", n)
	}
}
