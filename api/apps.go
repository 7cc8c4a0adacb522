package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/spinport/spinport"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/jsonw"
	"github.com/spinport/spinport/kv"
)

var appFields = []string{"name", "replicas", "autoscaling", "domains", "kv"}

// readScaling applies replicas/autoscaling from the body onto cur.
func readScaling(b body, cur spinport.Scaling) (spinport.Scaling, error) {
	if b.has("replicas") && b.has("autoscaling") {
		return cur, badRequest("replicas", "give either replicas or autoscaling, not both (SpinKube rejects both)")
	}
	if b.has("replicas") {
		n, err := b.int("replicas", 1)
		if err != nil {
			return cur, err
		}
		if n < 1 {
			return cur, badRequest("replicas", "replicas must be at least 1; to stop an app, delete it")
		}
		return spinport.Scaling{Replicas: n}, nil
	}
	if b.has("autoscaling") {
		ab, _, err := b.obj("autoscaling", "minReplicas", "maxReplicas")
		if err != nil {
			return cur, err
		}
		min, err := ab.int("minReplicas", 1)
		if err != nil {
			return cur, badRequest("autoscaling.minReplicas", "autoscaling.minReplicas must be an integer")
		}
		max, err := ab.int("maxReplicas", 0)
		if err != nil {
			return cur, badRequest("autoscaling.maxReplicas", "autoscaling.maxReplicas must be an integer")
		}
		if min < 1 || max < min {
			return cur, badRequest("autoscaling", "autoscaling needs 1 <= minReplicas <= maxReplicas")
		}
		return spinport.Scaling{Autoscale: true, MinReplicas: min, MaxReplicas: max}, nil
	}
	return cur, nil
}

