package spinhost

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Host side of "wasi-outbound-http".request (wit/wasi-outbound-http.wit,
// the Go SDK's http/wasi-outbound-http.c), which backs the SDK's
// http.Send/Get/Post and its http.DefaultClient.
//
// Arguments: method u8, uri (ptr, len), headers list<tuple<string,string>>
// (ptr, len), params (ptr, len; deprecated, ignored), option<body> (tag,
// ptr, len), ret. Result at ret:
//
//	u8 tag @0 (0 ok, 1 err)
//	ok   status u16 @4, option<headers> (tag @8, ptr @12, len @16),
//	     option<body> (tag @20, ptr @24, len @28)
//	err  http-error u8 @4
//
// Behaviour, as in Spin's outbound HTTP host:
//   - a URL starting with "/" is a request to the app itself, allowed by an
//     allowed_outbound_hosts entry with host "self" (or "*");
//   - any other URL must match allowed_outbound_hosts (a missing scheme is
//     taken as https) or the guest gets destination-not-allowed and nothing
//     is sent;
//   - a URL that passes the check but cannot be requested is invalid-url;
//   - malformed headers and transport failures (refused, reset, TLS) are
//     runtime-error, as in Spin 2/3; request-error is returned for a URL
//     whose scheme is neither http nor https (Spin 1 used request-error for
//     all send failures);
//   - redirects are followed (up to 10), response header names are
//     lower-case and the body is always present;
//   - no timeout, as Spin's reqwest client has none, unless
//     Options.OutboundHTTPTimeout bounds it (headers and body); running
//     out is runtime-error, like other transport failures. The request
//     runs on the incoming request's context, so it is cancelled when
//     that request's client goes away;
//   - HTTPS trusts exactly the system roots, as Spin's Spin 1 send-request
//     does (a default reqwest client; runtime config [[client_tls]] applies
//     to wasi-http only, spinframework/spin#2604), or Options.CABundleFile
//     in their place (SpinKube: the executor's caCertSecret). No client
//     certificate is presented. Like reqwest over native-tls without its
//     ALPN feature, HTTPS uses HTTP/1.1;
//   - like reqwest as Spin builds it (the "gzip" feature): Accept: */* and
//     Accept-Encoding: gzip are added when the guest sent none
//     (Accept-Encoding not with a Range header), and a response whose
//     Content-Encoding is "gzip" is decoded, with its Content-Encoding and
//     Content-Length removed, whatever the guest asked for; a body that
//     does not decode is runtime-error.

// HTTP error codes of the Spin 1 http-types (wit/http-types.wit).
const (
	httpErrSuccess               = 0
	httpErrDestinationNotAllowed = 1
	httpErrInvalidURL            = 2
	httpErrRequestError          = 3
	httpErrRuntimeError          = 4
	httpErrTooManyRequests       = 5
)

// spinMethods maps the http-types method enum.
var spinMethods = [...]string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}

func registerOutboundHTTP(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder("wasi-outbound-http").
		NewFunctionBuilder().WithFunc(outboundHTTPRequest).Export("request").
		Instantiate(ctx)
	return err
}

// outboundRequest is the decoded guest request.
type outboundRequest struct {
	method  string
	uri     string
	headers [][2]string
	body    []byte
}

type outboundResponse struct {
	status  int
	headers [][2]string
	body    []byte
}

func outboundHTTPRequest(ctx context.Context, m api.Module,
	method, uriPtr, uriLen, hdrPtr, hdrLen, paramsPtr, paramsLen, bodyTag, bodyPtr, bodyLen, ret uint32) {
	g := newGuest(ctx, m)
	st := stateFrom(ctx)
	if method >= uint32(len(spinMethods)) {
		faultf("invalid http method enum %d", method)
	}
	req := outboundRequest{
		method:  spinMethods[method],
		uri:     g.string(uriPtr, uriLen),
		headers: g.stringPairs(hdrPtr, hdrLen),
	}
	if paramsLen > 0 {
		st.host.log.Printf("[%s] warning: the outbound HTTP params field is deprecated and ignored", st.comp.id)
	}
	switch bodyTag {
	case 0:
	case 1:
		req.body = g.bytes(bodyPtr, bodyLen)
	default:
		faultf("invalid option<body> tag %d", bodyTag)
	}

	resp, code := st.host.sendOutbound(ctx, st.comp, req)
	if code != httpErrSuccess {
		g.checkRange(ret, 8)
		g.putU8(ret, 1)
		g.putU8(ret+4, code)
		return
	}
	hp, hl := g.putStringPairs(resp.headers)
	bp, bl := g.putBytes(resp.body)
	g.checkRange(ret, 32)
	g.putU8(ret, 0)
	g.putU16(ret+4, uint16(resp.status))
	g.putU8(ret+8, 1)
	g.putU32(ret+12, hp)
	g.putU32(ret+16, hl)
	g.putU8(ret+20, 1)
	g.putU32(ret+24, bp)
	g.putU32(ret+28, bl)
}

