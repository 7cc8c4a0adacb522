package spinhost

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// The HTTP trigger: route the request, instantiate the component afresh,
// pass the request record to handle-http-request and map the response
// record back, as Spin's HTTP trigger does for Spin 1 ABI components.
//
// The request record (wit/http-types.wit) is passed flattened as ten i32
// arguments: method enum, uri (ptr, len), headers (ptr, len), params
// (ptr, len), option<body> (tag, ptr, len). The guest returns a pointer to
// its return area holding the response record:
//
//	status u16 @0, option<headers> (tag u8 @4, ptr @8, len @12),
//	option<body> (tag u8 @16, ptr @20, len @24)
//
// Spin's choices reproduced here: params is always empty (deprecated);
// the body is always present, possibly empty; header names are lower case
// and every value of a repeated header is its own entry; the host header
// is included; the spin-* headers are appended (see SpinRequestHeaders);
// methods outside the enum get 405; a status outside 100..600, an invalid
// response header or a trap gives an empty 500.

// inboundRequest is the request record before it is written to the guest.
type inboundRequest struct {
	method  uint8
	uri     string
	headers [][2]string
	body    []byte
}

// inboundResponse is the guest's response record.
type inboundResponse struct {
	status  int
	headers [][2]string
	hasBody bool
	body    []byte
	memory  uint64 // linear memory size when the guest answered
}

func methodEnum(m string) (uint8, bool) {
	for i, s := range spinMethods {
		if s == m {
			return uint8(i), true
		}
	}
	return 0, false
}

// rawPathAndQuery returns the request target as sent: Spin routes on the
// still percent-encoded path and hands path+query to the guest as uri.
func rawPathAndQuery(r *http.Request) (path, pathAndQuery string) {
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		// absolute-form (or a Request built without RequestURI, as in tests)
		target = r.URL.EscapedPath()
		if target == "" {
			target = "/"
		}
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
	}
	path, _, _ = strings.Cut(target, "?")
	return path, target
}

