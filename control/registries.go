package control

import (
	"errors"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// RegistryInput sets pull credentials for a registry.
type RegistryInput struct{ Username, Password string }

// SetRegistryCredential stores a registry's pull credentials: the password
// goes to the tenant's Kubernetes Secret only (never the KV store, never an
// answer); SpinApps of images from that registry reference it from their
// next deploy. created reports whether the registry is new.
func (s *Service) SetRegistryCredential(p *Principal, slug, registry string, bind func() (RegistryInput, error)) (c spinport.RegistryCredential, created bool, err error) {
	a, err := s.tenantAs(p, slug, spinport.RoleOwner)
	if err != nil {
		return c, false, err
	}
	if err := spinport.CheckRegistry(registry); err != nil {
		return c, false, err
	}
	in, err := bind()
	if err != nil {
		return c, false, err
	}
	if in.Username == "" || len(in.Username) > 256 {
		return c, false, invalid("username", "username is required (1-256 characters), e.g. the ACR token name")
	}
	if in.Password == "" || len(in.Password) > 4096 {
		return c, false, invalid("password", "password is required (1-4096 characters); it is kept only in a Kubernetes Secret of the tenant")
	}
	_, err = s.DB.GetRegistryCredential(a.Tenant.Slug, registry)
	created = errors.Is(err, kv.ErrNotFound)
	if err != nil && !created {
		return c, false, err
	}
	if err := s.ensureTenant(&a.Tenant); err != nil {
		return c, false, err
	}
	if err := s.Deployer.SetPullSecret(a.Tenant.Slug, registry, in.Username, in.Password); err != nil {
		return c, false, err
	}
	c = spinport.RegistryCredential{Registry: registry, Username: in.Username, UpdatedAt: s.now(), UpdatedBy: p.ID}
	if err := s.DB.PutRegistryCredential(a.Tenant.Slug, c); err != nil {
		return c, false, err
	}
	s.audit(a.Tenant.Slug, p, "registry.set", "registry/"+registry, "ok", in.Username)
	return c, created, nil
}

func (s *Service) RegistryCredentials(p *Principal, slug, cursor string, limit int) ([]spinport.RegistryCredential, string, error) {
	a, err := s.tenantAs(p, slug, spinport.RoleViewer)
	if err != nil {
		return nil, "", err
	}
	return s.DB.ListRegistryCredentials(a.Tenant.Slug, cursor, limit)
}

func (s *Service) DeleteRegistryCredential(p *Principal, slug, registry string) error {
	a, err := s.tenantAs(p, slug, spinport.RoleOwner)
	if err != nil {
		return err
	}
	if _, err := s.DB.GetRegistryCredential(a.Tenant.Slug, registry); errors.Is(err, kv.ErrNotFound) {
		return notFound("tenant " + a.Tenant.Slug + " has no credentials for registry \"" + registry + "\"")
	} else if err != nil {
		return err
	}
	if err := s.Deployer.DeletePullSecret(a.Tenant.Slug, registry); err != nil {
		return err
	}
	if err := s.DB.DeleteRegistryCredential(a.Tenant.Slug, registry); err != nil {
		return err
	}
	s.audit(a.Tenant.Slug, p, "registry.delete", "registry/"+registry, "ok", "")
	return nil
}
