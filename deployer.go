package spinport

// Deployer makes the cluster match spinport's records. The Kubernetes
// implementation lives in k8sproxy; tests use a recording one.
type Deployer interface {
	// ApplyTenant creates or updates the tenant's namespace and quota.
	ApplyTenant(t Tenant) error
	DeleteTenant(slug string) error
	// Apply converges the app's objects to rev and reports the state reached.
	Apply(t Tenant, app App, rev Revision) error
	DeleteApp(app App) error
	// SetSecret stores a secret variable's value in the app's Secret; the
	// value never touches the KV store.
	SetSecret(tenant, app, name, value string) error
	DeleteSecret(tenant, app, name string) error
	// Status reports what the cluster runs for the app.
	Status(app App) (Status, error)
	// Logs returns {"pods":[{"name","phase","log"}]} with the last tail lines.
	Logs(app App, tail int) ([]byte, error)
}

// Status is the cluster's view of an app.
type Status struct {
	JSON     []byte // SpinApp, Deployment rollout, Certificate, URLs
	Revision int64  // the revision the SpinApp is labelled with
	Ready    bool   // every requested replica ready and the rollout complete
	Failure  string // why the rollout failed, if it did
}