// ServeHTTP makes Host an http.Handler, so tests can also drive it with
// httptest without a listener.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, pathAndQuery := rawPathAndQuery(r)

	if wk, ok := strings.CutPrefix(path, WellKnownPrefix); ok {
		h.serveWellKnown(w, wk)
		return
	}
	m, ok := h.router.Match(path)
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	comp := h.components[m.Route.Component]
	method, ok := methodEnum(r.Method)
	if !ok {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.log.Printf("Error reading request body: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}

	host := r.Host
	if host == "" {
		host = "localhost"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	req := &inboundRequest{method: method, uri: pathAndQuery, body: body,
		headers: requestHeaders(r, m, scheme+"://"+host+pathAndQuery)}

	res, err := h.invoke(r.Context(), comp, req)
	if err != nil {
		h.log.Printf("Error processing request: %v", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if h.opts.OnRequest != nil {
		h.opts.OnRequest(RequestStats{Method: r.Method, Path: path, Status: res.status, Memory: res.memory})
	}
	if res.status < 100 || res.status > 600 {
		h.log.Printf("malformed HTTP status code %d from component %q", res.status, comp.id)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	for _, kv := range res.headers {
		if !validHeaderName(kv[0]) || strings.ContainsAny(kv[1], "\r\n\x00") {
			h.log.Printf("Error processing request: invalid response header %q from component %q", kv[0], comp.id)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	}
	hdr := w.Header()
	for _, kv := range res.headers {
		hdr.Set(kv[0], kv[1]) // Spin inserts, so the last value of a repeated name wins
	}
	if _, ok := hdr["Content-Type"]; !ok {
		hdr["Content-Type"] = nil // don't let net/http sniff one; hyper adds none
	}
	w.WriteHeader(res.status)
	if res.hasBody && len(res.body) > 0 {
		_, _ = w.Write(res.body)
	}
}

// requestHeaders is the header list the guest gets, built as Spin's
// prepare_request_headers (crates/trigger-http/src/headers.rs) does: every
// header the client sent, as sent (a client's own spin-full-url included),
// then the runtime's spin-* headers appended after all of them, never
// replacing a client's. A repeated name thus has the client's value first,
// which is the one the Go SDK's Header.Get returns, as on Spin. Spin keeps
// the client's order (grouped by name); net/http does not keep it, so the
// client's headers come as host first, then the rest sorted by name.
func requestHeaders(r *http.Request, m *RouteMatch, fullURL string) [][2]string {
	var hs [][2]string
	if r.Host != "" {
		// net/http moves Host out of the header map; hyper keeps it there.
		hs = append(hs, [2]string{"host", r.Host})
	}
	for _, name := range sortedKeys(r.Header) {
		for _, v := range r.Header[name] {
			hs = append(hs, [2]string{strings.ToLower(name), v})
		}
	}
	return append(hs, SpinRequestHeaders(m, fullURL, r.RemoteAddr)...)
}

func (h *Host) serveWellKnown(w http.ResponseWriter, name string) {
	switch name {
	case "health":
		_, _ = io.WriteString(w, "OK")
	case "info":
		info := map[string]any{
			"name":             h.manifest.Application.Name,
			"version":          h.manifest.Application.Version,
			"bindle_version":   nil,
			"oci_image_digest": nil,
		}
		b, _ := json.MarshalIndent(info, "", "  ")
		w.Header().Set("content-type", "application/json")
		_, _ = w.Write(b)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// invoke runs one request in a fresh instance of c.
func (h *Host) invoke(ctx context.Context, c *component, req *inboundRequest) (res *inboundResponse, err error) {
	stdout := newLineLogger(h.log, "["+c.id+"] ")
	stderr := newLineLogger(h.log, "["+c.id+" stderr] ")
	defer stdout.Flush()
	defer stderr.Flush()

	st, mod, err := h.instantiate(ctx, c, stdout, stderr)
	if err != nil {
		return nil, err
	}
	// The instance is closed with a background context: the request's may
	// already be cancelled.
	defer mod.Close(context.Background())
	ctx = withState(ctx, st)

	// Writing the request record calls back into the guest (realloc); a
	// guest fault there surfaces as a panic from the guest helpers.
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(guestFault); ok {
				err = f
				return
			}
			if e, ok := r.(error); ok {
				err = fmt.Errorf("component %q: %w", c.id, e)
				return
			}
			panic(r)
		}
	}()

	g := newGuest(ctx, mod)
	uriPtr, uriLen := g.putString(req.uri)
	hdrPtr, hdrLen := g.putStringPairs(req.headers)
	paramsPtr, paramsLen := g.putStringPairs(nil)
	bodyPtr, bodyLen := g.putBytes(req.body)

	fn := mod.ExportedFunction("handle-http-request")
	out, err := fn.Call(ctx, uint64(req.method), uint64(uriPtr), uint64(uriLen), uint64(hdrPtr), uint64(hdrLen),
		uint64(paramsPtr), uint64(paramsLen), 1, uint64(bodyPtr), uint64(bodyLen))
	if err != nil {
		return nil, fmt.Errorf("component %q: guest invocation failed: %w", c.id, err)
	}
	ret := uint32(out[0])
	g.checkRange(ret, 28)
	res = &inboundResponse{status: int(g.u16(ret))}
	if mem := mod.Memory(); mem != nil {
		res.memory = uint64(mem.Size())
	}
	switch g.u8(ret + 4) {
	case 0:
	case 1:
		res.headers = g.stringPairs(g.u32(ret+8), g.u32(ret+12))
	default:
		faultf("invalid option<headers> tag in response")
	}
	switch g.u8(ret + 16) {
	case 0:
	case 1:
		res.hasBody = true
		res.body = g.bytes(g.u32(ret+20), g.u32(ret+24))
	default:
		faultf("invalid option<body> tag in response")
	}
	return res, nil
}
