package spinkube

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spinport/spinport"

	"github.com/spinport/spinport/k8sproxy"
	"github.com/valyala/fastjson"
)

// Deployer applies spinport's records to a cluster. It implements
// spinport.Deployer; in Spin it lives for one request, like its k8sproxy.Client.
type Deployer struct {
	K *k8sproxy.Client
	S Settings
	// Sleep waits between retries; nil means time.Sleep. The Spin main
	// passes a WASI sleep: TinyGo's time.Sleep cannot block inside Spin's
	// exported handler call.
	Sleep func(time.Duration)
}

var _ spinport.Deployer = (*Deployer)(nil)

// problem turns Kubernetes failures into answers the API client can act on.
func problem(step string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case k8sproxy.IsUnavailable(err):
		return &spinport.Error{Kind: spinport.Unavailable, Title: "Kubernetes unavailable",
			Detail: step + ": the Kubernetes API server did not answer; retry the same request shortly and it will converge"}
	case k8sproxy.IsPolicy(err):
		return err // spinport asked for something outside its policy: a bug, answered 500
	case quotaPending(err):
		return &spinport.Error{Kind: spinport.Unavailable, Title: "Kubernetes unavailable",
			Detail: step + ": the tenant's ResourceQuota is still being computed by Kubernetes; retry the same request shortly and it will converge"}
	case executorNotSeen(err):
		return &spinport.Error{Kind: spinport.Unavailable, Title: "Kubernetes unavailable",
			Detail: step + ": spin-operator has not seen the tenant's new executor yet; retry the same request shortly and it will converge"}
	}
	var ae *k8sproxy.APIError
	if errors.As(err, &ae) {
		kind := spinport.Failed
		if ae.Status == http.StatusUnprocessableEntity || ae.Status == http.StatusBadRequest || ae.Status == http.StatusForbidden {
			kind = spinport.Refused // e.g. a webhook or quota refused the object
		}
		return &spinport.Error{Kind: kind, Title: "Kubernetes refused the change", Detail: step + ": " + ae.Message}
	}
	return err
}

// ApplyTenant creates or updates the namespace, its quota and executor.
func (d *Deployer) ApplyTenant(t spinport.Tenant) error {
	for _, obj := range d.tenantObjects(t) {
		if _, err := d.K.Apply(obj); err != nil {
			return problem("tenant "+t.Slug, err)
		}
	}
	return nil
}

func (d *Deployer) tenantObjects(t spinport.Tenant) [][]byte {
	objs := [][]byte{d.S.NamespaceObject(t), d.S.QuotaObject(t), d.S.ExecutorObject(t)}
	if d.S.Network != nil {
		objs = append(objs, d.S.NetworkPolicyObject(t))
	}
	return objs
}

