// Package registry reads Spin applications from OCI registries (the
// distribution API) and tells what they need before spinport deploys
// them: which components, routes, variables, key-value stores, SQLite
// databases and outbound hosts. It runs inside the Spin component
// (TinyGo 0.30): standard library and fastjson only, no reflection-based
// JSON, no time.Sleep, concrete errors.As targets.
//
// A Client resolves a reference to a manifest digest, reads manifests and
// blobs with their digests verified and their sizes bounded, and does the
// registry token dance (anonymous first; Bearer tokens from the realm the
// registry names, with the caller's credentials if it has some; Basic).
// Inspect then reads the locked app (Spin's spin.lock JSON) and refuses
// what is not a Spin app with a message the tenant can act on.
package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

const (
	// MaxManifestBytes bounds a manifest or index (the distribution spec
	// lets registries refuse manifests over 4 MiB).
	MaxManifestBytes = 4 << 20

	// MaxLockedAppBytes bounds the locked app Inspect reads through
	// Client.InspectRef. Spin inlines only files up to 128 bytes, so a
	// locked app is a few KiB per component.
	MaxLockedAppBytes = 4 << 20

	// maxTokenBytes bounds a token service answer; maxErrorBody the part
	// of an error answer kept for messages.
	maxTokenBytes = 1 << 20
	maxErrorBody  = 64 << 10
	maxErrorText  = 300

	// maxRedirects bounds redirects this package follows itself (when
	// the Doer returns them, e.g. blob downloads to object storage).
	maxRedirects = 5
)

// Doer sends one HTTP request. *http.Client satisfies it natively; in the
// .wasm use the Spin SDK's outbound HTTP client (spinhttp.NewClient()).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client talks to OCI registries. Give it HTTP; Credentials and Insecure
// are optional. It caches the Authorization it obtained per registry and
// repository for its whole life (tokens last minutes; a Client should
// live for one incoming request, which is what a Spin instance does). A
// Client is safe for concurrent use if HTTP and Credentials are.
type Client struct {
	HTTP Doer

	// Credentials returns pull credentials for a registry (as written in
	// references, e.g. "ghcr.io", "127.0.0.1:5000"). nil or ok=false:
	// anonymous only. They are sent to the registry (Basic) or to the
	// token realm it names (Bearer), never anywhere else.
	Credentials func(registry string) (username, password string, ok bool)

	// Insecure reports whether a registry is reached over plain http
	// (tests on loopback). nil or false: https.
	Insecure func(registry string) bool

	mu   sync.Mutex
	auth map[string]string // apiHost + " " + repository -> Authorization value (secret)
}

// String keeps cached tokens out of %v output.
func (c *Client) String() string { return "registry.Client" }

// GoString keeps cached tokens out of %#v output.
func (c *Client) GoString() string { return c.String() }

// Resolve finds the manifest ref names: its digest, media type and size.
// A digest in ref is verified against what the registry serves. An image
// index is followed to its wasm/wasip1 entry, whose descriptor is
// returned; an index without one is a *NotSpinAppError.
func (c *Client) Resolve(ref string) (Descriptor, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return Descriptor{}, err
	}
	return c.resolve(r)
}

