package control

import (
	"errors"
	"strconv"
	"time"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// Push credentials: registry credentials for CI that may push and pull
// only the tenant's repositories (on Azure: an ACR token bound to the
// tenant's scope map, package azure). The password is in the answer that
// generates it and nowhere else.

// PushInput creates a push credential.
type PushInput struct {
	Name          string
	ExpiresInDays int64 // 0: DefaultPushDays
}

// Push credential lifetimes, in days.
const (
	DefaultPushDays = 90
	MaxPushDays     = 365
)

// PushIssued is a credential with its new password (shown once) and what
// to paste into CI.
type PushIssued struct {
	Credential  spinport.PushCredential
	Password    string
	LoginServer string
	Repository  string // <login server>/<tenant>/<app>, with <app> for the app's name
}

func (s *Service) pushRegistry() (spinport.PushRegistry, error) {
	if s.Registry == nil {
		return nil, &spinport.Error{Kind: spinport.Refused, Title: "No installation registry",
			Detail: "this installation has no Azure Container Registry configured (acr_registry), so it issues no push credentials; use your registry's own credentials"}
	}
	return s.Registry, nil
}

// CreatePushCredential makes a new credential (owners; API tokens may
// not: a token must not mint registry credentials that outlive it).
func (s *Service) CreatePushCredential(p *Principal, slug string, bind func() (PushInput, error)) (PushIssued, error) {
	a, err := s.tenantAsHuman(p, slug, spinport.RoleOwner)
	if err != nil {
		return PushIssued{}, err
	}
	reg, err := s.pushRegistry()
	if err != nil {
		return PushIssued{}, err
	}
	in, err := bind()
	if err != nil {
		return PushIssued{}, err
	}
	if err := spinport.CheckName("name", "push credential", in.Name, 20); err != nil {
		return PushIssued{}, err
	}
	days, err := pushDays(in.ExpiresInDays)
	if err != nil {
		return PushIssued{}, err
	}
	slug = a.Tenant.Slug
	now := s.now()
	c := spinport.PushCredential{Name: in.Name, Slot: 1, Expires: now + days*86400, CreatedAt: now, CreatedBy: p.ID, RotatedAt: now}
	if err := s.DB.CreatePushCredential(slug, c); errors.Is(err, kv.ErrExists) {
		return PushIssued{}, &spinport.Error{Kind: spinport.Conflict, Field: "name",
			Detail: "push credential \"" + in.Name + "\" exists: rotate it (POST …/push-credentials/" + in.Name + "/rotate) or pick another name"}
	} else if err != nil {
		return PushIssued{}, err
	}
	issued, err := s.issuePush(p, reg, slug, c)
	if err != nil {
		// Nothing usable was handed out: forget the record so the name can
		// be tried again (the registry token, if made, is re-used then).
		_ = s.DB.DeletePushCredential(slug, c.Name)
	}
	return issued, err
}

// issuePush grants the tenant's repositories and generates c's password
// in c.Slot, recording the username and expiry Azure answered.
func (s *Service) issuePush(p *Principal, reg spinport.PushRegistry, slug string, c spinport.PushCredential) (PushIssued, error) {
	if err := s.syncScope(p, reg, slug); err != nil {
		return PushIssued{}, err
	}
	sec, err := reg.Issue(slug, c.Name, time.Unix(c.Expires, 0), c.Slot)
	s.audit(slug, p, "azure.acr.credentials", "push/"+c.Name, outcome(err), "password"+strconv.Itoa(c.Slot))
	if err != nil {
		return PushIssued{}, err
	}
	c.Username = sec.Username
	if !sec.Expiry.IsZero() {
		c.Expires = sec.Expiry.Unix()
	}
	if err := s.DB.PutPushCredential(slug, c); err != nil {
		return PushIssued{}, err
	}
	return PushIssued{Credential: c, Password: sec.Password, LoginServer: reg.LoginServer(),
		Repository: reg.LoginServer() + "/" + reg.Repository(slug, "<app>")}, nil
}

// syncScope makes the tenant's scope grant exactly its apps' repositories.
func (s *Service) syncScope(p *Principal, reg spinport.PushRegistry, slug string) error {
	var apps []string
	cursor := ""
	for {
		page, next, err := s.DB.ListApps(slug, cursor, 200)
		if err != nil {
			return err
		}
		for _, a := range page {
			apps = append(apps, a.Name)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	err := reg.SetTenantScope(slug, apps)
	s.audit(slug, p, "azure.acr.scope", "tenant/"+slug, outcome(err), strconv.Itoa(len(apps))+" repositories")
	return err
}

// appsChanged keeps the scope in step when an app comes or goes, if the
// tenant has push credentials at all.
func (s *Service) appsChanged(p *Principal, slug string) error {
	if s.Registry == nil {
		return nil
	}
	creds, _, err := s.DB.ListPushCredentials(slug, "", 1)
	if err != nil || len(creds) == 0 {
		return err
	}
	return s.syncScope(p, s.Registry, slug)
}

func (s *Service) PushCredentials(p *Principal, slug, cursor string, limit int) ([]spinport.PushCredential, string, error) {
	a, err := s.tenantAs(p, slug, spinport.RoleViewer)
	if err != nil {
		return nil, "", err
	}
	return s.DB.ListPushCredentials(a.Tenant.Slug, cursor, limit)
}

// RotatePushCredential generates a password in the other slot: the
// previous one keeps working until the next rotation or its expiry, so CI
// can switch without a failed push.
func (s *Service) RotatePushCredential(p *Principal, slug, name string, bind func() (PushInput, error)) (PushIssued, error) {
	a, err := s.tenantAsHuman(p, slug, spinport.RoleOwner)
	if err != nil {
		return PushIssued{}, err
	}
	reg, err := s.pushRegistry()
	if err != nil {
		return PushIssued{}, err
	}
	c, err := s.DB.GetPushCredential(a.Tenant.Slug, name)
	if errors.Is(err, kv.ErrNotFound) {
		return PushIssued{}, notFound("tenant " + a.Tenant.Slug + " has no push credential \"" + name + "\"")
	} else if err != nil {
		return PushIssued{}, err
	}
	in, err := bind()
	if err != nil {
		return PushIssued{}, err
	}
	days, err := pushDays(in.ExpiresInDays)
	if err != nil {
		return PushIssued{}, err
	}
	c.Slot = 3 - c.Slot
	c.RotatedAt = s.now()
	c.Expires = c.RotatedAt + days*86400
	return s.issuePush(p, reg, a.Tenant.Slug, c)
}

// RevokePushCredential deletes the registry token: both passwords stop
// working at once.
func (s *Service) RevokePushCredential(p *Principal, slug, name string) error {
	a, err := s.tenantAs(p, slug, spinport.RoleOwner)
	if err != nil {
		return err
	}
	reg, err := s.pushRegistry()
	if err != nil {
		return err
	}
	if _, err := s.DB.GetPushCredential(a.Tenant.Slug, name); errors.Is(err, kv.ErrNotFound) {
		return notFound("tenant " + a.Tenant.Slug + " has no push credential \"" + name + "\"")
	} else if err != nil {
		return err
	}
	err = reg.Revoke(a.Tenant.Slug, name)
	s.audit(a.Tenant.Slug, p, "azure.acr.revoke", "push/"+name, outcome(err), "")
	if err != nil {
		return err
	}
	return s.DB.DeletePushCredential(a.Tenant.Slug, name)
}

// dropTenantRegistry revokes every credential of a tenant being deleted
// and removes its scope map.
func (s *Service) dropTenantRegistry(p *Principal, slug string) error {
	if s.Registry == nil {
		return nil
	}
	for {
		creds, _, err := s.DB.ListPushCredentials(slug, "", 50)
		if err != nil {
			return err
		}
		if len(creds) == 0 {
			break
		}
		for _, c := range creds {
			err := s.Registry.Revoke(slug, c.Name)
			s.audit(slug, p, "azure.acr.revoke", "push/"+c.Name, outcome(err), "tenant deleted")
			if err != nil {
				return err
			}
			if err := s.DB.DeletePushCredential(slug, c.Name); err != nil {
				return err
			}
		}
	}
	err := s.Registry.DeleteTenantScope(slug)
	s.audit(slug, p, "azure.acr.scope.delete", "tenant/"+slug, outcome(err), "")
	return err
}

func pushDays(d int64) (int64, error) {
	if d == 0 {
		return DefaultPushDays, nil
	}
	if d < 1 || d > MaxPushDays {
		return 0, invalid("expiresInDays", "expiresInDays is 1 to "+strconv.Itoa(MaxPushDays)+" (default "+strconv.Itoa(DefaultPushDays)+"); rotate before it ends")
	}
	return d, nil
}
