package control

import (
	"errors"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// Bind functions read a request's input. Use cases call them only after
// the access check, so a caller who may not do something learns nothing
// from a malformed body and gets the same answer as before.

// TenantInput creates a tenant. Quotas and Owner are for installation admins.
type TenantInput struct {
	Slug, DisplayName, Owner string
	Quotas                   *QuotaPatch // nil: the defaults
}

// TenantPatch changes a tenant; nil fields stay as they are.
type TenantPatch struct {
	DisplayName *string
	Quotas      *QuotaPatch
}

// QuotaPatch sets some quotas; 0 keeps the current value.
type QuotaPatch spinport.Quotas

// On returns base with the quotas q sets.
func (q QuotaPatch) On(base spinport.Quotas) spinport.Quotas {
	for _, f := range []struct{ from, to *int64 }{{&q.MaxApps, &base.MaxApps}, {&q.MaxReplicasPerApp, &base.MaxReplicasPerApp}, {&q.MaxTotalReplicas, &base.MaxTotalReplicas}} {
		if *f.from != 0 {
			*f.to = *f.from
		}
	}
	return base
}

// TenantRow is a tenant with the caller's role in it.
type TenantRow struct {
	Tenant spinport.Tenant
	Role   string
}

// Usage is what a tenant counts against its quotas.
type Usage struct{ Apps, Replicas int64 }

// MyTenants lists the slugs of the tenants a signed-in person belongs to.
func (s *Service) MyTenants(p *Principal) ([]string, error) {
	slugs, _, err := s.DB.UserTenants(p.UserID, "", 200)
	return slugs, err
}

func (s *Service) CreateTenant(p *Principal, bind func() (TenantInput, error)) (spinport.Tenant, error) {
	if p.Token != nil {
		return spinport.Tenant{}, forbidden("API tokens belong to one tenant and cannot create tenants; sign in to the portal")
	}
	in, err := bind()
	if err != nil {
		return spinport.Tenant{}, err
	}
	if err := spinport.CheckTenantSlug(in.Slug); err != nil {
		return spinport.Tenant{}, err
	}
	if in.DisplayName == "" {
		in.DisplayName = in.Slug
	}
	if len(in.DisplayName) > 100 {
		return spinport.Tenant{}, invalid("displayName", "displayName is at most 100 characters")
	}
	q := spinport.DefaultQuotas
	if in.Quotas != nil {
		if !p.Admin {
			return spinport.Tenant{}, forbidden("only an installation admin sets quotas; leave \"quotas\" out to get the defaults")
		}
		q = in.Quotas.On(q)
	}
	owner := p.UserID
	if in.Owner != "" {
		if !p.Admin {
			return spinport.Tenant{}, invalid("owner", "only an installation admin names another owner; you become the owner of tenants you create")
		}
		if _, err := s.DB.GetUser(in.Owner); err != nil {
			return spinport.Tenant{}, invalid("owner", "no user \""+in.Owner+"\": the owner must have signed in once")
		}
		owner = in.Owner
	}
	t := spinport.Tenant{Slug: in.Slug, DisplayName: in.DisplayName, Quotas: q, CreatedAt: s.now(), CreatedBy: p.ID, ClusterPending: s.hasCluster()}
	err = s.DB.CreateTenant(t, spinport.Member{UserID: owner, Role: spinport.RoleOwner, AddedAt: t.CreatedAt, AddedBy: p.ID})
	if errors.Is(err, kv.ErrExists) {
		// A retry of a create whose cluster objects never got applied
		// (Kubernetes refused or was away) converges instead of answering 409.
		existing, gerr := s.DB.GetTenant(in.Slug)
		if gerr != nil || !existing.ClusterPending || (!p.Admin && existing.CreatedBy != p.ID) {
			return spinport.Tenant{}, conflict("tenant \"" + in.Slug + "\" already exists; choose another slug")
		}
		t, err = existing, nil
	}
	if err != nil {
		return spinport.Tenant{}, err
	}
	if err := s.ensureTenant(&t); err != nil {
		s.audit(t.Slug, p, "tenant.create", "tenant/"+t.Slug, "failed", err.Error())
		return spinport.Tenant{}, err
	}
	s.audit(t.Slug, p, "tenant.create", "tenant/"+t.Slug, "ok", "")
	return t, nil
}

// ensureTenant applies the tenant's cluster objects if they never were
// (spinport.Tenant.ClusterPending) and records that they now are. Every
// write that needs the namespace calls it first, so a tenant created while
// Kubernetes refused converges on the next such write.
func (s *Service) ensureTenant(t *spinport.Tenant) error {
	if !t.ClusterPending || !s.hasCluster() {
		return nil
	}
	if err := s.Deployer.ApplyTenant(*t); err != nil {
		return err
	}
	return s.tenantApplied(t)
}

// tenantApplied records that the tenant's cluster objects exist.
func (s *Service) tenantApplied(t *spinport.Tenant) error {
	if !t.ClusterPending {
		return nil
	}
	t.ClusterPending = false
	return s.DB.UpdateTenant(*t)
}

// ListTenants lists the tenants p can see: all for an admin, the token's
// own for a token, the member's for a person.
func (s *Service) ListTenants(p *Principal, cursor string, limit int) ([]TenantRow, string, error) {
	var rows []TenantRow
	switch {
	case p.Admin:
		ts, next, err := s.DB.ListTenants(cursor, limit)
		if err != nil {
			return nil, "", err
		}
		for _, t := range ts {
			rows = append(rows, TenantRow{t, spinport.RoleOwner})
		}
		return rows, next, nil
	case p.Token != nil:
		a, err := s.TenantAccess(p, p.Token.Tenant)
		if err != nil {
			return nil, "", err
		}
		return []TenantRow{{a.Tenant, a.Role}}, "", nil
	}
	slugs, next, err := s.DB.UserTenants(p.UserID, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	for _, slug := range slugs {
		a, err := s.TenantAccess(p, slug)
		if err != nil {
			continue // removed meanwhile
		}
		rows = append(rows, TenantRow{a.Tenant, a.Role})
	}
	return rows, next, nil
}

// Tenant returns the tenant with the caller's role and its usage.
func (s *Service) Tenant(p *Principal, slug string) (Access, Usage, error) {
	a, err := s.TenantAccess(p, slug)
	if err != nil {
		return a, Usage{}, err
	}
	var u Usage
	if u.Apps, err = s.DB.AppCount(a.Tenant.Slug); err != nil {
		return a, u, err
	}
	u.Replicas, err = s.DB.ReplicaCount(a.Tenant.Slug)
	return a, u, err
}

func (s *Service) UpdateTenant(p *Principal, slug string, bind func() (TenantPatch, error)) (TenantRow, error) {
	a, err := s.tenantAsHuman(p, slug, spinport.RoleOwner)
	if err != nil {
		return TenantRow{}, err
	}
	in, err := bind()
	if err != nil {
		return TenantRow{}, err
	}
	t := a.Tenant
	if in.DisplayName != nil {
		if d := *in.DisplayName; d == "" || len(d) > 100 {
			return TenantRow{}, invalid("displayName", "displayName must be 1-100 characters")
		}
		t.DisplayName = *in.DisplayName
	}
	if in.Quotas != nil {
		if !p.Admin {
			return TenantRow{}, forbidden("only an installation admin changes quotas")
		}
		t.Quotas = in.Quotas.On(t.Quotas)
	}
	if err := s.DB.UpdateTenant(t); err != nil {
		return TenantRow{}, err
	}
	if err := s.Deployer.ApplyTenant(t); err != nil {
		return TenantRow{}, err
	}
	s.audit(t.Slug, p, "tenant.update", "tenant/"+t.Slug, "ok", "")
	return TenantRow{t, a.Role}, nil
}

func (s *Service) DeleteTenant(p *Principal, slug string) error {
	a, err := s.tenantAsHuman(p, slug, spinport.RoleOwner)
	if err != nil {
		return err
	}
	slug = a.Tenant.Slug
	hasApps := conflict("tenant \"" + slug + "\" still has apps: delete them first")
	if n, err := s.DB.AppCount(slug); err != nil {
		return err
	} else if n > 0 {
		return hasApps
	}
	if err := s.dropTenantRegistry(p, slug); err != nil {
		return err
	}
	if err := s.Deployer.DeleteTenant(slug); err != nil {
		return err
	}
	if err := s.DB.DeleteTenant(slug); err != nil {
		if errors.Is(err, kv.ErrHasApps) {
			return hasApps
		}
		return err
	}
	return nil
}
