package api

import (
	"net/http"
	"net/url"
	"strings"
)

// Spin describes each request to the component in spin-* headers that it
// appends AFTER the client's own headers (fermyon/spin
// crates/trigger-http/src/headers.rs, prepare_request_headers: client
// headers first, then compute_default_headers). The Go SDK v2.2.0 builds
// r.URL from the FIRST spin-full-url value (http/internals.go:
// header.Get(HeaderFullUrl)) and r.RemoteAddr from the first
// spin-client-addr, so a client that sends its own spin-full-url chooses
// the route spinport sees, and with it the path rules of any proxy in
// front and the cookie's Secure flag.
//
// FromRuntime therefore keeps only the runtime's value, the last one, of
// every spin-* header and rebuilds the URL and client address from them. It
// also refuses a path with an encoded slash (%2F): net/url decodes it into
// r.URL.Path, where the router would take it for a segment separator, so
// /tenants/a%2Fapps/b could reach another route than the one a proxy saw.
func FromRuntime(r *http.Request) (*http.Request, error) {
	for name, vs := range r.Header {
		if len(vs) > 1 && strings.HasPrefix(strings.ToLower(name), "spin-") {
			r.Header[name] = vs[len(vs)-1:]
		}
	}
	if full := r.Header.Get("Spin-Full-Url"); full != "" && full != r.URL.String() {
		u, err := url.Parse(full)
		if err != nil {
			return r, badRequest("", "the request URL cannot be parsed")
		}
		r.URL = u
		r.RequestURI = u.RequestURI()
	}
	if addr := r.Header.Get("Spin-Client-Addr"); addr != "" {
		r.RemoteAddr = addr
	}
	if strings.Contains(strings.ToLower(r.URL.EscapedPath()), "%2f") {
		return r, badRequest("", "the path contains an encoded '/' (%2F), which no spinport name can contain: send names as they are, without encoding '/'")
	}
	return r, nil
}

// Guard applies FromRuntime before next, answering problem+json when it refuses.
func Guard(next http.Handler, log func(string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := FromRuntime(r)
		if err != nil {
			writeError(w, err, log)
			return
		}
		next.ServeHTTP(w, r)
	})
}
