package k8sproxy

import (
	"net/url"
	"strings"
)

// op is a set of operations the policy allows on a kind.
type op uint8

const (
	opGet op = 1 << iota
	opList
	opApply
	opDelete
	opLogs
	opToken // create a TokenRequest (serviceaccounts/token)
)

func (o op) String() string {
	switch o {
	case opGet:
		return "get"
	case opList:
		return "list"
	case opApply:
		return "apply"
	case opDelete:
		return "delete"
	case opLogs:
		return "read logs of"
	case opToken:
		return "request tokens of"
	}
	return "use"
}

// kindInfo describes one kind spinport may touch: where it lives in the
// REST API and which operations the policy allows on it.
type kindInfo struct {
	kind       string // "SpinApp"
	group      string // "" for the core group
	version    string // "v1alpha1"
	resource   string // plural, lower case: "spinapps"
	namespaced bool
	ops        op
	// named are operations allowed on these object names only, even though
	// ops lacks them: RBAC's resourceNames grants exactly these names.
	named map[op][]string
}

// TenantRedisSecret is the one Secret spinport reads back: the URL of a
// tenant's own Redis, which goes into each KV-bound app's runtime config
// and is kept nowhere else (docs/tenancy.md).
const TenantRedisSecret = "spinport-tenant-redis"

// SelfServiceAccount is the service account spinport runs as (deploy/
// spinapp.yaml). It may request tokens for it and no other: the Azure
// workload-identity exchange needs one (a Spin guest cannot read the
// projected token file).
const SelfServiceAccount = "spinport"

// kinds is the whole allow-list. Anything not in it is refused before a
// request leaves. Keep rbac.yaml in step (TestRBACYAMLMatchesKinds checks).
//
// Least privilege: each kind allows exactly the operations spinport's code
// performs (spinkube's Deployer, the health check in cmd/spinport, and the
// namespace GET behind every namespaced operation), nothing "for later".
// TestKindsGrantOnlyWhatSpinportCalls pins it; widen both on purpose only.
var kinds = []kindInfo{
	// get: the managed-by check; list: the health check; apply/delete: tenants.
	{kind: "Namespace", version: "v1", resource: "namespaces", namespaced: false, ops: opGet | opList | opApply | opDelete},
	{kind: "ResourceQuota", version: "v1", resource: "resourcequotas", namespaced: true, ops: opApply},
	// Secrets are written, never read back (no get/list on Secrets), but
	// for the tenant's Redis URL, readable by its name only.
	{kind: "Secret", version: "v1", resource: "secrets", namespaced: true, ops: opApply | opDelete, named: map[op][]string{opGet: {TenantRedisSecret}}},
	{kind: "Pod", version: "v1", resource: "pods", namespaced: true, ops: opList | opLogs},
	{kind: "Deployment", group: "apps", version: "v1", resource: "deployments", namespaced: true, ops: opGet},
	{kind: "Ingress", group: "networking.k8s.io", version: "v1", resource: "ingresses", namespaced: true, ops: opApply | opDelete},
	{kind: "Certificate", group: "cert-manager.io", version: "v1", resource: "certificates", namespaced: true, ops: opGet | opApply | opDelete},
	{kind: "SpinApp", group: "core.spinkube.dev", version: "v1alpha1", resource: "spinapps", namespaced: true, ops: opGet | opApply | opDelete},
	{kind: "SpinAppExecutor", group: "core.spinkube.dev", version: "v1alpha1", resource: "spinappexecutors", namespaced: true, ops: opApply},
	{kind: "HorizontalPodAutoscaler", group: "autoscaling", version: "v2", resource: "horizontalpodautoscalers", namespaced: true, ops: opApply | opDelete},
	// Tokens of spinport's own service account only (RequestToken).
	{kind: "ServiceAccount", version: "v1", resource: "serviceaccounts", namespaced: true, named: map[op][]string{opToken: {SelfServiceAccount}}},
	// The tenant's network policy; removed with the namespace.
	{kind: "NetworkPolicy", group: "networking.k8s.io", version: "v1", resource: "networkpolicies", namespaced: true, ops: opApply},
}

// allows reports whether the policy lets o run on the kind's object name.
func (k *kindInfo) allows(o op, name string) bool {
	if k.ops&o != 0 {
		return true
	}
	for _, n := range k.named[o] {
		if n == name {
			return true
		}
	}
	return false
}

func lookupKind(kind string) (*kindInfo, bool) {
	for i := range kinds {
		if kinds[i].kind == kind {
			return &kinds[i], true
		}
	}
	return nil, false
}

// apiVersion is the apiVersion objects of this kind carry ("v1", "apps/v1").
func (k *kindInfo) apiVersion() string {
	if k.group == "" {
		return k.version
	}
	return k.group + "/" + k.version
}

// path returns the REST path of a collection (name == "") or of one object.
// namespace is ignored for cluster-scoped kinds. Names must have been
// validated; they are escaped anyway.
func (k *kindInfo) path(namespace, name string) string {
	var b strings.Builder
	if k.group == "" {
		b.WriteString("/api/")
	} else {
		b.WriteString("/apis/")
		b.WriteString(k.group)
		b.WriteByte('/')
	}
	b.WriteString(k.version)
	if k.namespaced {
		b.WriteString("/namespaces/")
		b.WriteString(url.PathEscape(namespace))
	}
	b.WriteByte('/')
	b.WriteString(k.resource)
	if name != "" {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(name))
	}
	return b.String()
}

// validName reports whether s is a DNS-1123 subdomain (what Kubernetes
// accepts as the name of most objects). It also keeps "..", "/" and
// friends out of request paths.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if !validLabel(label, 63) {
			return false
		}
	}
	return true
}

// validLabel reports whether s is a DNS-1123 label of at most max bytes
// (what Kubernetes accepts as a namespace or container name).
func validLabel(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if alnum {
			continue
		}
		if c == '-' && i > 0 && i < len(s)-1 {
			continue
		}
		return false
	}
	return true
}
