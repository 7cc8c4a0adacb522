package registry

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
)

// fakeReg is an in-memory registry and token service for client tests. It
// is an http.Handler, so the same fake serves in-memory requests (memDoer:
// native and TinyGo) and a real loopback server (native_test.go). The real
// registry (go-containerregistry's) is used by the e2e contract tests.
type fakeReg struct {
	mu sync.Mutex

	manifests map[string]fakeManifest // "repo@digest" and "repo:tag"
	blobs     map[string][]byte       // digest -> content

	// auth: "" (anonymous), "bearer" or "basic".
	auth       string
	user, pass string
	anonPull   bool            // bearer: anonymous tokens may pull
	realm      string          // bearer: token realm URL
	issued     map[string]bool // bearer tokens issued -> may pull
	tokenCalls int
	tokenBasic []bool // per token call: whether it carried Basic credentials

	status     map[string]int    // path -> forced status (e.g. 503)
	headers    map[string]string // extra headers on forced statuses
	noHEAD     bool              // HEAD answers 405 (some registries)
	redirect   string            // blobs: redirect to this base URL + path
	corrupt    map[string]bool   // blob digests served with wrong content
	requests   []string          // "METHOD scheme://host/path auth=<kind>"
	authByHost map[string][]string
}

type fakeManifest struct {
	mediaType string
	body      []byte
}

func newFakeReg() *fakeReg {
	return &fakeReg{
		manifests: map[string]fakeManifest{}, blobs: map[string][]byte{}, issued: map[string]bool{},
		status: map[string]int{}, headers: map[string]string{}, corrupt: map[string]bool{}, authByHost: map[string][]string{},
		realm: "https://auth.example/token",
	}
}

// putManifest stores a manifest under its digest and, if tag != "", the tag.
func (f *fakeReg) putManifest(repo, tag, mediaType string, body []byte) string {
	d := sha256Digest(body)
	f.manifests[repo+"@"+d] = fakeManifest{mediaType, body}
	if tag != "" {
		f.manifests[repo+":"+tag] = fakeManifest{mediaType, body}
	}
	return d
}

func (f *fakeReg) putBlob(data []byte) string {
	d := sha256Digest(data)
	f.blobs[d] = data
	return d
}

// pushApp stores manifest m and its blobs (spinManifest's output).
func (f *fakeReg) pushApp(repo, tag string, m *Manifest, blobs map[string][]byte) string {
	for _, b := range blobs {
		f.putBlob(b)
	}
	return f.putManifest(repo, tag, MediaTypeOCIManifest, manifestJSON(m))
}

func manifestJSON(m *Manifest) []byte {
	desc := func(d Descriptor) string {
		return `{"mediaType":"` + d.MediaType + `","digest":"` + d.Digest + `","size":` + strconv.FormatInt(d.Size, 10) + `}`
	}
	var ls []string
	for _, l := range m.Layers {
		ls = append(ls, desc(l))
	}
	return []byte(`{"schemaVersion":2,"mediaType":"` + m.MediaType + `","config":` + desc(m.Config) + `,"layers":[` + strings.Join(ls, ",") + `]}`)
}