func (s *Server) readDomains(b body) ([]string, error) {
	ds, err := b.strs("domains")
	if err != nil {
		return nil, err
	}
	if len(ds) > spinport.MaxDomains {
		return nil, badRequest("domains", "at most "+strconv.Itoa(spinport.MaxDomains)+" custom domains per app")
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		if err := spinport.CheckDomain(d, s.Config.BaseDomain); err != nil {
			return nil, err
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// claimDomains claims hosts not in have; on a conflict it releases what it claimed.
func (s *Server) claimDomains(tenant, app string, want, have []string) error {
	var claimed []string
	for _, d := range want {
		if contains(have, d) {
			continue
		}
		err := s.DB.ClaimDomain(d, tenant, app)
		if err != nil {
			for _, c := range claimed {
				_ = s.DB.ReleaseDomain(c, tenant, app)
			}
			if errors.Is(err, kv.ErrExists) {
				return &Problem{Status: http.StatusConflict, Title: "Conflict", Field: "domains",
					Detail: "domain \"" + d + "\" is already used by another app on this installation"}
			}
			return err
		}
		claimed = append(claimed, d)
	}
	return nil
}

func (s *Server) loadApp(a access, name string) (spinport.App, error) {
	if err := a.app(name); err != nil {
		return spinport.App{}, err
	}
	app, err := s.DB.GetApp(a.tenant.Slug, name)
	if errors.Is(err, kv.ErrNotFound) {
		return spinport.App{}, notFound("no app \"" + name + "\" in tenant " + a.tenant.Slug)
	}
	return app, err
}

func (s *Server) appJSON(app spinport.App) ([]byte, error) {
	current, err := s.currentRevision(app)
	if err != nil {
		return nil, err
	}
	return one(func(w *jsonw.W) { s.writeApp(w, app, current) }), nil
}

func (s *Server) currentRevision(app spinport.App) (int64, error) {
	rev, err := s.DB.LatestRevision(app.Tenant, app.Name)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil
	}
	return rev.Number, err
}

func createApp(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAs(p, ps, spinport.RoleOwner)
	if err != nil {
		return 0, nil, err
	}
	if p.Token != nil && p.Token.App != "" {
		return 0, nil, forbidden("this token is restricted to app " + p.Token.App + " and cannot create apps")
	}
	b, err := readBody(r, appFields...)
	if err != nil {
		return 0, nil, err
	}
	name, err := b.str("name")
	if err != nil {
		return 0, nil, err
	}
	if err := spinport.CheckAppName(name); err != nil {
		return 0, nil, err
	}
	scaling, err := readScaling(b, spinport.Scaling{Replicas: 1})
	if err != nil {
		return 0, nil, err
	}
	domains, err := s.readDomains(b)
	if err != nil {
		return 0, nil, err
	}
	useKV, err := b.bool("kv", false)
	if err != nil {
		return 0, nil, err
	}
	now := s.now()
	app := spinport.App{Tenant: a.tenant.Slug, Name: name, Scaling: scaling, Domains: domains, KV: useKV, CreatedAt: now, UpdatedAt: now, CreatedBy: p.ID}
	if err := s.claimDomains(app.Tenant, name, domains, nil); err != nil {
		return 0, nil, err
	}
	if err := s.DB.CreateApp(app, a.tenant.Quotas); err != nil {
		for _, d := range domains {
			_ = s.DB.ReleaseDomain(d, app.Tenant, name)
		}
		if errors.Is(err, kv.ErrExists) {
			return 0, nil, &Problem{Status: http.StatusConflict, Title: "Conflict", Field: "name", Detail: "app \"" + name + "\" already exists in tenant " + app.Tenant}
		}
		s.audit(app.Tenant, p, "app.create", "app/"+name, "denied", err.Error())
		return 0, nil, err
	}
	s.audit(app.Tenant, p, "app.create", "app/"+name, "ok", "")
	body, err := s.appJSON(app)
	return http.StatusCreated, body, err
}

func listApps(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAccess(p, ps.ByName("tenant"))
	if err != nil {
		return 0, nil, err
	}
	limit, cursor, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	var apps []spinport.App
	next := ""
	if p.Token != nil && p.Token.App != "" {
		app, err := s.loadApp(a, p.Token.App)
		if err == nil {
			apps = append(apps, app)
		}
	} else if apps, next, err = s.DB.ListApps(a.tenant.Slug, cursor, limit); err != nil {
		return 0, nil, err
	}
	// The list shows settings only; currentRevision is on GET of one app,
	// which keeps a page at two KV reads per app.
	return http.StatusOK, list(len(apps), func(w *jsonw.W, i int) {
		app := apps[i]
		w.Object().Str("name", app.Name)
		writeScaling(w, app.Scaling)
		w.Strings("domains", app.Domains).Str("defaultHost", s.defaultHost(app)).Str("updatedAt", rfc3339(app.UpdatedAt)).End()
	}, next), nil
}

func getApp(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	_, app, err := s.appAccess(p, ps, spinport.RoleViewer)
	if err != nil {
		return 0, nil, err
	}
	body, err := s.appJSON(app)
	return http.StatusOK, body, err
}

func updateApp(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, app, err := s.appAccess(p, ps, spinport.RoleViewer)
	if err != nil {
		return 0, nil, err
	}
	b, err := readBody(r, "replicas", "autoscaling", "domains", "kv")
	if err != nil {
		return 0, nil, err
	}
	// Scaling is a deployer's job; domains and KV binding are the owner's.
	need := spinport.RoleDeployer
	if b.has("domains") || b.has("kv") {
		need = spinport.RoleOwner
	}
	if err := a.require(need); err != nil {
		return 0, nil, err
	}
	old := app
	if app.Scaling, err = readScaling(b, app.Scaling); err != nil {
		return 0, nil, err
	}
	if b.has("domains") {
		if app.Domains, err = s.readDomains(b); err != nil {
			return 0, nil, err
		}
		if err := s.claimDomains(app.Tenant, app.Name, app.Domains, old.Domains); err != nil {
			return 0, nil, err
		}
	}
	if app.KV, err = b.bool("kv", app.KV); err != nil {
		return 0, nil, err
	}
	app.UpdatedAt = s.now()
	if err := s.DB.UpdateApp(old, app, a.tenant.Quotas); err != nil {
		s.audit(app.Tenant, p, "app.update", "app/"+app.Name, "denied", err.Error())
		return 0, nil, err
	}
	for _, d := range old.Domains {
		if !contains(app.Domains, d) {
			_ = s.DB.ReleaseDomain(d, app.Tenant, app.Name)
		}
	}
	s.audit(app.Tenant, p, "app.update", "app/"+app.Name, "ok", "")
	if err := s.redeploy(a, app, p, "settings changed"); err != nil {
		return 0, nil, err
	}
	body, err := s.appJSON(app)
	return http.StatusOK, body, err
}

func deleteApp(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	_, app, err := s.appAccess(p, ps, spinport.RoleOwner)
	if err != nil {
		return 0, nil, err
	}
	if s.Deployer != nil {
		if err := s.Deployer.DeleteApp(app); err != nil {
			return 0, nil, err
		}
	}
	if err := s.DB.DeleteApp(app); err != nil {
		return 0, nil, err
	}
	s.audit(app.Tenant, p, "app.delete", "app/"+app.Name, "ok", "")
	return http.StatusNoContent, nil, nil
}

// ---- variables

func listVariables(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	_, app, err := s.appAccess(p, ps, spinport.RoleViewer)
	if err != nil {
		return 0, nil, err
	}
	vars, err := s.DB.Variables(app.Tenant, app.Name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(vars), func(w *jsonw.W, i int) { writeVariable(w, vars[i]) }, ""), nil
}

func setVariable(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, app, err := s.appAccess(p, ps, spinport.RoleDeployer)
	if err != nil {
		return 0, nil, err
	}
	name := ps.ByName("name")
	if err := spinport.CheckVariableName(name); err != nil {
		return 0, nil, err
	}
	b, err := readBody(r, "value", "secret")
	if err != nil {
		return 0, nil, err
	}
	if !b.has("value") {
		return 0, nil, badRequest("value", "value is required (a string; use DELETE to unset)")
	}
	value, err := b.str("value")
	if err != nil {
		return 0, nil, err
	}
	if len(value) > spinport.MaxValueLen {
		return 0, nil, badRequest("value", "value is over 16 KiB")
	}
	secret, err := b.bool("secret", false)
	if err != nil {
		return 0, nil, err
	}
	existing, err := s.DB.GetVariable(app.Tenant, app.Name, name)
	isNew := errors.Is(err, kv.ErrNotFound)
	if err != nil && !isNew {
		return 0, nil, err
	}
	if isNew {
		vars, err := s.DB.Variables(app.Tenant, app.Name)
		if err != nil {
			return 0, nil, err
		}
		if len(vars) >= spinport.MaxVariables {
			return 0, nil, badRequest("name", "an app has at most "+strconv.Itoa(spinport.MaxVariables)+" variables")
		}
	}
	if secret {
		if s.Deployer == nil {
			return 0, nil, unavailable("secret variables are stored in Kubernetes and no cluster is configured (set kube_api_url and kube_token)")
		}
		if err := s.ensureTenant(&a.tenant); err != nil {
			return 0, nil, err
		}
		if err := s.Deployer.SetSecret(app.Tenant, app.Name, name, value); err != nil {
			return 0, nil, err
		}
	} else if !isNew && existing.Secret && s.Deployer != nil {
		if err := s.Deployer.DeleteSecret(app.Tenant, app.Name, name); err != nil {
			return 0, nil, err
		}
	}
	v := spinport.Variable{Name: name, Value: value, Secret: secret, UpdatedAt: s.now()}
	if err := s.DB.SetVariable(app.Tenant, app.Name, v); err != nil {
		return 0, nil, err
	}
	s.audit(app.Tenant, p, "variable.set", "app/"+app.Name+"/variable/"+name, "ok", map[bool]string{true: "secret", false: "plain"}[secret])
	if err := s.redeploy(a, app, p, "variable "+name+" set"); err != nil {
		return 0, nil, err
	}
	status := http.StatusOK
	if isNew {
		status = http.StatusCreated
	}
	return status, one(func(w *jsonw.W) { writeVariable(w, v) }), nil
}

func deleteVariable(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, app, err := s.appAccess(p, ps, spinport.RoleDeployer)
	if err != nil {
		return 0, nil, err
	}
	name := ps.ByName("name")
	v, err := s.DB.GetVariable(app.Tenant, app.Name, name)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil, notFound("app " + app.Name + " has no variable \"" + name + "\"")
	}
	if err != nil {
		return 0, nil, err
	}
	if v.Secret && s.Deployer != nil {
		if err := s.Deployer.DeleteSecret(app.Tenant, app.Name, name); err != nil {
			return 0, nil, err
		}
	}
	if err := s.DB.DeleteVariable(app.Tenant, app.Name, name); err != nil {
		return 0, nil, err
	}
	s.audit(app.Tenant, p, "variable.unset", "app/"+app.Name+"/variable/"+name, "ok", "")
	if err := s.redeploy(a, app, p, "variable "+name+" unset"); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