func (c *Client) resolve(r Reference) (Descriptor, error) {
	name := r.String()
	path := "/v2/" + r.Repository + "/manifests/" + r.target()
	var d Descriptor
	resp, err := c.send(r, http.MethodHead, path, manifestAccept, name, "manifest")
	var pe *ProtocolError
	switch {
	case errors.As(err, &pe):
		// Some registries answer HEAD with 405 or 400: GET below.
		resp = &http.Response{StatusCode: http.StatusMethodNotAllowed, Header: http.Header{}, Body: http.NoBody}
	case err != nil:
		return Descriptor{}, err
	}
	resp.Body.Close()
	d = Descriptor{
		Digest:    resp.Header.Get("Docker-Content-Digest"),
		MediaType: baseMediaType(resp.Header.Get("Content-Type")),
		Size:      resp.ContentLength,
	}
	if d.Size <= 0 { // some transports drop ContentLength on HEAD
		d.Size, _ = strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	}
	// HEAD is enough when the registry says what it has; otherwise (no
	// digest header, an odd Content-Type, an index to open) read the
	// manifest itself.
	if resp.StatusCode == http.StatusOK && checkDigest(d.Digest) == nil && isManifestType(d.MediaType) && !isIndexType(d.MediaType) && d.Size > 0 {
		if r.Digest != "" && d.Digest != r.Digest {
			return Descriptor{}, &ProtocolError{Registry: r.Registry, Op: "HEAD " + path, Reason: "the registry answered digest " + d.Digest + " for " + r.Digest}
		}
		return d, nil
	}
	m, err := c.getManifest(r, r.target(), name)
	if err != nil {
		return Descriptor{}, err
	}
	if r.Digest != "" && m.Digest != r.Digest {
		return Descriptor{}, &ProtocolError{Registry: r.Registry, Op: "GET " + path, Reason: "the manifest's sha256 is " + m.Digest + ", not " + r.Digest}
	}
	if !m.IsIndex() {
		return Descriptor{Digest: m.Digest, MediaType: m.MediaType, Size: int64(len(m.Raw))}, nil
	}
	e, ok := m.PickWasm()
	if !ok {
		return Descriptor{}, &NotSpinAppError{Ref: name, Reason: "is a multi-platform image index (" + m.platforms() + ") without a wasm/wasip1 entry"}
	}
	return e.Descriptor, nil
}

// Manifest reads the manifest repo@digest (repo is registry/repository,
// e.g. "ghcr.io/acme/web"), verifies its sha256 and parses it.
func (c *Client) Manifest(repo, digest string) (*Manifest, error) {
	r, err := parseRepo(repo)
	if err != nil {
		return nil, err
	}
	if err := checkDigest(digest); err != nil {
		return nil, &ReferenceError{Ref: repo + "@" + digest, Reason: err.Error()}
	}
	r.Digest = digest
	m, err := c.getManifest(r, digest, r.String())
	if err != nil {
		return nil, err
	}
	if m.Digest != digest {
		return nil, &ProtocolError{Registry: r.Registry, Op: "GET manifest " + digest, Reason: "the manifest's sha256 is " + m.Digest}
	}
	return m, nil
}

// getManifest GETs and parses a manifest (target is a tag or digest).
func (c *Client) getManifest(r Reference, target, name string) (*Manifest, error) {
	path := "/v2/" + r.Repository + "/manifests/" + target
	resp, err := c.send(r, http.MethodGet, path, manifestAccept, name, "manifest")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &ProtocolError{Registry: r.Registry, Op: "GET " + path, Reason: "unexpected status " + strconv.Itoa(resp.StatusCode)}
	}
	if resp.ContentLength > MaxManifestBytes {
		return nil, &ProtocolError{Registry: r.Registry, Op: "GET " + path, Reason: "the manifest is " + strconv.FormatInt(resp.ContentLength, 10) + " bytes, over the " + itoa(MaxManifestBytes) + " byte bound"}
	}
	data, err := readBounded(resp.Body, MaxManifestBytes)
	if err != nil {
		return nil, c.readError(r, "GET "+path, err, MaxManifestBytes)
	}
	m, err := ParseManifest(data, resp.Header.Get("Content-Type"))
	if err != nil {
		if m != nil && (m.MediaType != "" && !isManifestType(m.MediaType)) {
			return nil, &NotSpinAppError{Ref: name, Reason: "is not an OCI image manifest (" + err.Error() + ")"}
		}
		return nil, &ProtocolError{Registry: r.Registry, Op: "GET " + path, Reason: "unreadable manifest: " + err.Error()}
	}
	return m, nil
}