// sendOutbound applies the allow-list and performs the request.
func (h *Host) sendOutbound(ctx context.Context, c *component, req outboundRequest) (*outboundResponse, uint8) {
	target := req.uri
	if strings.HasPrefix(target, "/") {
		if !c.allowed.AllowsRelative("http", "https") {
			h.log.Printf("[%s] A component tried to make a request to its own app (%s) but allowed_outbound_hosts has no \"http://self\" entry.", c.id, target)
			return nil, httpErrDestinationNotAllowed
		}
		origin := h.URL()
		if origin == "" {
			return nil, httpErrInvalidURL
		}
		target = origin + target
	} else if !c.allowed.Allows(target, "https") {
		h.log.Printf("[%s] A component tried to make a request to non-allowed url '%s'.", c.id, withoutPassword(target))
		if u, err := parseOutboundURL(target, "https"); err == nil {
			hint := u.scheme + "://" + u.host + ":$PORT"
			if u.port != 0 {
				hint = strings.Replace(hint, "$PORT", strconv.Itoa(u.port), 1)
			}
			h.log.Printf("[%s] To allow requests, add allowed_outbound_hosts = [\"%s\"] to the manifest component section.", c.id, hint)
		}
		return nil, httpErrDestinationNotAllowed
	}

	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, httpErrInvalidURL
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, httpErrRequestError
	}
	for _, kv := range req.headers {
		if !validHeaderName(kv[0]) || !validHeaderValue(kv[1]) {
			h.log.Printf("[%s] Error building outbound request: invalid header %q", c.id, kv[0])
			return nil, httpErrRuntimeError
		}
	}
	// ctx is the incoming request's: its client going away cancels this
	// request too. OutboundHTTPTimeout, if set, bounds the whole exchange
	// (redirects and the response body included); Spin's reqwest client
	// has no timeout.
	if d := h.opts.OutboundHTTPTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, u.String(), bytes.NewReader(req.body))
	if err != nil {
		return nil, httpErrRuntimeError
	}
	if len(req.body) == 0 {
		hreq.Body, hreq.ContentLength = http.NoBody, 0
	}
	for _, kv := range req.headers {
		if strings.EqualFold(kv[0], "host") {
			hreq.Host = kv[1]
			continue
		}
		hreq.Header.Add(kv[0], kv[1])
	}
	if _, ok := hreq.Header["User-Agent"]; !ok {
		hreq.Header["User-Agent"] = nil // reqwest sends no User-Agent unless asked; neither do we
	}
	// reqwest's defaults: the client's default header Accept: */*, and
	// Accept-Encoding: gzip from the gzip feature (not with a Range).
	if _, ok := hreq.Header["Accept"]; !ok {
		hreq.Header.Set("Accept", "*/*")
	}
	if _, ok := hreq.Header["Accept-Encoding"]; !ok {
		if _, ok := hreq.Header["Range"]; !ok {
			hreq.Header.Set("Accept-Encoding", "gzip")
		}
	}
	res, err := h.client.Do(hreq)
	if err != nil {
		h.log.Printf("[%s] Outbound HTTP error: URL %s, error detail %v%s", c.id, withoutPassword(target), err, h.outboundTimeoutNote(ctx))
		return nil, httpErrRuntimeError
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		h.log.Printf("[%s] Outbound HTTP error reading the response body: URL %s, error detail %v%s", c.id, withoutPassword(target), err, h.outboundTimeoutNote(ctx))
		return nil, httpErrRuntimeError
	}
	if gzipEncoded(res.Header) {
		res.Header.Del("Content-Encoding")
		res.Header.Del("Content-Length")
		if body, err = gunzip(body); err != nil {
			h.log.Printf("[%s] Outbound HTTP error decoding the gzip response body: URL %s, error detail %v", c.id, withoutPassword(target), err)
			return nil, httpErrRuntimeError
		}
	}
	out := &outboundResponse{status: res.StatusCode, body: body}
	for _, name := range sortedKeys(res.Header) {
		for _, v := range res.Header[name] {
			if !validHeaderValue(v) {
				h.log.Printf("[%s] Non-ascii response header %s = %q", c.id, name, v)
				return nil, httpErrRuntimeError
			}
			out.headers = append(out.headers, [2]string{strings.ToLower(name), v})
		}
	}
	return out, httpErrSuccess
}

// outboundTimeoutNote explains a failure caused by OutboundHTTPTimeout.
func (h *Host) outboundTimeoutNote(ctx context.Context) string {
	if d := h.opts.OutboundHTTPTimeout; d > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf(" (timed out after %s, OutboundHTTPTimeout)", d)
	}
	return ""
}

// validHeaderName accepts RFC 7230 tokens.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validHeaderValue accepts visible ASCII, space and tab, which is what
// the http crate's HeaderValue::to_str accepts.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\t' && (c < 0x20 || c > 0x7e) {
			return false
		}
	}
	return true
}

// newOutboundTransport is the transport of Spin 1 outbound HTTP: proxy
// variables honoured (reqwest does too), roots (nil: the system roots) and
// HTTP/1.1, no transparent decompression of its own (sendOutbound decodes
// gzip the way reqwest does, which net/http's does not: it decodes only
// when it added Accept-Encoding itself).
func newOutboundTransport(roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only
		DisableCompression:  true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
}

// gzipEncoded is reqwest's test for decoding a response: a Content-Encoding
// value that is exactly "gzip", unless Content-Length is "0".
func gzipEncoded(hdr http.Header) bool {
	found := false
	for _, v := range hdr.Values("Content-Encoding") {
		if v == "gzip" {
			found = true
		}
	}
	return found && hdr.Get("Content-Length") != "0"
}

// gunzip decodes one gzip member, as reqwest's decoder (async-compression,
// single member) does; an empty body stays empty (a HEAD response).
func gunzip(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return io.ReadAll(zr)
}