func (f *fakeReg) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	authz := r.Header.Get("Authorization")
	kind := "none"
	if i := strings.IndexByte(authz, ' '); i > 0 {
		kind = strings.ToLower(authz[:i])
	}
	f.requests = append(f.requests, r.Method+" "+r.URL.Scheme+"://"+r.URL.Host+r.URL.Path+" auth="+kind)
	f.authByHost[r.Host] = append(f.authByHost[r.Host], kind)

	if r.URL.Path == "/token" {
		f.serveToken(w, r)
		return
	}
	if r.URL.Path == "/v2/" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if code, ok := f.status[r.URL.Path]; ok {
		for k, v := range f.headers {
			w.Header().Set(k, v)
		}
		regErr(w, code, "UNAVAILABLE", "forced status")
		return
	}
	if !f.authorized(r) {
		switch f.auth {
		case "bearer":
			repo := repoOf(r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+f.realm+`",service="reg.example",scope="repository:`+repo+`:pull"`)
		case "basic":
			w.Header().Set("WWW-Authenticate", `Basic realm="reg.example"`)
		}
		regErr(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	switch {
	case strings.Contains(path, "/manifests/"):
		i := strings.LastIndex(path, "/manifests/")
		repo, target := path[:i], path[i+len("/manifests/"):]
		key := repo + ":" + target
		if strings.HasPrefix(target, "sha256:") {
			key = repo + "@" + target
		}
		m, ok := f.manifests[key]
		if !ok {
			regErr(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
		if r.Method == http.MethodHead && f.noHEAD {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", m.mediaType)
		w.Header().Set("Docker-Content-Digest", sha256Digest(m.body))
		w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(m.body)
		}
	case strings.Contains(path, "/blobs/"):
		d := path[strings.LastIndex(path, "/")+1:]
		b, ok := f.blobs[d]
		if !ok {
			regErr(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown")
			return
		}
		if f.redirect != "" && r.Host == "reg.example" {
			w.Header().Set("Location", f.redirect+r.URL.Path)
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		if f.corrupt[d] {
			b = append([]byte("x"), b...)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
		w.Write(b)
	default:
		regErr(w, http.StatusNotFound, "NAME_UNKNOWN", "unknown")
	}
}

func (f *fakeReg) authorized(r *http.Request) bool {
	if r.Host == "blobs.example" { // the redirect target: signed URLs need no auth
		return r.Header.Get("Authorization") == ""
	}
	authz := r.Header.Get("Authorization")
	switch f.auth {
	case "bearer":
		return f.issued[strings.TrimPrefix(authz, "Bearer ")]
	case "basic":
		u, p, ok := r.BasicAuth()
		return ok && u == f.user && p == f.pass
	}
	return true
}

func (f *fakeReg) serveToken(w http.ResponseWriter, r *http.Request) {
	f.tokenCalls++
	u, p, hasBasic := r.BasicAuth()
	f.tokenBasic = append(f.tokenBasic, hasBasic)
	if r.URL.Query().Get("service") != "reg.example" || !strings.HasPrefix(r.URL.Query().Get("scope"), "repository:") {
		http.Error(w, "bad token request", http.StatusBadRequest)
		return
	}
	if hasBasic && (u != f.user || p != f.pass) {
		regErr(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid username or password")
		return
	}
	tok := "tok-" + strconv.Itoa(f.tokenCalls) + "-s3cr3t"
	f.issued[tok] = hasBasic || f.anonPull
	if !f.issued[tok] {
		delete(f.issued, tok)
		tok = "anon-" + strconv.Itoa(f.tokenCalls) + "-noaccess"
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"token":"`+tok+`","expires_in":300}`)
}

func repoOf(path string) string {
	p := strings.TrimPrefix(path, "/v2/")
	for _, sep := range []string{"/manifests/", "/blobs/"} {
		if i := strings.LastIndex(p, sep); i >= 0 {
			return p[:i]
		}
	}
	return p
}

func regErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, `{"errors":[{"code":"`+code+`","message":"`+msg+`"}]}`)
}

// memDoer serves requests with a handler in memory (no sockets: works
// under TinyGo/WASI too).
type memDoer struct {
	h   http.Handler
	err error
}

func (d *memDoer) Do(req *http.Request) (*http.Response, error) {
	if d.err != nil {
		return nil, d.err
	}
	rec := httptest.NewRecorder()
	req.Host = req.URL.Host
	req.RequestURI = req.URL.RequestURI()
	d.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

var errTransport = errors.New(`Get "https://alice:hunter2@reg.example/v2/": dial tcp 10.0.0.1:443: connect: connection refused`)
