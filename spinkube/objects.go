// Package spinkube turns spinport's records into the Kubernetes objects
// SpinKube runs (Namespace, ResourceQuota, SpinAppExecutor, SpinApp,
// Secrets, Ingress, cert-manager Certificate) and applies them through
// k8sproxy. objects.go builds the objects; deployer.go applies them.
package spinkube

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/spinport/spinport"

	"github.com/spinport/spinport/jsonw"
	"github.com/spinport/spinport/k8sproxy"
)

// Labels on everything spinport creates. k8sproxy refuses objects and
// namespaces without the managed-by label.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelTenant    = "spinport.dev/tenant"
	LabelApp       = "spinport.dev/app"
	LabelRevision  = "spinport.dev/revision"
	// operatorAppLabel is the pod label spin-operator puts on an app's pods.
	operatorAppLabel = "core.spinkube.dev/app-name"
)

// Settings are the installation's choices for what it creates.
type Settings struct {
	NamespacePrefix string // namespace = prefix + tenant slug
	BaseDomain      string
	IngressClass    string // default webapprouting.kubernetes.azure.com (AKS app routing)
	ClusterIssuer   string // cert-manager ClusterIssuer for app certificates
	RuntimeClass    string // the executor's runtimeClassName
	AppRedisURL     string // redis://[:password@]host:port for apps' KV stores; secret
	CPULimit        string // per-replica resources.limits.cpu, e.g. "500m" ("" = none)
	MemoryLimit     string // per-replica resources.limits.memory, e.g. "256Mi" ("" = none)
	// Requests are what the scheduler reserves per replica; without them
	// Kubernetes reserves the limits (500m CPU per replica of a Spin app
	// that idles at a few millicores).
	CPURequest    string // per-replica resources.requests.cpu, e.g. "50m" ("" = none)
	MemoryRequest string // per-replica resources.requests.memory, e.g. "64Mi" ("" = none)
	// RetryBudget bounds the waits while the cluster refuses a SpinApp for
	// a moment (0: DefaultRetryBudget).
	RetryBudget time.Duration
	// Network is the tenant NetworkPolicy's shape; nil: no policy.
	Network *NetworkSettings
	// BlockPrivateNetworks gives every app a runtime config with
	// [outbound_networking] block_networks = ["private"], so the Wasm
	// sandbox itself refuses private addresses (Spin >= 3.3; older Spin
	// refuses the unknown section, so it is an installation setting).
	BlockPrivateNetworks bool
}

// NetworkSettings shape the NetworkPolicy every tenant namespace gets.
// NetworkPolicies are enforced by the cluster's network plugin (on AKS:
// Azure NPM, Cilium or Calico); without one they are stored and ignored.
type NetworkSettings struct {
	// IngressNamespace is where the ingress controller runs (AKS app
	// routing: app-routing-system); only it and the tenant itself may
	// open connections to the tenant's pods.
	IngressNamespace string
	// AllowNamespaces may be reached from the tenant's pods besides their
	// own namespace and cluster DNS (e.g. where the apps' Redis runs).
	AllowNamespaces []string
	// DenyCIDRs are cut out of the internet egress: the instance metadata
	// endpoint (169.254.169.254, which hands out the node identity's token
	// on AKS) and the private ranges other tenants' pods and services use.
	DenyCIDRs []string
}

// ExecutorName is the tenant's SpinAppExecutor. It is unique per tenant:
// spin-operator's executor finalizer looks for SpinApps that use an
// executor of that *name* in every namespace (spin-operator v0.4.0
// internal/controller/spinappexecutor_controller.go; spinframework/
// spin-operator#480), so a name shared with another namespace (spinport's
// own "containerd-shim-spin") kept a deleted tenant's namespace
// Terminating for good.
func ExecutorName(tenant string) string { return "spinport-" + tenant }

// NetworkPolicyName is the tenant namespace's policy.
const NetworkPolicyName = "spinport-tenant"

