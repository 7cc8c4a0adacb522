package control

import (
	"errors"
	"strconv"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// AppInput creates an app.
type AppInput struct {
	Name    string
	Scaling spinport.Scaling
	Domains []string
	KV      bool
}

// AppPatch changes an app; nil fields stay as they are.
type AppPatch struct {
	Scaling *spinport.Scaling
	Domains *[]string
	KV      *bool
}

// AppView is an app with the revision it runs (0: never deployed).
type AppView struct {
	App      spinport.App
	Current  int64
	Artifact *spinport.Artifact // what the current revision's image declares, when inspected
}

// checkDomains validates custom domains and drops duplicates.
func (s *Service) checkDomains(ds []string) ([]string, error) {
	if len(ds) > spinport.MaxDomains {
		return nil, invalid("domains", "at most "+strconv.Itoa(spinport.MaxDomains)+" custom domains per app")
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		if err := spinport.CheckDomain(d, s.Config.BaseDomain); err != nil {
			return nil, err
		}
		if d == s.Config.PublicHost {
			return nil, invalid("domains", "domain \""+d+"\" is spinport's own address; use a domain you own")
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// claimDefaultHost claims the app's default host like a custom domain:
// <app>-<tenant> is not unique by itself (shop-api in acme and shop in
// api-acme share it), and spinport's own public host is not for apps.
func (s *Service) claimDefaultHost(app spinport.App) error {
	host := spinport.DefaultHost(app.Name, app.Tenant, s.Config.BaseDomain)
	taken := &spinport.Error{Kind: spinport.Conflict, Field: "name",
		Detail: "app \"" + app.Name + "\" would get the host " + host + ", which is already taken (another tenant's app, or spinport's own address); choose another app name"}
	if host == s.Config.PublicHost {
		return taken
	}
	err := s.DB.ClaimDomain(host, app.Tenant, app.Name)
	if errors.Is(err, kv.ErrExists) {
		return taken
	}
	return err
}

func (s *Service) releaseDefaultHost(app spinport.App) {
	_ = s.DB.ReleaseDomain(spinport.DefaultHost(app.Name, app.Tenant, s.Config.BaseDomain), app.Tenant, app.Name)
}

// claimDomains claims hosts not in have; on a conflict it releases what it claimed.
func (s *Service) claimDomains(p *Principal, tenant, app string, want, have []string) error {
	var claimed []string
	for _, d := range want {
		if contains(have, d) {
			continue
		}
		err := s.claimCustom(p, tenant, app, d)
		if err != nil {
			for _, c := range claimed {
				_ = s.DB.ReleaseDomain(c, tenant, app)
			}
			if errors.Is(err, kv.ErrExists) {
				return &spinport.Error{Kind: spinport.Conflict, Field: "domains",
					Detail: "domain \"" + d + "\" is already used by another app on this installation"}
			}
			return err
		}
		claimed = append(claimed, d)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Service) view(app spinport.App) (AppView, error) {
	rev, err := s.DB.LatestRevision(app.Tenant, app.Name)
	if errors.Is(err, kv.ErrNotFound) {
		return AppView{App: app}, nil
	}
	return AppView{App: app, Current: rev.Number, Artifact: rev.Artifact}, err
}

func (s *Service) CreateApp(p *Principal, slug string, bind func() (AppInput, error)) (AppView, error) {
	a, err := s.tenantAs(p, slug, spinport.RoleOwner)
	if err != nil {
		return AppView{}, err
	}
	if p.Token != nil && p.Token.App != "" {
		return AppView{}, forbidden("this token is restricted to app " + p.Token.App + " and cannot create apps")
	}
	in, err := bind()
	if err != nil {
		return AppView{}, err
	}
	if err := spinport.CheckAppName(in.Name); err != nil {
		return AppView{}, err
	}
	domains, err := s.checkDomains(in.Domains)
	if err != nil {
		return AppView{}, err
	}
	now := s.now()
	app := spinport.App{Tenant: a.Tenant.Slug, Name: in.Name, Scaling: in.Scaling, Domains: domains, KV: in.KV, CreatedAt: now, UpdatedAt: now, CreatedBy: p.ID}
	if err := s.claimDefaultHost(app); err != nil {
		return AppView{}, err
	}
	if err := s.claimDomains(p, app.Tenant, app.Name, domains, nil); err != nil {
		s.releaseDefaultHost(app)
		return AppView{}, err
	}
	if err := s.DB.CreateApp(app, a.Tenant.Quotas); err != nil {
		for _, d := range domains {
			_ = s.DB.ReleaseDomain(d, app.Tenant, app.Name)
		}
		if !errors.Is(err, kv.ErrExists) { // the existing app keeps its claim
			s.releaseDefaultHost(app)
		}
		if errors.Is(err, kv.ErrExists) {
			return AppView{}, &spinport.Error{Kind: spinport.Conflict, Field: "name", Detail: "app \"" + app.Name + "\" already exists in tenant " + app.Tenant}
		}
		s.audit(app.Tenant, p, "app.create", "app/"+app.Name, "denied", err.Error())
		return AppView{}, err
	}
	s.audit(app.Tenant, p, "app.create", "app/"+app.Name, "ok", "")
	if err := s.appsChanged(p, app.Tenant); err != nil { // audited; the next credential issue re-syncs
		s.logf("granting the new app's repository to the tenant's push credentials: " + err.Error())
	}
	return s.view(app)
}

// ListApps lists the apps p can see (an app-restricted token: its app).
func (s *Service) ListApps(p *Principal, slug, cursor string, limit int) ([]spinport.App, string, error) {
	a, err := s.TenantAccess(p, slug)
	if err != nil {
		return nil, "", err
	}
	if p.Token != nil && p.Token.App != "" {
		app, err := s.loadApp(a, p.Token.App)
		if err != nil {
			return nil, "", nil
		}
		return []spinport.App{app}, "", nil
	}
	return s.DB.ListApps(a.Tenant.Slug, cursor, limit)
}

func (s *Service) App(p *Principal, slug, name string) (AppView, error) {
	_, app, err := s.appAccess(p, slug, name, spinport.RoleViewer)
	if err != nil {
		return AppView{}, err
	}
	return s.view(app)
}

func (s *Service) UpdateApp(p *Principal, slug, name string, bind func() (AppPatch, error)) (AppView, error) {
	a, app, err := s.appAccess(p, slug, name, spinport.RoleViewer)
	if err != nil {
		return AppView{}, err
	}
	in, err := bind()
	if err != nil {
		return AppView{}, err
	}
	// Scaling is a deployer's job; domains and KV binding are the owner's.
	need := spinport.RoleDeployer
	if in.Domains != nil || in.KV != nil {
		need = spinport.RoleOwner
	}
	if err := a.require(need); err != nil {
		return AppView{}, err
	}
	old := app
	if in.Scaling != nil {
		app.Scaling = *in.Scaling
	}
	if in.Domains != nil {
		if app.Domains, err = s.checkDomains(*in.Domains); err != nil {
			return AppView{}, err
		}
		if err := s.claimDomains(p, app.Tenant, app.Name, app.Domains, old.Domains); err != nil {
			return AppView{}, err
		}
	}
	if in.KV != nil {
		app.KV = *in.KV
	}
	app.UpdatedAt = s.now()
	if err := s.DB.UpdateApp(old, app, a.Tenant.Quotas); err != nil {
		s.audit(app.Tenant, p, "app.update", "app/"+app.Name, "denied", err.Error())
		return AppView{}, err
	}
	for _, d := range old.Domains {
		if !contains(app.Domains, d) {
			_ = s.DB.ReleaseDomain(d, app.Tenant, app.Name)
		}
	}
	s.audit(app.Tenant, p, "app.update", "app/"+app.Name, "ok", "")
	if err := s.redeploy(a, app, p, "settings changed"); err != nil {
		return AppView{}, err
	}
	var gone []string
	for _, d := range old.Domains {
		if !contains(app.Domains, d) {
			gone = append(gone, d)
		}
	}
	if err := s.removeHosts(p, app, gone); err != nil {
		return AppView{}, err
	}
	return s.view(app)
}

func (s *Service) DeleteApp(p *Principal, slug, name string) error {
	_, app, err := s.appAccess(p, slug, name, spinport.RoleOwner)
	if err != nil {
		return err
	}
	if err := s.Deployer.DeleteApp(app); err != nil {
		return err
	}
	if err := s.removeHosts(p, app, s.hosts(app, app.Domains)); err != nil {
		return err
	}
	if err := s.DB.DeleteApp(app); err != nil {
		if errors.Is(err, kv.ErrNotFound) { // a racing delete won
			return notFound("no app \"" + name + "\" in tenant " + app.Tenant)
		}
		return err
	}
	s.releaseDefaultHost(app)
	s.audit(app.Tenant, p, "app.delete", "app/"+app.Name, "ok", "")
	if err := s.appsChanged(p, app.Tenant); err != nil { // audited; the next credential issue re-syncs
		s.logf("taking the deleted app's repository from the tenant's push credentials: " + err.Error())
	}
	return nil
}
