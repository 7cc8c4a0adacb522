package k8sproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

const (
	// ManagedByLabel and ManagedByValue mark namespaces and objects spinport
	// owns. Every applied object must carry ManagedByLabel=ManagedByValue.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "spinport"

	// FieldManager is the server-side apply field manager of every Apply.
	FieldManager = "spinport"

	// ApplyContentType is the content type of a server-side apply PATCH. A
	// JSON body is valid YAML, so JSON objects are sent as they are.
	ApplyContentType = "application/apply-patch+yaml"

	// maxBody bounds how much of an answer is read (memory is scarce in a
	// Spin instance).
	maxBody = 32 << 20
)

// Doer sends one HTTP request. *http.Client satisfies it natively; in the
// .wasm use the Spin SDK's outbound HTTP client (spinhttp.NewClient()).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client talks to one Kubernetes API server on behalf of spinport and
// enforces the policy (see the package documentation) before any request
// leaves. It caches which namespaces are managed, so a Client should live
// for one incoming request (which is what a Spin instance does anyway).
// A Client is not safe for concurrent use.
type Client struct {
	// SelfNamespace is where spinport's own service account lives (""
	// means DefaultSelfNamespace): the one unmanaged namespace RequestToken
	// may reach.
	SelfNamespace string

	base       string // scheme://host[:port][/prefix], no trailing slash
	token      string // bearer token; secret: never logged, never in errors
	doer       Doer
	namespaces map[string]*nsEntry
}

// nsState is what a GET on a namespace told us.
type nsState uint8

const (
	nsManaged nsState = iota + 1
	nsUnmanaged
	nsMissing
)

type nsEntry struct {
	state    nsState
	body     []byte    // the Namespace object (managed or unmanaged)
	notFound *APIError // the 404 (missing)
}

// New returns a Client for the API server at baseURL (e.g.
// "https://kubernetes.default.svc" or "https://127.0.0.1:6443"), sending
// token as a bearer token (no Authorization header when token is empty).
func New(baseURL, token string, doer Doer) (*Client, error) {
	if doer == nil {
		return nil, errors.New("k8sproxy: New: nil Doer")
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("k8sproxy: New: API server URL must be http(s)://host[:port], got %q", redactURL(baseURL))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("k8sproxy: New: API server URL must not carry user info, query or fragment")
	}
	return &Client{
		base:       strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"),
		token:      token,
		doer:       doer,
		namespaces: map[string]*nsEntry{},
	}, nil
}

// String keeps the token out of %v / %+v output.
func (c *Client) String() string { return "k8sproxy.Client(" + c.base + ")" }

// GoString keeps the token out of %#v output.
func (c *Client) GoString() string { return c.String() }

// Apply creates or updates obj by server-side apply (PATCH with content type
// application/apply-patch+yaml, fieldManager=spinport, force=true) and
// returns the object the API server answered with. obj is a JSON object with
// apiVersion, kind, metadata.name, metadata.namespace (for namespaced kinds)
// and metadata.labels["app.kubernetes.io/managed-by"]="spinport".
func (c *Client) Apply(obj []byte) ([]byte, error) {
	return c.ApplyAs(obj, FieldManager)
}