// NetworkPolicyObject keeps a tenant's pods apart: ingress only from the
// tenant itself and the ingress controller; egress to the tenant itself,
// cluster DNS, the allowed namespaces and the internet minus DenyCIDRs
// (so not the metadata endpoint, and not other tenants' private pod and
// service addresses).
func (s Settings) NetworkPolicyObject(t spinport.Tenant) []byte {
	n := s.Network
	var w jsonw.W
	w.Object()
	meta(&w, "networking.k8s.io/v1", "NetworkPolicy", s.Namespace(t.Slug), NetworkPolicyName, LabelTenant, t.Slug)
	w.Key("spec").Object().Key("podSelector").Object().End().Strings("policyTypes", []string{"Ingress", "Egress"})
	w.Key("ingress").Array().Object().Key("from").Array().
		Object().Key("podSelector").Object().End().End()
	if n.IngressNamespace != "" {
		nsSelector(&w, n.IngressNamespace)
	}
	w.End().End().End()
	w.Key("egress").Array()
	w.Object().Key("to").Array().Object().Key("podSelector").Object().End().End().End().End()
	w.Object().Key("to").Array().Object().
		Key("namespaceSelector").Object().Key("matchLabels").Object().Str("kubernetes.io/metadata.name", "kube-system").End().End().
		Key("podSelector").Object().Key("matchLabels").Object().Str("k8s-app", "kube-dns").End().End().End().End().
		Key("ports").Array().
		Object().Str("protocol", "UDP").Num("port", 53).End().
		Object().Str("protocol", "TCP").Num("port", 53).End().End().End()
	if len(n.AllowNamespaces) > 0 {
		w.Object().Key("to").Array()
		for _, ns := range n.AllowNamespaces {
			nsSelector(&w, ns)
		}
		w.End().End()
	}
	w.Object().Key("to").Array().Object().Key("ipBlock").Object().Str("cidr", "0.0.0.0/0").Strings("except", n.DenyCIDRs).End().End().End().End()
	w.End().End().End()
	return w.Bytes()
}

func nsSelector(w *jsonw.W, ns string) {
	w.Object().Key("namespaceSelector").Object().Key("matchLabels").Object().Str("kubernetes.io/metadata.name", ns).End().End().End()
}

// healthPath is what Spin's HTTP trigger answers itself once it listens.
const healthPath = "/.well-known/spin/health"

// Namespace of a tenant.
func (s Settings) Namespace(tenant string) string { return s.NamespacePrefix + tenant }

// Hosts are the app's default host and its custom domains.
func (s Settings) Hosts(tenant, app string, domains []string) []string {
	return spinport.Hosts(app, tenant, s.BaseDomain, domains)
}

func secretsName(app string) string       { return app + "-secrets" }
func runtimeConfigName(app string) string { return app + "-runtime-config" }
func tlsName(app string) string           { return app + "-tls" }

// meta writes apiVersion, kind and metadata with spinport's labels.
func meta(w *jsonw.W, apiVersion, kind, namespace, name string, labels ...string) {
	w.Str("apiVersion", apiVersion).Str("kind", kind)
	w.Key("metadata").Object().Str("name", name)
	if namespace != "" {
		w.Str("namespace", namespace)
	}
	w.Key("labels").Object().Str(LabelManagedBy, "spinport")
	for i := 0; i+1 < len(labels); i += 2 {
		w.Str(labels[i], labels[i+1])
	}
	w.End().End()
}

func (s Settings) NamespaceObject(t spinport.Tenant) []byte {
	var w jsonw.W
	w.Object()
	meta(&w, "v1", "Namespace", "", s.Namespace(t.Slug), LabelTenant, t.Slug)
	w.End()
	return w.Bytes()
}

// QuotaObject caps pods and SpinApps in the namespace, so the cluster
// enforces the tenant's quotas even if spinport's records drift.
func (s Settings) QuotaObject(t spinport.Tenant) []byte {
	var w jsonw.W
	w.Object()
	meta(&w, "v1", "ResourceQuota", s.Namespace(t.Slug), "spinport-quota", LabelTenant, t.Slug)
	// Pods get headroom of one app's worth for rolling updates.
	pods := t.Quotas.MaxTotalReplicas + t.Quotas.MaxReplicasPerApp
	w.Key("spec").Object().Key("hard").Object().
		Str("pods", strconv.FormatInt(pods, 10)).
		Str("count/spinapps.core.spinkube.dev", strconv.FormatInt(t.Quotas.MaxApps, 10))
	// Compute is bounded per tenant by the same count: pods × what one
	// replica requests and may use. (A quota on requests.cpu makes the API
	// server refuse pods without that request, so only what spinport sets.)
	for _, r := range []struct{ key, perReplica string }{
		{"requests.cpu", s.CPURequest}, {"requests.memory", s.MemoryRequest},
		{"limits.cpu", s.CPULimit}, {"limits.memory", s.MemoryLimit},
	} {
		if q, ok := times(r.perReplica, pods); ok {
			w.Str(r.key, q)
		}
	}
	w.End().End().End()
	return w.Bytes()
}

