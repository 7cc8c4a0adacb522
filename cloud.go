package spinport

import "time"

// PushRegistry issues credentials that may push and pull only a tenant's
// repositories on the installation's registry. On Azure it is a scope map
// per tenant and a registry token per credential (package azure).
type PushRegistry interface {
	LoginServer() string
	// Repository is the repository an app's images go to.
	Repository(tenant, app string) string
	// SetTenantScope makes the tenant's scope grant exactly its apps'
	// repositories.
	SetTenantScope(tenant string, apps []string) error
	// Issue creates the credential if needed and generates a new password
	// in slot (1 or 2); the other slot's password keeps working, so CI can
	// switch without an outage.
	Issue(tenant, name string, expiry time.Time, slot int) (PushSecret, error)
	Revoke(tenant, name string) error
	DeleteTenantScope(tenant string) error
}

// PushSecret is a credential's username and a new password: shown once.
type PushSecret struct {
	Username, Password string
	Expiry             time.Time
}

// HostDNS keeps DNS records for app hosts in zones the installation
// manages (Azure DNS, package azure). owner ("<tenant>/<app>") marks the
// records as spinport's, so it never changes one it did not create.
type HostDNS interface {
	Manages(host string) bool
	Point(host, owner string) error
	Remove(host, owner string) error
	// Prove publishes the ownership record (TXT ChallengeName(host) =
	// token) for a host in a managed zone.
	Prove(host, token, owner string) error
}

// Resolver looks names up in public DNS (DNS-over-HTTPS, package doh).
// A name or record that does not exist is an empty answer, not an error;
// errors are failures of the lookup itself.
type Resolver interface {
	LookupTXT(name string) ([]string, error)
	// LookupHost follows CNAMEs: the chain and the addresses it ends at.
	LookupHost(name string) (cnames, addrs []string, err error)
}

// PushCredential records a tenant's push credential; the password is
// only in the answer that generated it.
type PushCredential struct {
	Name      string // unique in the tenant, a DNS label
	Username  string // the registry token's name
	Slot      int    // the password slot generated last (1 or 2)
	Expires   int64  // unix seconds; 0: no expiry
	CreatedAt int64
	CreatedBy string
	RotatedAt int64
}

// Artifacts resolves and inspects Spin apps in OCI registries (package
// registry), so a deploy that would fail on the cluster is refused first.
type Artifacts interface {
	// Resolve pins ref (registry/repository:tag) to the digest it points at now.
	Resolve(ref string) (digest string, err error)
	// Inspect reads the Spin app at a digest-pinned reference.
	Inspect(ref string) (Artifact, error)
}

// Artifact is what a Spin app's locked app declares.
type Artifact struct {
	Components           []string
	Routes               []string // "<route> -> <component>"
	Variables            []ArtifactVariable
	KeyValueStores       []string
	SQLiteDatabases      []string
	AllowedOutboundHosts []string
}

// ArtifactVariable is an application variable of a Spin app.
type ArtifactVariable struct {
	Name             string
	Required, Secret bool
}
