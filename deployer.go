package spinport

// Deployer makes the cluster match spinport's records. The Kubernetes
// implementation lives in k8sproxy; tests use a recording one.
type Deployer interface {
	// ApplyTenant creates or updates the tenant's namespace and quota.
	ApplyTenant(t Tenant) error
	DeleteTenant(slug string) error
	// Apply converges the app's objects to rev. kvDB is the Redis database
	// reserved for the tenant's app KV stores when rev binds one (0: none).
	Apply(t Tenant, app App, rev Revision, kvDB int64) error
	DeleteApp(app App) error
	// SetSecret stores a secret variable's value in the app's Secret; the
	// value never touches the KV store.
	SetSecret(tenant, app, name, value string) error
	DeleteSecret(tenant, app, name string) error
	// Status reports what the cluster runs for the app.
	Status(app App) (Status, error)
	// Logs returns the last tail lines of each of the app's pods.
	Logs(app App, tail int) ([]PodLog, error)
}

// Status is the cluster's view of an app.
type Status struct {
	SpinApp  *SpinAppStatus // nil: the cluster has no SpinApp for it
	Revision int64          // the revision the SpinApp is labelled with
	Ready    bool           // every requested replica ready and the rollout complete
	Failure  string         // why the rollout failed, if it did
}

// SpinAppStatus is what the cluster reports for an app's SpinApp and the
// objects around it.
type SpinAppStatus struct {
	Image                   string
	Replicas, ReadyReplicas int64
	Conditions              []byte         // the operator's status.conditions, as JSON
	Rollout                 *RolloutStatus // nil: no Deployment yet
	Certificate             *CertificateStatus
	URLs                    []string
}

// RolloutStatus is the Deployment's rollout: pending, progressing, complete or failed.
type RolloutStatus struct {
	State              string
	Updated, Available int64
}

// CertificateStatus is the app's cert-manager Certificate.
type CertificateStatus struct {
	Ready   bool
	Message string
}

// PodLog is one pod's last log lines (or why they could not be read).
type PodLog struct {
	Name, Phase, Log, Error string
}