// times multiplies a whole-number quantity ("50m", "64Mi", "2") by n.
func times(quantity string, n int64) (string, bool) {
	i := 0
	for i < len(quantity) && quantity[i] >= '0' && quantity[i] <= '9' {
		i++
	}
	v, err := strconv.ParseInt(quantity[:i], 10, 64)
	if i == 0 || err != nil || strings.ContainsAny(quantity[i:], ".eE+-") {
		return "", false
	}
	return strconv.FormatInt(v*n, 10) + quantity[i:], true
}

func (s Settings) ExecutorObject(t spinport.Tenant) []byte {
	var w jsonw.W
	w.Object()
	meta(&w, "core.spinkube.dev/v1alpha1", "SpinAppExecutor", s.Namespace(t.Slug), ExecutorName(t.Slug), LabelTenant, t.Slug)
	w.Key("spec").Object().Flag("createDeployment", true).
		Key("deploymentConfig").Object().Str("runtimeClassName", s.RuntimeClass).Flag("installDefaultCACerts", true).End().
		End().End()
	return w.Bytes()
}

// SecretObject holds values under keys (base64 data).
func (s Settings) secretObject(tenant, app, name string, values map[string]string, extra ...string) []byte {
	var w jsonw.W
	w.Object()
	meta(&w, "v1", "Secret", s.Namespace(tenant), name, append([]string{LabelTenant, tenant, LabelApp, app}, extra...)...)
	w.Str("type", "Opaque").Key("data").Object()
	for _, k := range sortedKeys(values) {
		w.Str(k, base64.StdEncoding.EncodeToString([]byte(values[k])))
	}
	w.End().End()
	return w.Bytes()
}

// RuntimeConfigSecret points the app's KV store "default" at kvURL (a
// Redis URL with its database, "" for no KV store). Spin's Redis provider
// ignores the store name, so the isolation is the database: one per tenant
// on the shared app Redis, one per app on a tenant's own (docs/tenancy.md).
//
// With BlockPrivateNetworks the config also keeps the app's outbound
// connections off private networks.
func (s Settings) RuntimeConfigSecret(tenant, app, kvURL string) []byte {
	toml := ""
	if kvURL != "" {
		toml = "[key_value_store.default]\ntype = \"redis\"\nurl = " + tomlString(kvURL) + "\n"
	}
	if s.BlockPrivateNetworks {
		toml += "[outbound_networking]\nblock_networks = [\"private\"]\n"
	}
	return s.secretObject(tenant, app, runtimeConfigName(app), map[string]string{"runtime-config.toml": toml})
}

// RedisDatabaseURL selects database db of the Redis at base (the redis
// crate Spin uses reads the database from the URL's path).
func RedisDatabaseURL(base string, db int64) string {
	return strings.TrimSuffix(base, "/") + "/" + strconv.FormatInt(db, 10)
}

// tomlString quotes s as a TOML basic string (a password may hold '"' or '\\').
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TenantRedisSecret holds the URL of a tenant's own Redis in its namespace:
// the only copy. It is the one Secret spinport may read back (k8sproxy's
// policy and RBAC grant get on this name only).
const TenantRedisSecret = k8sproxy.TenantRedisSecret

// TenantRedisObject is the tenant's Redis URL Secret.
func (s Settings) TenantRedisObject(tenant, url string) []byte {
	var w jsonw.W
	w.Object()
	meta(&w, "v1", "Secret", s.Namespace(tenant), TenantRedisSecret, LabelTenant, tenant)
	w.Str("type", "Opaque").Key("data").Object().Str("url", base64.StdEncoding.EncodeToString([]byte(url))).End().End()
	return w.Bytes()
}

