// Package ocireg runs a real OCI registry on loopback for tests:
// go-containerregistry v0.20.2's pkg/registry (an in-memory implementation
// of the distribution API, the one crane and ko test against), in an
// httptest server, optionally behind a small token service that speaks
// the Docker registry token protocol (WWW-Authenticate: Bearer
// realm,service,scope; GET realm?service&scope with optional Basic
// credentials; {"token","access_token","expires_in"}), or behind Basic
// authentication.
//
// What is real and what is not:
//   - Real: the distribution API (manifests, blobs, uploads, HEAD, 404 codes,
//     Docker-Content-Digest, index validation) is go-containerregistry's.
//   - This package's own: the token service and the auth wrapper (registries
//     each have their own; this one follows the protocol as Docker
//     distribution's token auth does: anonymous callers get a token without
//     access unless AnonymousPull, a wrong password is a 401 from the token
//     service), and the pusher, which writes artifacts in the layout
//     `spin registry push` produces (see spin.go).
package ocireg

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Auth selects how the registry authenticates pulls.
type Auth int

const (
	AuthNone   Auth = iota // anonymous pull and push
	AuthBearer             // 401 with a Bearer challenge; tokens from /token
	AuthBasic              // 401 with a Basic challenge
)

// Options configure Start.
type Options struct {
	Auth Auth
	// AnonymousPull: with AuthBearer, the token service gives anonymous
	// callers tokens that may pull (a public repository). Otherwise their
	// tokens grant nothing and the registry answers 401.
	AnonymousPull bool
	// Username and Password: the account that may pull (AuthBearer,
	// AuthBasic).
	Username, Password string
}

// Server is a registry on 127.0.0.1.
type Server struct {
	URL  string // http://127.0.0.1:port
	Host string // 127.0.0.1:port: the registry name in references

	opts  Options
	srv   *httptest.Server
	inner http.Handler
	admin string // Authorization the pusher uses (push and pull everywhere)

	mu         sync.Mutex
	tokens     map[string]map[string]bool // token -> "repo:action"
	tokenCalls int
	requests   []string
}

// Start starts a registry and closes it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{
		opts:   opts,
		inner:  registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		tokens: map[string]map[string]bool{},
	}
	switch opts.Auth {
	case AuthBearer:
		tok := randomToken()
		s.tokens[tok] = map[string]bool{"*": true}
		s.admin = "Bearer " + tok
	case AuthBasic:
		s.admin = "Basic admin" // checked literally below, never a valid user
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	s.Host = strings.TrimPrefix(s.srv.URL, "http://")
	t.Cleanup(s.srv.Close)
	return s
}

// Close stops the server (tests of "registry down").
func (s *Server) Close() { s.srv.Close() }

// Ref returns Host/repo:tag.
func (s *Server) Ref(repo, tag string) string { return s.Host + "/" + repo + ":" + tag }

// TokenRequests is how many times the token service was asked.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCalls
}

// Requests lists "METHOD path auth=<scheme>" of the requests seen so far
// (the pusher's excluded).
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	authz := r.Header.Get("Authorization")
	if s.admin != "" && authz == s.admin {
		s.inner.ServeHTTP(w, r)
		return
	}
	s.mu.Lock()
	scheme := "none"
	if i := strings.IndexByte(authz, ' '); i > 0 {
		scheme = strings.ToLower(authz[:i])
	}
	s.requests = append(s.requests, r.Method+" "+r.URL.Path+" auth="+scheme)
	s.mu.Unlock()

	if r.URL.Path == "/token" {
		s.serveToken(w, r)
		return
	}
	repo, action := scopeOf(r)
	switch s.opts.Auth {
	case AuthBearer:
		tok := strings.TrimPrefix(authz, "Bearer ")
		s.mu.Lock()
		grants := s.tokens[tok]
		ok := strings.HasPrefix(authz, "Bearer ") && grants != nil && (repo == "" || grants[repo+":"+action] || grants["*"])
		s.mu.Unlock()
		if !ok {
			scope := ""
			if repo != "" {
				scope = `,scope="repository:` + repo + `:` + action + `"`
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+s.URL+`/token",service="ocireg"`+scope)
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
	case AuthBasic:
		u, p, ok := r.BasicAuth()
		if !ok || u != s.opts.Username || p != s.opts.Password || action != "pull" {
			w.Header().Set("WWW-Authenticate", `Basic realm="ocireg"`)
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
	}
	s.inner.ServeHTTP(w, r)
}

// scopeOf maps a /v2/ request to its repository and action (pull for GET
// and HEAD, push otherwise); repo is "" for /v2/ itself.
func scopeOf(r *http.Request) (repo, action string) {
	action = "pull"
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		action = "push"
	}
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	for _, sep := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		if i := strings.Index(p, sep); i >= 0 {
			return p[:i], action
		}
	}
	return "", action
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenCalls++
	q := r.URL.Query()
	if q.Get("service") != "ocireg" {
		writeError(w, http.StatusBadRequest, "DENIED", "unknown service")
		return
	}
	u, p, hasBasic := r.BasicAuth()
	if hasBasic && (s.opts.Username == "" || u != s.opts.Username || p != s.opts.Password) {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid username or password")
		return
	}
	grants := map[string]bool{}
	for _, scope := range q["scope"] {
		// repository:<name>:<actions>
		parts := strings.Split(scope, ":")
		if len(parts) != 3 || parts[0] != "repository" {
			continue
		}
		for _, a := range strings.Split(parts[2], ",") {
			if a == "pull" && (hasBasic || s.opts.AnonymousPull) {
				grants[parts[1]+":pull"] = true
			}
		}
	}
	tok := randomToken()
	s.tokens[tok] = grants
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Digest returns sha256:<hex> of data.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform of an index entry.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// Blob is content with a media type.
type Blob struct {
	MediaType string
	Data      []byte
}

