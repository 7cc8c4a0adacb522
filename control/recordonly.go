package control

import "github.com/spinport/spinport"

// RecordOnly is the deployer of an installation without a cluster: it
// records revisions (they stay pending) and answers ErrNoCluster for what
// needs Kubernetes (secrets, status, logs). It replaces "no deployer"
// checks scattered through the use cases.
type RecordOnly struct{}

var _ spinport.Deployer = RecordOnly{}

func (RecordOnly) ApplyTenant(spinport.Tenant) error { return nil }
func (RecordOnly) DeleteTenant(string) error         { return nil }
func (RecordOnly) Apply(spinport.Tenant, spinport.App, spinport.Revision, spinport.ApplyWith) (spinport.Applied, error) {
	return nil, spinport.ErrNoCluster
}
func (RecordOnly) DeleteApp(spinport.App) error { return nil }
func (RecordOnly) SetSecret(tenant, app, name, value string) error {
	return &spinport.Error{Kind: spinport.Unavailable,
		Detail: "secret variables are stored in Kubernetes and no cluster is configured (set kube_api_url and kube_token)"}
}
func (RecordOnly) DeleteSecret(tenant, app, name string) error { return nil }
func (RecordOnly) SetPullSecret(tenant, registry, username, password string) error {
	return &spinport.Error{Kind: spinport.Unavailable,
		Detail: "pull credentials are stored in Kubernetes and no cluster is configured (set kube_api_url and kube_token)"}
}
func (RecordOnly) DeletePullSecret(tenant, registry string) error { return nil }
func (RecordOnly) SetTenantRedis(tenant, url string) error {
	return &spinport.Error{Kind: spinport.Unavailable,
		Detail: "a tenant's Redis URL is stored in Kubernetes and no cluster is configured (set kube_api_url and kube_token)"}
}
func (RecordOnly) DeleteTenantRedis(tenant string) error { return nil }
func (RecordOnly) Status(spinport.App) (spinport.Status, error) {
	return spinport.Status{}, spinport.ErrNoCluster
}
func (RecordOnly) Logs(spinport.App, int) ([]spinport.PodLog, error) {
	return nil, spinport.ErrNoCluster
}