// usesRuntimeConfig reports whether the app at rev loads a runtime config.
func (s Settings) usesRuntimeConfig(rev spinport.Revision) bool {
	return rev.KV || s.BlockPrivateNetworks
}

// PullSecretName is the Secret holding a registry's pull credentials: a
// digest of the host keeps it a valid, collision-free name.
func PullSecretName(registry string) string {
	sum := sha256.Sum256([]byte(registry))
	return "pull-" + hex.EncodeToString(sum[:8])
}

// PullSecretObject is a kubernetes.io/dockerconfigjson Secret, the form
// kubelet reads imagePullSecrets in.
func (s Settings) PullSecretObject(tenant, registry, username, password string) []byte {
	var cfg jsonw.W
	cfg.Object().Key("auths").Object().Key(registry).Object().Str("username", username).Str("password", password).
		Str("auth", base64.StdEncoding.EncodeToString([]byte(username+":"+password))).End().End().End()
	var w jsonw.W
	w.Object()
	meta(&w, "v1", "Secret", s.Namespace(tenant), PullSecretName(registry), LabelTenant, tenant)
	w.Str("type", "kubernetes.io/dockerconfigjson").Key("data").Object().
		Str(".dockerconfigjson", base64.StdEncoding.EncodeToString(cfg.Bytes())).End().End()
	return w.Bytes()
}

// SpinAppObject is the app at a revision; pullRegistry, if set, is the
// image's registry whose pull credentials the tenant registered.
func (s Settings) SpinAppObject(app spinport.App, rev spinport.Revision, image, pullRegistry string) []byte {
	var w jsonw.W
	w.Object()
	revNum := strconv.FormatInt(rev.Number, 10)
	meta(&w, "core.spinkube.dev/v1alpha1", "SpinApp", s.Namespace(app.Tenant), app.Name, LabelTenant, app.Tenant, LabelApp, app.Name, LabelRevision, revNum)
	w.Key("spec").Object().Str("executor", ExecutorName(app.Tenant)).Str("image", image)
	if pullRegistry != "" {
		w.Key("imagePullSecrets").Array().Object().Str("name", PullSecretName(pullRegistry)).End().End()
	}
	if rev.Scaling.Autoscale {
		w.Flag("enableAutoscaling", true)
	} else {
		w.Num("replicas", rev.Scaling.Replicas)
	}
	if len(rev.Variables) > 0 {
		w.Key("variables").Array()
		for _, v := range rev.Variables {
			w.Object().Str("name", v.Name)
			if v.Secret {
				w.Key("valueFrom").Object().Key("secretKeyRef").Object().Str("name", secretsName(app.Name)).Str("key", v.Name).End().End()
			} else {
				w.Str("value", v.Value)
			}
			w.End()
		}
		w.End()
	}
	if s.usesRuntimeConfig(rev) {
		w.Key("runtimeConfig").Object().Str("loadFromSecret", runtimeConfigName(app.Name)).End()
	}
	s.writeResources(&w)
	// Without checks a pod is Ready before Spin listens, so a rollout drops
	// requests. httpHeaders must be a list, not left out: the v0.4.0 CRD
	// declares it without omitempty and its webhook refuses null.
	w.Key("checks").Object()
	for _, probe := range []string{"readiness", "liveness"} {
		w.Key(probe).Object().Key("httpGet").Object().Str("path", healthPath).Key("httpHeaders").Array().End().End().End()
	}
	w.End()
	w.Key("podLabels").Object().Str(LabelTenant, app.Tenant).Str(LabelApp, app.Name).Str(LabelRevision, revNum).End()
	w.End().End()
	return w.Bytes()
}

// CPUTarget is the average CPU utilisation (of the requests) an
// autoscaled app is scaled to keep.
const CPUTarget = 80