// Blob reads blob repo@digest, at most maxBytes of it, and verifies its
// sha256. A larger blob is a *ProtocolError (nothing past maxBytes+1 is
// read).
func (c *Client) Blob(repo, digest string, maxBytes int64) ([]byte, error) {
	r, err := parseRepo(repo)
	if err != nil {
		return nil, err
	}
	if err := checkDigest(digest); err != nil {
		return nil, &ReferenceError{Ref: repo + "@" + digest, Reason: err.Error()}
	}
	path := "/v2/" + r.Repository + "/blobs/" + digest
	resp, err := c.send(r, http.MethodGet, path, "", repo+"@"+digest, "blob")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &ProtocolError{Registry: r.Registry, Op: "GET " + path, Reason: "unexpected status " + strconv.Itoa(resp.StatusCode)}
	}
	if resp.ContentLength > maxBytes {
		return nil, &ProtocolError{Registry: r.Registry, Op: "GET " + path, Reason: "the blob is " + strconv.FormatInt(resp.ContentLength, 10) + " bytes, over the " + strconv.FormatInt(maxBytes, 10) + " byte bound"}
	}
	data, err := readBounded(resp.Body, maxBytes)
	if err != nil {
		return nil, c.readError(r, "GET "+path, err, maxBytes)
	}
	if got := sha256Digest(data); got != digest {
		return nil, &ProtocolError{Registry: r.Registry, Op: "GET " + path, Reason: "the blob's sha256 is " + got + ": content does not match its digest"}
	}
	return data, nil
}

// InspectRef resolves ref, reads its manifest and locked app and inspects
// it (see Inspect). The descriptor is the manifest's: deploy
// registry/repository@Digest so that what runs is what was inspected.
func (c *Client) InspectRef(ref string) (*App, Descriptor, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, Descriptor{}, err
	}
	d, err := c.resolve(r)
	if err != nil {
		return nil, Descriptor{}, err
	}
	m, err := c.Manifest(r.Repo(), d.Digest)
	if err != nil {
		return nil, d, err
	}
	app, err := Inspect(r.String(), m, func(b Descriptor) ([]byte, error) {
		if b.Size > MaxLockedAppBytes {
			return nil, &InvalidAppError{Ref: r.String(), Reason: "its locked app is " + strconv.FormatInt(b.Size, 10) + " bytes, over the " + itoa(MaxLockedAppBytes) + " byte bound"}
		}
		return c.Blob(r.Repo(), b.Digest, MaxLockedAppBytes)
	})
	return app, d, err
}

// tooLarge is readBounded's error for content over the bound.
type tooLarge struct{}

func (tooLarge) Error() string { return "too large" }

func readBounded(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, tooLarge{}
	}
	return data, nil
}

func (c *Client) readError(r Reference, op string, err error, max int64) error {
	if _, ok := err.(tooLarge); ok {
		return &ProtocolError{Registry: r.Registry, Op: op, Reason: "the answer is over the " + strconv.FormatInt(max, 10) + " byte bound"}
	}
	return &UnavailableError{Registry: r.Registry, Op: op, Cause: "reading the answer: " + clip(err.Error(), maxErrorText)}
}

// send sends one request with the cached Authorization (if any); on 401 it
// answers the registry's challenge and sends it again. It returns the
// answer of a 2xx (or a 3xx it could not follow), and turns 404, 401/403,
// 429, 5xx and transport errors into typed errors. name and what are for
// messages ("ghcr.io/acme/web:v1", "manifest").
func (c *Client) send(r Reference, method, path, accept, name, what string) (*http.Response, error) {
	if c.HTTP == nil {
		return nil, errorString("registry: Client needs HTTP (a Doer)")
	}
	host := r.apiHost()
	key := host + " " + r.Repository
	u := c.scheme(r.Registry) + "://" + host + path
	op := method + " " + path

	authz := c.cached(key)
	challenged := false
	for {
		resp, err := c.do(r, method, u, accept, authz, op)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return resp, nil
		case resp.StatusCode == http.StatusNotFound:
			code, _ := registryError(resp)
			return nil, &NotFoundError{Ref: name, What: what, Code: code}
		case resp.StatusCode == http.StatusUnauthorized && !challenged:
			challenges := ParseChallenges(resp.Header.Values("WWW-Authenticate"))
			drain(resp)
			challenged = true
			a, err := c.answer(r, challenges, op)
			if err != nil {
				return nil, err
			}
			authz = a
			c.store(key, authz)
			continue
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			code, msg := registryError(resp)
			c.store(key, "") // a refused token is not worth reusing
			detail := strings.TrimSpace(code + " " + msg)
			return nil, &AuthError{Registry: r.Registry, Repository: r.Repository, Status: resp.StatusCode, WithCredentials: c.hasCredentials(r.Registry), Detail: detail}
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			code, msg := registryError(resp)
			return nil, &UnavailableError{Registry: r.Registry, Op: op, Status: resp.StatusCode, RetryAfter: clip(resp.Header.Get("Retry-After"), 32), Cause: strings.TrimSpace(code + " " + msg)}
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			return resp, nil // do() follows redirects it can; this one it could not
		default:
			code, msg := registryError(resp)
			return nil, &ProtocolError{Registry: r.Registry, Op: op, Reason: "answered " + strconv.Itoa(resp.StatusCode) + " " + strings.TrimSpace(code+" "+msg)}
		}
	}
}