// digest names an object's applied content (its first 16 bytes of SHA-256,
// hex): equal digests mean the same server-side apply.
func digest(objs ...[]byte) string {
	h := sha256.New()
	for _, o := range objs {
		h.Write(o)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// DeleteTenant deletes the namespace; Kubernetes removes what it holds.
func (d *Deployer) DeleteTenant(slug string) error {
	err := d.K.Delete("Namespace", "", d.S.Namespace(slug), "Foreground")
	if k8sproxy.IsNotFound(err) {
		return nil
	}
	return problem("delete tenant "+slug, err)
}

// Apply converges the app's objects to rev, in dependency order: tenant
// objects (so a half-created tenant is repaired), the runtime-config
// Secret, the SpinApp, then Ingress and Certificate. Every step is a
// server-side apply, so running it again converges; a step whose object
// is what with.Previous records as applied is skipped, so a redeploy to a
// new image sends the SpinApp alone (plus the namespace check k8sproxy
// makes before any namespaced request).
func (d *Deployer) Apply(t spinport.Tenant, app spinport.App, rev spinport.Revision, with spinport.ApplyWith) (spinport.Applied, error) {
	prev := with.Previous
	now := spinport.Applied{}
	// changed records obj's digest under key and reports whether it must
	// be sent (what is recorded as applied differs).
	changed := func(key string, objs ...[]byte) bool {
		now[key] = digest(objs...)
		return prev == nil || prev[key] != now[key]
	}
	tenantObjs := d.tenantObjects(t)
	now["tenant"] = digest(tenantObjs...)
	applyTenant := now["tenant"] != with.TenantApplied
	if !applyTenant {
		// The namespace check every namespaced request makes anyway (k8sproxy
		// caches it for the request), made first: a namespace deleted by
		// hand means nothing recorded as applied is there any more.
		_, err := d.K.Get("Namespace", "", d.S.Namespace(t.Slug))
		if k8sproxy.IsNotFound(err) {
			applyTenant, prev = true, nil
		} else if err != nil {
			return nil, problem("tenant "+t.Slug, err)
		}
	}
	if applyTenant {
		if err := d.ApplyTenant(t); err != nil {
			return nil, err
		}
	}
	// Turning KV off leaves the runtime-config Secret in place: pods of the
	// previous revision mount it until the rollout replaces them, and a
	// pod whose Secret is gone never starts (CreateContainerConfigError).
	// DeleteApp removes it.
	kvURL := ""
	if rev.KV && with.KV != nil {
		base := d.S.AppRedisURL
		if with.KV.Own {
			var err error
			if base, err = d.tenantRedisURL(app.Tenant); err != nil {
				return nil, err
			}
		}
		kvURL = RedisDatabaseURL(base, with.KV.DB)
	}
	if kvURL != "" || d.S.BlockPrivateNetworks {
		if obj := d.S.RuntimeConfigSecret(app.Tenant, app.Name, kvURL); changed("runtime-config", obj) {
			if _, err := d.K.Apply(obj); err != nil {
				return nil, problem("runtime config", err)
			}
		}
	} else if prev != nil && prev["runtime-config"] != "" {
		now["runtime-config"] = prev["runtime-config"] // still there for the previous pods (above)
	}
	image := rev.Image
	if rev.Digest != "" {
		image = spinport.Pin(rev.Image, rev.Digest)
	}
	if obj := d.S.SpinAppObject(app, rev, image, with.PullRegistry); changed("SpinApp", obj) {
		if err := d.applyCounted(obj); err != nil {
			return nil, problem("SpinApp", err)
		}
	}
	if rev.Scaling.Autoscale {
		if obj := d.S.AutoscalerObject(app, rev.Scaling); changed("HorizontalPodAutoscaler", obj) {
			if _, err := d.K.Apply(obj); err != nil {
				return nil, problem("HorizontalPodAutoscaler", err)
			}
		}
	} else if prev == nil || prev["HorizontalPodAutoscaler"] != "" {
		// A fixed count again: the autoscaler must not fight it. Only sent
		// when one may exist (never for an app that was never autoscaled).
		if err := d.K.Delete("HorizontalPodAutoscaler", d.S.Namespace(app.Tenant), app.Name, "Background"); err != nil && !k8sproxy.IsNotFound(err) {
			return nil, problem("HorizontalPodAutoscaler", err)
		}
	}
	hosts := d.S.Hosts(app.Tenant, app.Name, rev.Domains)
	if obj := d.S.IngressObject(app, hosts); changed("Ingress", obj) {
		if _, err := d.K.Apply(obj); err != nil {
			return nil, problem("Ingress", err)
		}
	}
	for i, h := range hosts {
		if obj := d.S.CertificateObject(app, h, i == 0); changed("Certificate/"+h, obj) {
			if _, err := d.K.Apply(obj); err != nil {
				return nil, problem("Certificate "+h, err)
			}
		}
	}
	// Certificates of hosts the app no longer has (a domain removed or no
	// longer verified) go, with their Secrets.
	var stale []string
	for key := range prev {
		if h, ok := strings.CutPrefix(key, "Certificate/"); ok && now[key] == "" {
			stale = append(stale, h)
		}
	}
	for _, h := range stale {
		if err := d.deleteHostCertificate(app, h); err != nil {
			return nil, err
		}
	}
	return now, nil
}

// quotaPending reports the API server refusing an object that a
// ResourceQuota counts because the quota was created (or changed) moments
// ago and the quota controller has not computed its usage yet: "status
// unknown for quota". A tenant's first deploy right after the tenant was
// created meets it; it clears within a second or so.
func quotaPending(err error) bool {
	var ae *k8sproxy.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusForbidden && strings.Contains(ae.Message, "status unknown for quota")
}

// executorNotSeen reports spin-operator's validating webhook refusing a
// SpinApp because its executor "does not exist in namespace": the webhook
// reads executors from its informer cache (v0.4.0 internal/webhook/
// spinapp_validating.go, fetchExecutor), which sees a tenant's brand-new
// executor a moment after the API server does. A new tenant's first
// deploy meets it.
func executorNotSeen(err error) bool {
	var ae *k8sproxy.APIError
	return errors.As(err, &ae) && strings.Contains(ae.Message, "executor does not exist in namespace")
}

// DefaultRetryBudget bounds the waits of one apply that the cluster
// refuses for a moment (Settings.RetryBudget, the apply_retry_budget variable).
const DefaultRetryBudget = 3 * time.Second

// applyCounted applies a SpinApp, retrying with doubling waits (from
// 100 ms) within the retry budget while the cluster refuses it only for
// now: the tenant's quota is still being computed, or the webhook's cache
// has not seen the tenant's executor yet.
func (d *Deployer) applyCounted(obj []byte) error {
	sleep := d.Sleep
	if sleep == nil {
		sleep = time.Sleep
	}
	budget := d.S.RetryBudget
	if budget <= 0 {
		budget = DefaultRetryBudget
	}
	_, err := d.K.Apply(obj)
	for wait := 100 * time.Millisecond; (quotaPending(err) || executorNotSeen(err)) && budget > 0; wait *= 2 {
		if wait > budget {
			wait = budget
		}
		sleep(wait)
		budget -= wait
		_, err = d.K.Apply(obj)
	}
	return err
}

// SetPullSecret stores a registry's pull credentials in the tenant's namespace.
func (d *Deployer) SetPullSecret(tenant, registry, username, password string) error {
	if _, err := d.K.Apply(d.S.PullSecretObject(tenant, registry, username, password)); err != nil {
		return problem("pull secret", err)
	}
	return nil
}

// deleteHostCertificate removes a custom host's Certificate and the Secret
// cert-manager issued into (the default host's <app>-tls stays).
func (d *Deployer) deleteHostCertificate(app spinport.App, host string) error {
	if host == spinport.DefaultHost(app.Name, app.Tenant, d.S.BaseDomain) {
		return nil
	}
	name := HostTLSName(app.Name, host, false)
	ns := d.S.Namespace(app.Tenant)
	for _, kind := range []string{"Certificate", "Secret"} {
		if err := d.K.Delete(kind, ns, name, "Background"); err != nil && !k8sproxy.IsNotFound(err) {
			return problem(kind+" "+name, err)
		}
	}
	return nil
}

// SetTenantRedis stores the URL of the tenant's own Redis in its namespace.
func (d *Deployer) SetTenantRedis(tenant, url string) error {
	_, err := d.K.Apply(d.S.TenantRedisObject(tenant, url))
	return problem("tenant Redis", err)
}

// DeleteTenantRedis removes it; apps keep the URL in their runtime
// configs until their next deploy moves them.
func (d *Deployer) DeleteTenantRedis(tenant string) error {
	err := d.K.Delete("Secret", d.S.Namespace(tenant), TenantRedisSecret, "Background")
	if err != nil && !k8sproxy.IsNotFound(err) {
		return problem("tenant Redis", err)
	}
	return nil
}

// tenantRedisURL reads the tenant's Redis URL back from its Secret: the
// one Secret spinport reads, since the URL is kept nowhere else.
func (d *Deployer) tenantRedisURL(tenant string) (string, error) {
	b, err := d.K.Get("Secret", d.S.Namespace(tenant), TenantRedisSecret)
	if k8sproxy.IsNotFound(err) {
		return "", &spinport.Error{Kind: spinport.Refused, Title: "Tenant Redis missing",
			Detail: "the tenant has its own Redis but the Secret " + TenantRedisSecret + " is gone from its namespace; an installation admin sets it again (PUT /api/v1/tenants/" + tenant + "/redis)"}
	}
	if err != nil {
		return "", problem("tenant Redis", err)
	}
	url, derr := base64.StdEncoding.DecodeString(str(parse(b), "data", "url"))
	if derr != nil || len(url) == 0 {
		return "", &spinport.Error{Kind: spinport.Refused, Title: "Tenant Redis unreadable",
			Detail: "the Secret " + TenantRedisSecret + " of the tenant's namespace holds no url; an installation admin sets it again (PUT /api/v1/tenants/" + tenant + "/redis)"}
	}
	return string(url), nil
}

// DeletePullSecret removes a registry's pull credentials.
func (d *Deployer) DeletePullSecret(tenant, registry string) error {
	err := d.K.Delete("Secret", d.S.Namespace(tenant), PullSecretName(registry), "Background")
	if err != nil && !k8sproxy.IsNotFound(err) {
		return problem("pull secret", err)
	}
	return nil
}

// DeleteApp removes everything the app runs.
func (d *Deployer) DeleteApp(app spinport.App) error {
	ns := d.S.Namespace(app.Tenant)
	for _, o := range []struct{ kind, name string }{
		{"Certificate", tlsName(app.Name)}, {"Ingress", app.Name}, {"HorizontalPodAutoscaler", app.Name}, {"SpinApp", app.Name},
		{"Secret", runtimeConfigName(app.Name)}, {"Secret", secretsName(app.Name)}, {"Secret", tlsName(app.Name)},
	} {
		if err := d.K.Delete(o.kind, ns, o.name, "Background"); err != nil && !k8sproxy.IsNotFound(err) {
			return problem("delete "+o.kind, err)
		}
	}
	for _, h := range app.Domains { // each custom host's Certificate and Secret
		if err := d.deleteHostCertificate(app, h); err != nil {
			return err
		}
	}
	return nil
}

// SetSecret writes one key of the app's Secret. Each variable has its own
// server-side-apply field manager, so concurrent sets of different
// variables never overwrite each other and unsetting one removes only it.
func (d *Deployer) SetSecret(tenant, app, name, value string) error {
	obj := d.S.secretObject(tenant, app, secretsName(app), map[string]string{name: value})
	_, err := d.K.ApplyAs(obj, "spinport-var-"+name)
	return problem("secret "+name, err)
}

func (d *Deployer) DeleteSecret(tenant, app, name string) error {
	obj := d.S.secretObject(tenant, app, secretsName(app), nil)
	_, err := d.K.ApplyAs(obj, "spinport-var-"+name)
	if k8sproxy.IsNotFound(err) {
		return nil
	}
	return problem("secret "+name, err)
}

// Status reports what the cluster runs for the app.
func (d *Deployer) Status(app spinport.App) (spinport.Status, error) {
	ns := d.S.Namespace(app.Tenant)
	var st spinport.Status
	sa, err := d.K.Get("SpinApp", ns, app.Name)
	if k8sproxy.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return st, problem("status", err)
	}
	s := parse(sa)
	st.Revision, _ = strconv.ParseInt(str(s, "metadata", "labels", LabelRevision), 10, 64)
	sp := &spinport.SpinAppStatus{Image: str(s, "spec", "image"), Replicas: num(s, "spec", "replicas"),
		ReadyReplicas: num(s, "status", "readyReplicas"), Conditions: rawOr(s.Get("status", "conditions"), "[]")}
	st.SpinApp = sp

	dep, err := d.K.Get("Deployment", ns, app.Name)
	rollout := "pending"
	var dj *fastjson.Value
	if err == nil {
		dj = parse(dep)
		if sp.Replicas == 0 { // autoscaled: the autoscaler sets the Deployment's replicas
			sp.Replicas = num(dj, "spec", "replicas")
		}
		rollout = rolloutState(dj, sp.Replicas)
		if rollout == "failed" {
			st.Failure = "rollout failed: " + str(condition(dj, "Progressing"), "message")
		}
		sp.Rollout = &spinport.RolloutStatus{State: rollout, Updated: num(dj, "status", "updatedReplicas"), Available: num(dj, "status", "availableReplicas")}
	} else if !k8sproxy.IsNotFound(err) {
		return st, problem("status", err)
	}
	st.Ready = sp.ReadyReplicas >= sp.Replicas && sp.Replicas > 0 && rollout == "complete"
	if !st.Ready && err == nil {
		why, werr := d.waiting(ns, app.Name, dj)
		if werr != nil {
			return st, werr
		}
		st.Waiting = why
		if st.Failure != "" && why != "" {
			st.Failure = "rollout failed: " + why
		}
	}

	for i, h := range d.S.Hosts(app.Tenant, app.Name, app.Domains) {
		cert, err := d.K.Get("Certificate", ns, HostTLSName(app.Name, h, i == 0))
		if i == 0 || err == nil {
			sp.URLs = append(sp.URLs, "https://"+h) // the default host, and custom domains that are routed
		}
		if k8sproxy.IsNotFound(err) {
			continue // not routed (yet): a custom domain not verified
		}
		if err != nil {
			return st, problem("status", err)
		}
		// cert-manager's Ready condition: True, or False with the reason
		// (Issuing, Failed, ...) and a message saying why.
		cond := condition(parse(cert), "Ready")
		cs := spinport.CertificateStatus{Host: h, Ready: str(cond, "status") == "True",
			Reason: str(cond, "reason"), Message: str(cond, "message")}
		if i == 0 {
			c := cs
			sp.Certificate = &c
		}
		sp.Certificates = append(sp.Certificates, cs)
	}
	return st, nil
}

// waiting explains why the app's pods are not ready, in the order a person
// should fix things: the Deployment cannot create pods (quota), pods
// cannot be scheduled, containers cannot start (image, config, crash
// loop), or run but fail their readiness check. Taken from the pods' and
// the Deployment's status (spinport's RBAC has no events).
func (d *Deployer) waiting(ns, app string, dep *fastjson.Value) (string, error) {
	if c := condition(dep, "ReplicaFailure"); str(c, "status") == "True" {
		return "the Deployment cannot create pods: " + str(c, "message") + " (raise the tenant's quota or lower replicas)", nil
	}
	pods, err := d.K.List("Pod", ns, operatorAppLabel+"="+app)
	if err != nil {
		return "", problem("status", err)
	}
	var running string
	for _, p := range parse(pods).GetArray("items") {
		name := str(p, "metadata", "name")
		if c := condition(p, "PodScheduled"); str(c, "status") == "False" {
			return "pod " + name + " cannot be scheduled (" + str(c, "reason") + "): " + str(c, "message"), nil
		}
		for _, cs := range p.GetArray("status", "containerStatuses") {
			w := cs.Get("state", "waiting")
			switch reason := str(w, "reason"); reason {
			case "ImagePullBackOff", "ErrImagePull", "InvalidImageName":
				return "pod " + name + ": the image cannot be pulled (" + reason + "): " + str(w, "message") +
					" (check the image and tag, and the tenant's pull credentials for private registries)", nil
			case "CrashLoopBackOff":
				last := cs.Get("lastState", "terminated")
				return "pod " + name + ": the app keeps crashing (CrashLoopBackOff, " + str(cs, "restartCount") + " restarts; last exit code " +
					str(last, "exitCode") + " " + str(last, "reason") + "): read its logs (GET …/logs)", nil
			case "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
				return "pod " + name + ": the container cannot start (" + reason + "): " + str(w, "message"), nil
			}
			if cs.Exists("state", "running") && !cs.GetBool("ready") && running == "" {
				running = "pod " + name + " runs but is not ready: its readiness check (/.well-known/spin/health) is failing"
			}
		}
	}
	return running, nil
}

// rolloutState reads the Deployment spin-operator made: complete only when
// the controller has seen the newest spec and every pod is a new, ready and
// available one (status.replicas == want: the old pods are gone), as
// kubectl rollout status decides. dep is the parsed Deployment.
func rolloutState(dep *fastjson.Value, want int64) string {
	if failedProgress(dep) {
		return "failed"
	}
	s := dep.Get("status")
	if num(dep, "metadata", "generation") <= num(s, "observedGeneration") && want > 0 &&
		num(s, "replicas") == want && num(s, "updatedReplicas") == want &&
		num(s, "readyReplicas") == want && num(s, "availableReplicas") == want {
		return "complete"
	}
	return "progressing"
}

func failedProgress(dep *fastjson.Value) bool {
	c := condition(dep, "Progressing")
	return str(c, "status") == "False" && str(c, "reason") == "ProgressDeadlineExceeded"
}

// rawOr is v's JSON, or def when v is missing. MarshalTo writes strings
// nothing has read as the API server sent them (one it re-escapes may not
// be valid JSON), so nothing reads inside v before this.
func rawOr(v *fastjson.Value, def string) []byte {
	if v == nil {
		return []byte(def)
	}
	return v.MarshalTo(nil)
}

// Readers of the API server's documents, with the zero values of the gjson
// reads they replace: a missing field is "", 0 or nil. A document that
// does not parse reads as missing everywhere (nil); fastjson's getters
// take nil, its Type does not.

// parse parses one document with a Parser of its own, so values from
// another document stay valid.
func parse(b []byte) *fastjson.Value {
	v, err := fastjson.ParseBytes(b)
	if err != nil {
		return nil
	}
	return v
}

// str is the field at keys as text: a string (copied out of the parser's
// buffer), or the JSON of a number or bool (restartCount reads "5").
func str(v *fastjson.Value, keys ...string) string {
	v = v.Get(keys...)
	if v == nil {
		return ""
	}
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes())
	case fastjson.TypeNull:
		return ""
	}
	return v.String()
}