// AutoscalerObject scales an autoscaled app between its bounds. With
// enableAutoscaling spin-operator (v0.4.0 internal/controller/
// spinapp_controller.go) leaves the Deployment's replicas to an autoscaler
// and creates none itself; the target is that Deployment (apps/v1, named
// like the app). Without a metrics server an HPA still keeps minReplicas.
func (s Settings) AutoscalerObject(app spinport.App, sc spinport.Scaling) []byte {
	var w jsonw.W
	w.Object()
	meta(&w, "autoscaling/v2", "HorizontalPodAutoscaler", s.Namespace(app.Tenant), app.Name, LabelTenant, app.Tenant, LabelApp, app.Name)
	w.Key("spec").Object().
		Key("scaleTargetRef").Object().Str("apiVersion", "apps/v1").Str("kind", "Deployment").Str("name", app.Name).End().
		Num("minReplicas", sc.MinReplicas).Num("maxReplicas", sc.MaxReplicas).
		Key("metrics").Array().Object().Str("type", "Resource").Key("resource").Object().Str("name", "cpu").
		Key("target").Object().Str("type", "Utilization").Num("averageUtilization", CPUTarget).End().End().End().End().
		End().End()
	return w.Bytes()
}

func (s Settings) writeResources(w *jsonw.W) {
	if s.CPULimit == "" && s.MemoryLimit == "" && s.CPURequest == "" && s.MemoryRequest == "" {
		return
	}
	w.Key("resources").Object()
	if s.CPULimit != "" || s.MemoryLimit != "" {
		w.Key("limits").Object().OptStr("cpu", s.CPULimit).OptStr("memory", s.MemoryLimit).End()
	}
	if s.CPURequest != "" || s.MemoryRequest != "" {
		w.Key("requests").Object().OptStr("cpu", s.CPURequest).OptStr("memory", s.MemoryRequest).End()
	}
	w.End()
}

// IngressObject routes every host of the app to the Service spin-operator
// creates (<app>, port 80), with TLS from the app's Certificate.
// IngressObject routes every host to the app's Service, each host with
// its own TLS Secret (its own Certificate): one host whose DNS or
// validation fails cannot keep the others from getting HTTPS.
func (s Settings) IngressObject(app spinport.App, hosts []string) []byte {
	var w jsonw.W
	w.Object()
	meta(&w, "networking.k8s.io/v1", "Ingress", s.Namespace(app.Tenant), app.Name, LabelTenant, app.Tenant, LabelApp, app.Name)
	w.Key("spec").Object().Str("ingressClassName", s.IngressClass)
	w.Key("tls").Array()
	for i, h := range hosts {
		w.Object().Strings("hosts", []string{h}).Str("secretName", HostTLSName(app.Name, h, i == 0)).End()
	}
	w.End()
	w.Key("rules").Array()
	for _, h := range hosts {
		w.Object().Str("host", h).Key("http").Object().Key("paths").Array().Object().
			Str("path", "/").Str("pathType", "Prefix").
			Key("backend").Object().Key("service").Object().Str("name", app.Name).Key("port").Object().Num("number", 80).End().End().End().
			End().End().End().End()
	}
	w.End().End().End()
	return w.Bytes()
}

// HostTLSName names a host's Certificate and its Secret: <app>-tls for
// the app's default host (the name one shared certificate had before),
// <app>-<8 hex of the host's SHA-256>-tls for a custom domain, which fits
// any host length in a valid name.
func HostTLSName(app, host string, isDefault bool) string {
	if isDefault {
		return tlsName(app)
	}
	sum := sha256.Sum256([]byte(host))
	return app + "-" + hex.EncodeToString(sum[:4]) + "-tls"
}

// CertificateObject is one host's cert-manager Certificate (HTTP-01 via
// the installation's ClusterIssuer: a host that does not resolve yet
// fails alone and does not spend the others' Let's Encrypt attempts).
func (s Settings) CertificateObject(app spinport.App, host string, isDefault bool) []byte {
	name := HostTLSName(app.Name, host, isDefault)
	var w jsonw.W
	w.Object()
	meta(&w, "cert-manager.io/v1", "Certificate", s.Namespace(app.Tenant), name, LabelTenant, app.Tenant, LabelApp, app.Name)
	w.Key("spec").Object().Str("secretName", name).Strings("dnsNames", []string{host}).
		Key("issuerRef").Object().Str("name", s.ClusterIssuer).Str("kind", "ClusterIssuer").Str("group", "cert-manager.io").End().
		End().End()
	return w.Bytes()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ { // insertion sort: a handful of keys, no sort package in the hot path
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