// do sends the request and follows redirects the Doer hands back (at most
// maxRedirects, GET/HEAD only), without Authorization on another host:
// blob downloads redirect to signed object-storage URLs that must not
// see the registry token.
func (c *Client) do(r Reference, method, u, accept, authz, op string) (*http.Response, error) {
	origin := ""
	for hop := 0; ; hop++ {
		req, err := http.NewRequest(method, u, nil)
		if err != nil {
			return nil, &ProtocolError{Registry: r.Registry, Op: op, Reason: "cannot build request: " + clip(redactURL(err.Error()), maxErrorText)}
		}
		if origin == "" {
			origin = req.URL.Host
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if authz != "" && req.URL.Host == origin {
			req.Header.Set("Authorization", authz)
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return nil, &UnavailableError{Registry: r.Registry, Op: op, Cause: clip(redactURL(err.Error()), maxErrorText)}
		}
		if resp.Body == nil { // not from net/http's client (e.g. a HEAD through another Doer)
			resp.Body = http.NoBody
		}
		loc := resp.Header.Get("Location")
		redirect := resp.StatusCode == http.StatusMovedPermanently || resp.StatusCode == http.StatusFound ||
			resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusTemporaryRedirect || resp.StatusCode == http.StatusPermanentRedirect
		if !redirect || loc == "" || hop >= maxRedirects {
			return resp, nil
		}
		drain(resp)
		next, err := req.URL.Parse(loc)
		if err != nil || (next.Scheme != "https" && next.Scheme != "http") {
			return nil, &ProtocolError{Registry: r.Registry, Op: op, Reason: "redirect to an unusable location"}
		}
		if req.URL.Scheme == "https" && next.Scheme == "http" {
			return nil, &ProtocolError{Registry: r.Registry, Op: op, Reason: "redirect from https to plain http refused"}
		}
		u = next.String()
	}
}

// answer turns the registry's challenges into an Authorization value:
// a Bearer token from the realm (anonymous, or with the caller's
// credentials), or Basic with the caller's credentials.
func (c *Client) answer(r Reference, challenges []Challenge, op string) (string, error) {
	user, pass, hasCreds := c.credentials(r.Registry)
	for _, ch := range challenges {
		if ch.Scheme == "bearer" && ch.Params["realm"] != "" {
			return c.token(r, ch, user, pass, hasCreds)
		}
	}
	for _, ch := range challenges {
		if ch.Scheme == "basic" {
			if !hasCreds {
				return "", &AuthError{Registry: r.Registry, Repository: r.Repository, Status: http.StatusUnauthorized, Detail: "it asks for Basic credentials"}
			}
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)), nil
		}
	}
	return "", &AuthError{Registry: r.Registry, Repository: r.Repository, Status: http.StatusUnauthorized, WithCredentials: hasCreds, Detail: "it answered 401 without a Bearer or Basic challenge spinport can answer"}
}