func (b Blob) descriptor() Descriptor {
	return Descriptor{MediaType: b.MediaType, Digest: Digest(b.Data), Size: int64(len(b.Data))}
}

// Image is an image manifest with its config and layers.
type Image struct {
	MediaType   string // "" means application/vnd.oci.image.manifest.v1+json
	Config      Blob
	Layers      []Blob
	Annotations map[string]string
}

// Pushed is what a push stored.
type Pushed struct {
	Ref      string // Host/repo:tag
	Digest   string // the manifest's
	Size     int64
	Manifest []byte
}

// PushImage uploads img's blobs (POST /blobs/uploads/ then PUT ?digest=,
// the monolithic upload of the distribution spec) and PUTs its manifest
// under tag.
func (s *Server) PushImage(t testing.TB, repo, tag string, img Image) Pushed {
	t.Helper()
	mt := img.MediaType
	if mt == "" {
		mt = "application/vnd.oci.image.manifest.v1+json"
	}
	m := struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Config        Descriptor        `json:"config"`
		Layers        []Descriptor      `json:"layers"`
		Annotations   map[string]string `json:"annotations,omitempty"`
	}{2, mt, img.Config.descriptor(), []Descriptor{}, img.Annotations}
	s.PushBlob(t, repo, img.Config.Data)
	for _, l := range img.Layers {
		s.PushBlob(t, repo, l.Data)
		m.Layers = append(m.Layers, l.descriptor())
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return s.PushManifest(t, repo, tag, mt, raw)
}

// PushIndex PUTs an image index (the manifests must be in repo already).
func (s *Server) PushIndex(t testing.TB, repo, tag string, entries []Descriptor) Pushed {
	t.Helper()
	raw, err := json.Marshal(struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []Descriptor `json:"manifests"`
	}{2, "application/vnd.oci.image.index.v1+json", entries})
	if err != nil {
		t.Fatal(err)
	}
	return s.PushManifest(t, repo, tag, "application/vnd.oci.image.index.v1+json", raw)
}

// PushBlob uploads one blob (skipped when the registry has it).
func (s *Server) PushBlob(t testing.TB, repo string, data []byte) string {
	t.Helper()
	d := Digest(data)
	if resp := s.admit(t, http.MethodHead, s.URL+"/v2/"+repo+"/blobs/"+d, "", nil); resp.StatusCode == http.StatusOK {
		return d
	}
	resp := s.admit(t, http.MethodPost, s.URL+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ocireg: POST upload for %s: %s", repo, resp.Status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("ocireg: upload Location: %v", err)
	}
	loc = s.srvURL().ResolveReference(loc)
	q := loc.Query()
	q.Set("digest", d)
	loc.RawQuery = q.Encode()
	resp = s.admit(t, http.MethodPut, loc.String(), "application/octet-stream", data)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("ocireg: PUT blob %s: %s", d, resp.Status)
	}
	return d
}

// PushManifest PUTs raw as a manifest of media type mt under tag ("" for
// digest only).
func (s *Server) PushManifest(t testing.TB, repo, tag, mt string, raw []byte) Pushed {
	t.Helper()
	d := Digest(raw)
	target := tag
	if target == "" {
		target = d
	}
	resp := s.admit(t, http.MethodPut, s.URL+"/v2/"+repo+"/manifests/"+target, mt, raw)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("ocireg: PUT manifest %s:%s: %s", repo, target, resp.Status)
	}
	ref := s.Host + "/" + repo + "@" + d
	if tag != "" {
		ref = s.Ref(repo, tag)
	}
	return Pushed{Ref: ref, Digest: d, Size: int64(len(raw)), Manifest: raw}
}

func (s *Server) srvURL() *url.URL {
	u, _ := url.Parse(s.URL)
	return u
}

// admit sends a request as the pusher (past the auth wrapper).
func (s *Server) admit(t testing.TB, method, u, ct string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if s.admin != "" {
		req.Header.Set("Authorization", s.admin)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("ocireg: %s %s: %v", method, u, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}