// ApplyAs is Apply with another field manager, which must be "spinport" or
// start with "spinport-" (printable ASCII, no spaces, at most 128 bytes).
// Server-side apply merges what different managers own: applying an object
// without a field removes only a field this manager owned. spinkube gives
// each variable of an app's Secret its own manager that way.
func (c *Client) ApplyAs(obj []byte, fieldManager string) ([]byte, error) {
	if !validFieldManager(fieldManager) {
		return nil, &PolicyError{Op: "apply", Reason: fmt.Sprintf("field manager %q must be %q or start with %q (printable ASCII, at most 128 bytes)",
			clip(fieldManager, 64), FieldManager, FieldManager+"-")}
	}
	v, err := fastjson.ParseBytes(obj)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, &PolicyError{Op: "apply", Reason: "the object is not a JSON object"}
	}
	kind := string(v.GetStringBytes("kind"))
	name := string(v.GetStringBytes("metadata", "name"))
	namespace := string(v.GetStringBytes("metadata", "namespace"))
	refuse := func(reason string) ([]byte, error) {
		return nil, &PolicyError{Op: "apply", Kind: kind, Namespace: namespace, Name: name, Reason: reason}
	}

	k, err := c.check(opApply, kind, namespace, name, true)
	if err != nil {
		return nil, err
	}
	if !k.namespaced && namespace != "" {
		return refuse(kind + " is cluster-scoped: metadata.namespace must be empty")
	}
	if av := string(v.GetStringBytes("apiVersion")); av != k.apiVersion() {
		return refuse(fmt.Sprintf("apiVersion must be %q, got %q", k.apiVersion(), av))
	}
	if string(v.GetStringBytes("metadata", "labels", ManagedByLabel)) != ManagedByValue {
		return refuse("the object must carry the label " + ManagedByLabel + "=" + ManagedByValue)
	}
	if kind == "Secret" && string(v.GetStringBytes("type")) == "kubernetes.io/service-account-token" {
		return refuse("service-account token secrets are not allowed")
	}

	if kind == "Namespace" {
		// Applying the label to an existing namespace would take it over:
		// only create new ones or update ones that are already managed.
		e, err := c.namespace(name)
		if err != nil {
			return nil, err
		}
		if e.state == nsUnmanaged {
			return refuse("the namespace exists and is not managed by spinport (label " + ManagedByLabel + "=" + ManagedByValue + ")")
		}
	} else if err := c.requireManaged(opApply, kind, namespace, name, false); err != nil {
		return nil, err
	}

	q := url.Values{}
	q.Set("fieldManager", fieldManager)
	q.Set("force", "true")
	out, err := c.do(http.MethodPatch, k.path(namespace, name), q, ApplyContentType, obj, kind, name)
	if err != nil {
		return nil, err
	}
	if kind == "Namespace" {
		c.namespaces[name] = &nsEntry{state: nsManaged, body: out}
	}
	return out, nil
}

// validFieldManager: spinport's own managers only, and what the API server
// accepts (at most 128 printable characters).
func validFieldManager(m string) bool {
	if len(m) > 128 || (m != FieldManager && !strings.HasPrefix(m, FieldManager+"-")) {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] <= ' ' || m[i] >= 0x7f {
			return false
		}
	}
	return true
}

// DefaultSelfNamespace is where deploy/spinapp.yaml runs spinport.
const DefaultSelfNamespace = "spinport-system"

// RequestToken asks the TokenRequest API for a token of spinport's own
// service account with one audience, valid for about expirationSeconds
// (the API server may shorten it; at least 600). It is the only request
// outside managed namespaces, and only for SelfServiceAccount in
// SelfNamespace (RBAC grants serviceaccounts/token create by that name;
// deploy/admission-policy.yaml pins the namespace).
func (c *Client) RequestToken(audience string, expirationSeconds int64) (string, error) {
	ns := c.SelfNamespace
	if ns == "" {
		ns = DefaultSelfNamespace
	}
	k, err := c.check(opToken, "ServiceAccount", ns, SelfServiceAccount, true)
	if err != nil {
		return "", err
	}
	if !validAudience(audience) || expirationSeconds < 600 {
		return "", &PolicyError{Op: opToken.String(), Kind: "ServiceAccount", Namespace: ns, Name: SelfServiceAccount,
			Reason: "a token needs an audience (printable, no quotes) and at least 600 seconds of validity"}
	}
	body := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["` + audience +
		`"],"expirationSeconds":` + strconv.FormatInt(expirationSeconds, 10) + `}}`)
	b, err := c.do(http.MethodPost, k.path(ns, SelfServiceAccount)+"/token", nil, "application/json", body, "ServiceAccount", SelfServiceAccount)
	if err != nil {
		return "", err
	}
	v, perr := fastjson.ParseBytes(b)
	tok := ""
	if perr == nil {
		tok = string(v.GetStringBytes("status", "token"))
	}
	if tok == "" {
		return "", fmt.Errorf("k8sproxy: TokenRequest for %s/%s answered no token", ns, SelfServiceAccount)
	}
	return tok, nil
}