// token fetches a Bearer token from the challenge's realm (the Docker
// token protocol: GET realm?service=...&scope=..., Basic credentials
// optional; the answer has "token" or "access_token").
func (c *Client) token(r Reference, ch Challenge, user, pass string, hasCreds bool) (string, error) {
	realm, err := url.Parse(ch.Params["realm"])
	if err != nil || realm.Host == "" || (realm.Scheme != "https" && realm.Scheme != "http") || realm.User != nil {
		return "", &ProtocolError{Registry: r.Registry, Op: "token", Reason: "the Bearer challenge's realm is not an http(s) URL"}
	}
	// Credentials go over https only, unless the caller marked this
	// registry insecure (loopback tests).
	if realm.Scheme == "http" && !c.insecure(r.Registry) {
		return "", &ProtocolError{Registry: r.Registry, Op: "token", Reason: "the token realm " + realm.Host + " is plain http; refusing to use it for a https registry"}
	}
	q := realm.Query()
	if s := ch.Params["service"]; s != "" {
		q.Set("service", s)
	}
	scope := ch.Params["scope"]
	if scope == "" {
		scope = "repository:" + r.Repository + ":pull"
	}
	q.Set("scope", scope)
	realm.RawQuery = q.Encode()
	op := "token from " + realm.Host + realm.Path
	req, err := http.NewRequest(http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", &ProtocolError{Registry: r.Registry, Op: op, Reason: "cannot build the token request"}
	}
	if hasCreds {
		req.SetBasicAuth(user, pass)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return "", &UnavailableError{Registry: r.Registry, Op: op, Cause: clip(redactURL(err.Error()), maxErrorText)}
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		code, msg := registryError(resp)
		return "", &AuthError{Registry: r.Registry, Repository: r.Repository, Status: resp.StatusCode, WithCredentials: hasCreds, Detail: strings.TrimSpace("token service: " + code + " " + msg)}
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return "", &UnavailableError{Registry: r.Registry, Op: op, Status: resp.StatusCode, RetryAfter: clip(resp.Header.Get("Retry-After"), 32)}
	default:
		return "", &ProtocolError{Registry: r.Registry, Op: op, Reason: "the token service answered " + strconv.Itoa(resp.StatusCode)}
	}
	data, err := readBounded(resp.Body, maxTokenBytes)
	if err != nil {
		return "", c.readError(r, op, err, maxTokenBytes)
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(data)
	if err != nil || v.Type() != fastjson.TypeObject || !jsonw.Shallow(data, jsonw.MaxDepth) {
		return "", &ProtocolError{Registry: r.Registry, Op: op, Reason: "the token answer is not a JSON object"}
	}
	tok := string(v.GetStringBytes("token"))
	if tok == "" {
		tok = string(v.GetStringBytes("access_token"))
	}
	if tok == "" || strings.ContainsAny(tok, " \r\n") {
		return "", &ProtocolError{Registry: r.Registry, Op: op, Reason: "the token answer has no usable token or access_token"}
	}
	return "Bearer " + tok, nil
}

func (c *Client) credentials(registry string) (string, string, bool) {
	if c.Credentials == nil {
		return "", "", false
	}
	return c.Credentials(registry)
}

func (c *Client) hasCredentials(registry string) bool {
	_, _, ok := c.credentials(registry)
	return ok
}

func (c *Client) insecure(registry string) bool { return c.Insecure != nil && c.Insecure(registry) }

func (c *Client) scheme(registry string) string {
	if c.insecure(registry) {
		return "http"
	}
	return "https"
}

func (c *Client) cached(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auth[key]
}

func (c *Client) store(key, authz string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.auth == nil {
		c.auth = map[string]string{}
	}
	if authz == "" {
		delete(c.auth, key)
		return
	}
	c.auth[key] = authz
}

// registryError reads the distribution spec's error body
// {"errors":[{"code","message"}]} (first error), bounded, and closes the
// body. Empty strings when the body is something else.
func registryError(resp *http.Response) (code, message string) {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' || !jsonw.Shallow(data, jsonw.MaxDepth) {
		return "", ""
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(data)
	if err != nil {
		return "", ""
	}
	errs := v.GetArray("errors")
	if len(errs) == 0 {
		return "", ""
	}
	return clip(string(errs[0].GetStringBytes("code")), 64), clip(string(errs[0].GetStringBytes("message")), maxErrorText)
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}

func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// redactURL removes user info from URLs inside an error text.
func redactURL(s string) string {
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			return s
		}
		rest := s[i+3:]
		end := strings.IndexAny(rest, "/ \"'")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
			return s[:i+3] + "[REDACTED]" + redactURL(rest[at:])
		}
		return s[:i+3] + redactURL(rest)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func quote(s string, n int) string { return strconv.Quote(clip(s, n)) }
