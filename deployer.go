package spinport

// Deployer makes the cluster match spinport's records. The Kubernetes
// implementation lives in k8sproxy; tests use a recording one.
type Deployer interface {
	// ApplyTenant creates or updates the tenant's namespace and quota.
	ApplyTenant(t Tenant) error
	DeleteTenant(slug string) error
	// Apply converges the app's objects to rev, with what the service
	// decided around it (with), sending only objects that differ from what
	// with.Previous records as applied. It returns what is applied now.
	Apply(t Tenant, app App, rev Revision, with ApplyWith) (Applied, error)
	DeleteApp(app App) error
	// SetPullSecret stores a registry's pull credentials in the tenant's
	// namespace (a dockerconfigjson Secret); they never touch the KV store.
	SetPullSecret(tenant, registry, username, password string) error
	DeletePullSecret(tenant, registry string) error
	// SetTenantRedis stores the URL of the tenant's own Redis in its
	// namespace; it never touches the KV store.
	SetTenantRedis(tenant, url string) error
	DeleteTenantRedis(tenant string) error
	// SetSecret stores a secret variable's value in the app's Secret; the
	// value never touches the KV store.
	SetSecret(tenant, app, name, value string) error
	DeleteSecret(tenant, app, name string) error
	// Status reports what the cluster runs for the app.
	Status(app App) (Status, error)
	// Logs returns the last tail lines of each of the app's pods.
	Logs(app App, tail int) ([]PodLog, error)
}

// ApplyWith is what an apply needs besides the records.
type ApplyWith struct {
	// KV is where the app's KV store lives when the revision binds one
	// (nil: it binds none).
	KV *KVStore
	// PullRegistry is the image's registry when the tenant registered pull
	// credentials for it: the SpinApp references them.
	PullRegistry string
	// Previous is what the app's last successful apply left in the cluster
	// (nil: unknown, so everything is applied and what may exist is
	// removed; empty: nothing, a new app).
	Previous Applied
	// TenantApplied is the digest of the tenant's objects as last applied
	// ("" : unknown); Apply returns the current one as Applied["tenant"].
	TenantApplied string
}

// Applied is a digest per object an apply left in the cluster ("tenant",
// "SpinApp", "Ingress", ...): the next apply skips the objects whose
// digest is unchanged, so a redeploy sends only what changed.
type Applied map[string]string

// KVStore is the Redis database an app's KV store "default" uses.
type KVStore struct {
	// Own: the tenant's own Redis (its URL is in the tenant's namespace);
	// otherwise the installation's app Redis.
	Own bool
	DB  int64
}

// Status is the cluster's view of an app.
type Status struct {
	SpinApp  *SpinAppStatus // nil: the cluster has no SpinApp for it
	Revision int64          // the revision the SpinApp is labelled with
	Ready    bool           // every requested replica ready and the rollout complete
	Failure  string         // why the rollout failed, if it did
	// Waiting says why the app is not ready yet, from the pods' and the
	// Deployment's states (an image that cannot be pulled, a crash loop,
	// pods that cannot be scheduled or exceed the quota, failing readiness
	// checks): what to fix, while Kubernetes keeps trying.
	Waiting string
}

// SpinAppStatus is what the cluster reports for an app's SpinApp and the
// objects around it.
type SpinAppStatus struct {
	Image                   string
	Replicas, ReadyReplicas int64
	Conditions              []byte              // the operator's status.conditions, as JSON
	Rollout                 *RolloutStatus      // nil: no Deployment yet
	Certificate             *CertificateStatus  // the default host's
	Certificates            []CertificateStatus // every routed host's
	URLs                    []string
}

// RolloutStatus is the Deployment's rollout: pending, progressing, complete or failed.
type RolloutStatus struct {
	State              string
	Updated, Available int64
}

// CertificateStatus is a host's cert-manager Certificate.
type CertificateStatus struct {
	Host    string
	Ready   bool
	Reason  string // cert-manager's Ready reason when not ready (e.g. Issuing, Failed)
	Message string
}

// PodLog is one pod's last log lines (or why they could not be read).
type PodLog struct {
	Name, Phase, Log, Error string
}
