package spinhost

import (
	"bytes"
	"compress/gzip"
	"context"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func gzipBytes(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gzipUpstream answers every request with the encoding ?enc= names
// (default gzip; "none" for none) and a body compressed as ?body= says
// (gzip, or "raw" bytes as they are), and records the request headers.
type gzipUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	last http.Header
}

func newGzipUpstream(t *testing.T) *gzipUpstream {
	u := &gzipUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.last = r.Header.Clone()
		u.mu.Unlock()
		q := r.URL.Query()
		text := "hello, " + r.URL.Path
		body := gzipBytes(t, text)
		if q.Get("body") == "raw" {
			body = []byte(q.Get("raw"))
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Upstream", "gzip")
		switch enc := q.Get("enc"); enc {
		case "":
			w.Header().Set("Content-Encoding", "gzip")
		case "none":
		default:
			w.Header().Set("Content-Encoding", enc)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if q.Get("length") != "" {
			w.Header().Set("Content-Length", q.Get("length"))
			body = body[:0]
		}
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(body)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *gzipUpstream) lastHeader(name string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last.Values(name)
}

// outboundHost is just enough of a Host to call sendOutbound.
func outboundHost(t *testing.T, allowed ...string) (*Host, *component, *testLog) {
	t.Helper()
	logs := &testLog{}
	h := &Host{log: log.New(logs, "", 0), client: &http.Client{Transport: newOutboundTransport(nil)}}
	t.Cleanup(h.client.CloseIdleConnections)
	a, err := ParseAllowedHosts(allowed, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h, &component{id: "guest", allowed: a}, logs
}

func respHeaderMap(hs [][2]string) map[string][]string {
	m := map[string][]string{}
	for _, kv := range hs {
		m[kv[0]] = append(m[kv[0]], kv[1])
	}
	return m
}

// Outbound HTTP decodes gzip like Spin's reqwest client (built with its
// gzip feature): Accept-Encoding: gzip (and Accept: */*) unless the guest
// set them, a response with Content-Encoding: gzip decoded whatever the
// guest asked for, and its Content-Encoding and Content-Length removed.
func TestOutboundHTTPGzip(t *testing.T) {
	up := newGzipUpstream(t)
	h, c, logs := outboundHost(t, up.URL)
	send := func(method, path string, headers ...[2]string) (*outboundResponse, uint8) {
		t.Helper()
		return h.sendOutbound(context.Background(), c, outboundRequest{method: method, uri: up.URL + path, headers: headers})
	}
	for _, tc := range []struct {
		name     string
		method   string
		path     string
		headers  [][2]string
		sentAE   string // Accept-Encoding the server saw ("" for none)
		sentAcc  string // Accept the server saw
		body     string
		encoding string // content-encoding the guest sees ("" for none)
		length   string // content-length the guest sees ("" for none)
	}{
		{name: "gzip decoded", method: "GET", path: "/a", sentAE: "gzip", sentAcc: "*/*", body: "hello, /a"},
		{name: "guest's own Accept-Encoding and Accept", method: "GET", path: "/b", headers: [][2]string{{"Accept-Encoding", "identity"}, {"Accept", "application/json"}},
			sentAE: "identity", sentAcc: "application/json", body: "hello, /b"},
		{name: "guest asks for gzip", method: "POST", path: "/c", headers: [][2]string{{"accept-encoding", "gzip"}}, sentAE: "gzip", sentAcc: "*/*", body: "hello, /c"},
		{name: "range: no Accept-Encoding", method: "GET", path: "/d", headers: [][2]string{{"Range", "bytes=0-"}}, sentAcc: "*/*", body: "hello, /d"},
		{name: "not encoded", method: "GET", path: "/e?enc=none&body=raw&raw=plain", sentAE: "gzip", sentAcc: "*/*", body: "plain", length: "5"},
		{name: "other encodings pass through", method: "GET", path: "/f?enc=br&body=raw&raw=xyz", sentAE: "gzip", sentAcc: "*/*", body: "xyz", encoding: "br", length: "3"},
		{name: "gzip, but not exactly", method: "GET", path: "/g?enc=GZIP&body=raw&raw=xyz", sentAE: "gzip", sentAcc: "*/*", body: "xyz", encoding: "GZIP", length: "3"},
		{name: "content-length 0 is not decoded", method: "GET", path: "/h?length=0", sentAE: "gzip", sentAcc: "*/*", body: "", encoding: "gzip", length: "0"},
		{name: "HEAD: headers removed, empty body", method: "HEAD", path: "/i", sentAE: "gzip", sentAcc: "*/*", body: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, code := send(tc.method, tc.path, tc.headers...)
			if code != httpErrSuccess {
				t.Fatalf("error %d\n%s", code, logs.String())
			}
			if got := strings.Join(up.lastHeader("Accept-Encoding"), ","); got != tc.sentAE {
				t.Errorf("server saw Accept-Encoding %q, want %q", got, tc.sentAE)
			}
			if got := strings.Join(up.lastHeader("Accept"), ","); got != tc.sentAcc {
				t.Errorf("server saw Accept %q, want %q", got, tc.sentAcc)
			}
			if res.status != 200 || string(res.body) != tc.body {
				t.Errorf("response %d %q, want 200 %q", res.status, res.body, tc.body)
			}
			hm := respHeaderMap(res.headers)
			if got := strings.Join(hm["content-encoding"], ","); got != tc.encoding {
				t.Errorf("content-encoding %q, want %q", got, tc.encoding)
			}
			if got := strings.Join(hm["content-length"], ","); got != tc.length {
				t.Errorf("content-length %q, want %q", got, tc.length)
			}
			if got := strings.Join(hm["x-upstream"], ","); got != "gzip" {
				t.Errorf("other headers are lost: %v", hm)
			}
		})
	}

	// A body that says gzip but is not is a runtime error, as a reqwest
	// decode error is.
	if _, code := send("GET", "/bad?body=raw&raw=not-gzip"); code != httpErrRuntimeError {
		t.Errorf("bad gzip body: code %d, want runtime-error", code)
	}
	if !strings.Contains(logs.String(), "decoding the gzip response body") {
		t.Errorf("the decoding error is not logged:\n%s", logs.String())
	}
}

// Through the real guest: the Go SDK gets the decoded body.
func TestE2EOutboundHTTPGzip(t *testing.T) {
	up := newGzipUpstream(t)
	a := newApp(t, appConfig{allowed: []string{up.URL}})
	h := start(t, a.options())
	expect(t, h, "/outbound?url="+url.QueryEscape(up.URL+"/zipped"), "200 gzip hello, /zipped")
	if got := strings.Join(up.lastHeader("Accept-Encoding"), ","); got != "gzip" {
		t.Errorf("Accept-Encoding = %q, want gzip", got)
	}
}