// num is the integer at keys. Kubernetes writes integers; like gjson's Int,
// a float truncates and a numeric string converts.
func num(v *fastjson.Value, keys ...string) int64 {
	v = v.Get(keys...)
	if v == nil {
		return 0
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		if n, err := v.Int64(); err == nil {
			return n
		}
		// Only in range: an out-of-range conversion may trap under wasm.
		if f := v.GetFloat64(); f > -1<<63 && f < 1<<63 {
			return int64(f)
		}
	case fastjson.TypeString:
		if s := v.GetStringBytes(); len(s) > 0 && s[0] != '+' {
			if n, err := strconv.ParseInt(string(s), 10, 64); err == nil {
				return n
			}
		}
	case fastjson.TypeTrue:
		return 1
	}
	return 0
}

// condition is the first of v's status.conditions whose type is typ, or nil.
func condition(v *fastjson.Value, typ string) *fastjson.Value {
	for _, c := range v.GetArray("status", "conditions") {
		if string(c.GetStringBytes("type")) == typ {
			return c
		}
	}
	return nil
}

// Log bounds: a Spin instance has little memory (the component's leaking
// GC never frees within a request; the pod limit is app_memory_limit), so
// a logs answer holds at most LogBytes in all, LogBytesPerPod from one pod.
const (
	LogBytes       = 1 << 20
	LogBytesPerPod = 256 << 10
)

// Logs returns the last tail lines of each of the app's pods, within the
// byte bounds above.
func (d *Deployer) Logs(app spinport.App, tail int) ([]spinport.PodLog, error) {
	ns := d.S.Namespace(app.Tenant)
	pods, err := d.K.List("Pod", ns, operatorAppLabel+"="+app.Name)
	if err != nil {
		return nil, problem("logs", err)
	}
	out := []spinport.PodLog{}
	left := LogBytes
	for _, p := range parse(pods).GetArray("items") {
		pl := spinport.PodLog{Name: str(p, "metadata", "name"), Phase: str(p, "status", "phase")}
		if left <= 0 {
			pl.Error = "not read: the answer reached its bound of " + strconv.Itoa(LogBytes>>10) + " KiB; ask for fewer lines (?tail=)"
			out = append(out, pl)
			continue
		}
		limit := LogBytesPerPod
		if left < limit {
			limit = left
		}
		if logs, err := d.K.PodLogs(ns, pl.Name, tail, limit, ""); err != nil {
			pl.Error = err.Error()
		} else {
			pl.Log = string(logs)
			left -= len(logs)
		}
		out = append(out, pl)
	}
	return out, nil
}