// validAudience keeps an audience safe to write into JSON as is.
func validAudience(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Get returns one object. namespace is ignored ("" is fine) for Namespace.
func (c *Client) Get(kind, namespace, name string) ([]byte, error) {
	k, err := c.check(opGet, kind, namespace, name, true)
	if err != nil {
		return nil, err
	}
	if kind == "Namespace" {
		e, err := c.namespace(name)
		if err != nil {
			return nil, err
		}
		switch e.state {
		case nsMissing:
			return nil, e.notFound
		case nsUnmanaged:
			return nil, &PolicyError{Op: "get", Kind: kind, Name: name, Reason: "the namespace is not managed by spinport"}
		}
		return e.body, nil
	}
	if err := c.requireManaged(opGet, kind, namespace, name, false); err != nil {
		return nil, err
	}
	return c.do(http.MethodGet, k.path(namespace, name), nil, "", nil, kind, name)
}

// List returns a list object (items[]) of kind in namespace, filtered by
// labelSelector (may be empty). Listing Namespaces (namespace "") returns only
// managed ones: the selector app.kubernetes.io/managed-by=spinport is always
// added. Listing namespaced kinds across all namespaces is refused.
func (c *Client) List(kind, namespace, labelSelector string) ([]byte, error) {
	k, err := c.check(opList, kind, namespace, "", false)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if kind == "Namespace" {
		sel := ManagedByLabel + "=" + ManagedByValue
		if labelSelector != "" {
			sel += "," + labelSelector
		}
		q.Set("labelSelector", sel)
		return c.do(http.MethodGet, k.path("", ""), q, "", nil, kind, "")
	}
	if err := c.requireManaged(opList, kind, namespace, "", false); err != nil {
		return nil, err
	}
	if labelSelector != "" {
		q.Set("labelSelector", labelSelector)
	}
	return c.do(http.MethodGet, k.path(namespace, ""), q, "", nil, kind, "")
}

// Delete deletes one object with propagationPolicy "Foreground" or
// "Background" ("" means Background). An object (or namespace) that does
// not exist counts as deleted: the answer is nil.
func (c *Client) Delete(kind, namespace, name, propagation string) error {
	k, err := c.check(opDelete, kind, namespace, name, true)
	if err != nil {
		return err
	}
	if propagation == "" {
		propagation = "Background"
	}
	if propagation != "Foreground" && propagation != "Background" {
		return &PolicyError{Op: "delete", Kind: kind, Namespace: namespace, Name: name,
			Reason: fmt.Sprintf("propagation policy must be Foreground or Background, got %q", propagation)}
	}
	if kind == "Namespace" {
		e, err := c.namespace(name)
		if err != nil {
			return err
		}
		switch e.state {
		case nsMissing:
			return nil
		case nsUnmanaged:
			return &PolicyError{Op: "delete", Kind: kind, Name: name, Reason: "the namespace is not managed by spinport"}
		}
	} else {
		err := c.requireManaged(opDelete, kind, namespace, name, true)
		if err == errNamespaceMissing {
			return nil // no namespace, no object
		}
		if err != nil {
			return err
		}
	}
	q := url.Values{}
	q.Set("propagationPolicy", propagation)
	_, err = c.do(http.MethodDelete, k.path(namespace, name), q, "", nil, kind, name)
	if kind == "Namespace" {
		delete(c.namespaces, name) // it is terminating or gone: ask again next time
	}
	if IsNotFound(err) {
		return nil
	}
	return err
}

// PodLogs returns the (plain text) log of a pod's container. tailLines <= 0
// returns the whole log; container "" means the pod's only container.
func (c *Client) PodLogs(namespace, pod string, tailLines, limitBytes int, container string) ([]byte, error) {
	k, err := c.check(opLogs, "Pod", namespace, pod, true)
	if err != nil {
		return nil, err
	}
	if container != "" && !validLabel(container, 63) {
		return nil, &PolicyError{Op: opLogs.String(), Kind: "Pod", Namespace: namespace, Name: pod,
			Reason: fmt.Sprintf("invalid container name %q", container)}
	}
	if err := c.requireManaged(opLogs, "Pod", namespace, pod, false); err != nil {
		return nil, err
	}
	q := url.Values{}
	if tailLines > 0 {
		q.Set("tailLines", fmt.Sprint(tailLines))
	}
	if limitBytes > 0 { // the API server stops there: the answer is bounded before it is read
		q.Set("limitBytes", fmt.Sprint(limitBytes))
	}
	if container != "" {
		q.Set("container", container)
	}
	return c.do(http.MethodGet, k.path(namespace, pod)+"/log", q, "", nil, "Pod", pod)
}

// check applies the static part of the policy (no request is sent): the kind
// is known, the operation is allowed on it, names are well formed.
func (c *Client) check(o op, kind, namespace, name string, needName bool) (*kindInfo, error) {
	refuse := func(reason string) (*kindInfo, error) {
		return nil, &PolicyError{Op: o.String(), Kind: kind, Namespace: namespace, Name: name, Reason: reason}
	}
	k, ok := lookupKind(kind)
	if !ok {
		if kind == "" {
			return refuse("no kind given")
		}
		return refuse("kind " + kind + " is not one spinport may touch")
	}
	if !k.allows(o, name) {
		return refuse("spinport may only " + k.opsString() + " " + kind + " objects")
	}
	if needName {
		if name == "" {
			return refuse("no name given")
		}
		valid := validName(name)
		if kind == "Namespace" {
			valid = validLabel(name, 63)
		}
		if !valid {
			return refuse("invalid name")
		}
	}
	if k.namespaced {
		if namespace == "" {
			return refuse(kind + " is namespaced: a namespace is required (no cluster-wide access)")
		}
		if !validLabel(namespace, 63) {
			return refuse("invalid namespace name")
		}
	}
	if kind == "Namespace" && name != "" && reservedNamespace(name) {
		return refuse("system namespaces are never managed by spinport")
	}
	return k, nil
}

func (k *kindInfo) opsString() string {
	var parts []string
	for _, o := range []op{opGet, opList, opApply, opDelete, opLogs} {
		if k.ops&o != 0 {
			parts = append(parts, o.String())
		}
	}
	return strings.Join(parts, "/")
}

// reservedNamespace names namespaces every cluster has; spinport never
// manages them, whatever their labels say.
func reservedNamespace(name string) bool {
	switch name {
	case "default", "kube-system", "kube-public", "kube-node-lease":
		return true
	}
	return false
}

var errNamespaceMissing = errors.New("k8sproxy: namespace missing")

// requireManaged checks that namespace exists and carries the managed-by
// label (one GET per namespace and Client). When it does not exist the
// answer is the API server's 404 for the namespace, or errNamespaceMissing
// when missingSentinel is set.
func (c *Client) requireManaged(o op, kind, namespace, name string, missingSentinel bool) error {
	if reservedNamespace(namespace) {
		return &PolicyError{Op: o.String(), Kind: kind, Namespace: namespace, Name: name,
			Reason: "system namespaces are never managed by spinport"}
	}
	e, err := c.namespace(namespace)
	if err != nil {
		return err
	}
	switch e.state {
	case nsMissing:
		if missingSentinel {
			return errNamespaceMissing
		}
		return e.notFound
	case nsUnmanaged:
		return &PolicyError{Op: o.String(), Kind: kind, Namespace: namespace, Name: name,
			Reason: "the namespace is not managed by spinport (label " + ManagedByLabel + "=" + ManagedByValue + ")"}
	}
	return nil
}

// namespace GETs a namespace once per Client and remembers the answer.
func (c *Client) namespace(name string) (*nsEntry, error) {
	if e, ok := c.namespaces[name]; ok {
		return e, nil
	}
	ns, _ := lookupKind("Namespace")
	body, err := c.do(http.MethodGet, ns.path("", name), nil, "", nil, "Namespace", name)
	var e *nsEntry
	switch {
	case err == nil:
		e = &nsEntry{state: nsUnmanaged, body: body}
		if v, perr := fastjson.ParseBytes(body); perr == nil &&
			string(v.GetStringBytes("metadata", "labels", ManagedByLabel)) == ManagedByValue {
			e.state = nsManaged
		}
	case IsNotFound(err):
		var a *APIError
		errors.As(err, &a)
		e = &nsEntry{state: nsMissing, notFound: a}
	default:
		return nil, err // not cached: may work next time
	}
	c.namespaces[name] = e
	return e, nil
}

// do sends one request and returns the body of a 2xx answer.
func (c *Client) do(method, path string, query url.Values, contentType string, body []byte, kind, name string) ([]byte, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("k8sproxy: building %s %s: %s", method, path, c.redact(err.Error()))
	}
	if body != nil {
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", contentType)
	}
	if strings.HasSuffix(path, "/log") {
		req.Header.Set("Accept", "*/*")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	req.Header.Set("User-Agent", "spinport")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}

	resp, err := c.doer.Do(req)
	if err != nil {
		return nil, &UnavailableError{Method: method, Path: path, Cause: c.redact(err.Error())}
	}
	if resp == nil {
		return nil, &UnavailableError{Method: method, Path: path, Cause: "no response"}
	}
	var data []byte
	if resp.Body != nil {
		data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
		if err != nil {
			return nil, &UnavailableError{Method: method, Path: path, Cause: "reading the answer: " + c.redact(err.Error())}
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, parseAPIError(resp.StatusCode, data, kind, name, c.redact)
	}
	if len(data) > maxBody {
		return nil, fmt.Errorf("k8sproxy: %s %s: answer larger than %d bytes", method, path, maxBody)
	}
	return data, nil
}

// redact removes the token from text that may end up in an error.
func (c *Client) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "[REDACTED]")
}

// redactURL drops user info from a URL string for error messages.
func redactURL(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "[REDACTED]" + s[i:]
		}
		return "[REDACTED]"
	}
	return s
}
