package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/spinport/spinport"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport/jsonw"
	"github.com/spinport/spinport/kv"
)

// snapshot is a revision carrying the app's current settings, so a
// rollback restores configuration together with the image.
func (s *Server) snapshot(app spinport.App) (spinport.Revision, error) {
	vars, err := s.DB.Variables(app.Tenant, app.Name)
	if err != nil {
		return spinport.Revision{}, err
	}
	for i := range vars {
		if vars[i].Secret {
			vars[i].Value = ""
		}
	}
	return spinport.Revision{Scaling: app.Scaling, Variables: vars, Domains: app.Domains, KV: app.KV,
		CreatedAt: s.now(), State: spinport.StatePending}, nil
}

func sourceOf(p *Principal, asked string) (string, error) {
	switch asked {
	case "":
		if p.Session != nil {
			return "portal", nil
		}
		return "api", nil
	case "portal", "api", "ci":
		return asked, nil
	}
	return "", badRequest("source", "source must be portal, api or ci")
}

func createDeployment(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, app, err := s.appAccess(p, ps, spinport.RoleDeployer)
	if err != nil {
		return 0, nil, err
	}
	b, err := readBody(r, "image", "source", "gitRef", "gitSha")
	if err != nil {
		return 0, nil, err
	}
	ref, err := b.str("image")
	if err != nil {
		return 0, nil, err
	}
	im, err := spinport.ParseImage(ref)
	if err != nil {
		return 0, nil, err
	}
	if !spinport.RegistryAllowed(im, s.Config.RegistryAllowlist) {
		s.audit(app.Tenant, p, "deploy", "app/"+app.Name, "denied", "registry not allowed: "+im.Registry)
		return 0, nil, &Problem{Status: http.StatusForbidden, Title: "Registry not allowed", Field: "image",
			Detail: "images from " + im.Registry + "/" + im.Repository + " are not allowed on this installation; allowed: " + strings.Join(s.Config.RegistryAllowlist, ", ")}
	}
	rev, err := s.snapshot(app)
	if err != nil {
		return 0, nil, err
	}
	rev.Image, rev.Digest, rev.Cause, rev.Actor = im.String(), im.Digest, spinport.CauseDeploy, p.ID
	if rev.Source, err = b.str("source"); err != nil {
		return 0, nil, err
	}
	if rev.Source, err = sourceOf(p, rev.Source); err != nil {
		return 0, nil, err
	}
	if rev.GitRef, err = b.str("gitRef"); err != nil {
		return 0, nil, err
	}
	if rev.GitSHA, err = b.str("gitSha"); err != nil {
		return 0, nil, err
	}
	if len(rev.GitRef) > 256 {
		return 0, nil, badRequest("gitRef", "gitRef is at most 256 characters")
	}
	if rev.GitSHA != "" && (len(rev.GitSHA) < 7 || len(rev.GitSHA) > 64 || !spinport.IsHex(rev.GitSHA)) {
		return 0, nil, badRequest("gitSha", "gitSha must be 7-64 lowercase hex characters")
	}
	rev, existed, err := s.DB.AddRevision(app.Tenant, app.Name, rev)
	if err != nil {
		return 0, nil, err
	}
	// A new revision, or a retry of one that failed or never finished (its
	// request died mid-apply: the client gave up on a hung API server):
	// apply it. Every step is a server-side apply, so this converges.
	// Without a cluster, pending is where a revision stays.
	unfinished := rev.State == spinport.StateFailed || (rev.State == spinport.StatePending && s.Deployer != nil)
	if existed && !unfinished {
		return http.StatusOK, one(func(w *jsonw.W) { writeRevision(w, rev) }), nil
	}
	rev, err = s.apply(a.tenant, app, rev)
	s.audit(app.Tenant, p, "deploy", "app/"+app.Name+"/revision/"+strconv.FormatInt(rev.Number, 10), outcome(err), rev.Image)
	if err != nil {
		return 0, nil, err
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	return status, one(func(w *jsonw.W) { writeRevision(w, rev) }), nil
}

func outcome(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

// apply hands the revision to the deployer and records the state reached.
// A failure marks the revision failed with the reason and is returned, so
// the client learns the deploy did not happen; retrying repairs it.
func (s *Server) apply(t spinport.Tenant, app spinport.App, rev spinport.Revision) (spinport.Revision, error) {
	if s.Deployer == nil {
		rev.State, rev.Reason = spinport.StatePending, "no Kubernetes cluster is configured; the revision is recorded only"
		return rev, s.DB.UpdateRevision(app.Tenant, app.Name, rev)
	}
	err := s.Deployer.Apply(t, app, rev)
	if err != nil {
		rev.State, rev.Reason = spinport.StateFailed, err.Error()
	} else {
		rev.State, rev.Reason = spinport.StateApplied, ""
		if terr := s.tenantApplied(&t); terr != nil { // Apply applied the tenant's objects too
			s.logf("recording the tenant's cluster objects as applied: " + terr.Error())
		}
	}
	if uerr := s.DB.UpdateRevision(app.Tenant, app.Name, rev); uerr != nil && err == nil {
		err = uerr
	}
	return rev, err
}

// redeploy makes a config revision when a deployed app's settings change,
// so the change reaches the cluster and can be rolled back.
func (s *Server) redeploy(a access, app spinport.App, p *Principal, why string) error {
	cur, err := s.DB.LatestRevision(app.Tenant, app.Name)
	if errors.Is(err, kv.ErrNotFound) {
		return nil // never deployed: nothing runs yet
	}
	if err != nil {
		return err
	}
	rev, err := s.snapshot(app)
	if err != nil {
		return err
	}
	rev.Image, rev.Digest, rev.Cause, rev.Source, rev.Actor = cur.Image, cur.Digest, spinport.CauseConfig, "api", p.ID
	if p.Session != nil {
		rev.Source = "portal"
	}
	rev, _, err = s.DB.AddRevision(app.Tenant, app.Name, rev)
	if err != nil {
		return err
	}
	rev, err = s.apply(a.tenant, app, rev)
	s.audit(app.Tenant, p, "deploy.config", "app/"+app.Name+"/revision/"+strconv.FormatInt(rev.Number, 10), outcome(err), why)
	return err
}

func rollback(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, app, err := s.appAccess(p, ps, spinport.RoleDeployer)
	if err != nil {
		return 0, nil, err
	}
	b, err := readBody(r, "revision")
	if err != nil {
		return 0, nil, err
	}
	n, err := b.int("revision", 0)
	if err != nil {
		return 0, nil, err
	}
	if n < 1 {
		return 0, nil, badRequest("revision", "revision is required: the number of the revision to return to (see GET .../revisions)")
	}
	target, err := s.DB.GetRevision(app.Tenant, app.Name, n)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil, &Problem{Status: http.StatusNotFound, Title: "Not found", Field: "revision", Detail: "app " + app.Name + " has no revision " + strconv.FormatInt(n, 10)}
	}
	if err != nil {
		return 0, nil, err
	}
	// The earlier revision's settings come back with its image; secret
	// values are whatever the Secret holds now (they are never stored here).
	rev := target
	rev.Number, rev.Cause, rev.RollbackOf, rev.Actor, rev.CreatedAt = 0, spinport.CauseRollback, target.Number, p.ID, s.now()
	rev.State, rev.Reason, rev.Source, rev.GitRef, rev.GitSHA = spinport.StatePending, "", "api", target.GitRef, target.GitSHA
	if p.Session != nil {
		rev.Source = "portal"
	}
	restored := app
	restored.Scaling, restored.KV = target.Scaling, target.KV
	if err := s.DB.UpdateApp(app, restored, a.tenant.Quotas); err != nil {
		return 0, nil, err
	}
	rev, _, err = s.DB.AddRevision(app.Tenant, app.Name, rev)
	if err != nil {
		return 0, nil, err
	}
	rev, err = s.apply(a.tenant, restored, rev)
	s.audit(app.Tenant, p, "rollback", "app/"+app.Name+"/revision/"+strconv.FormatInt(rev.Number, 10), outcome(err), "to revision "+strconv.FormatInt(n, 10))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, one(func(w *jsonw.W) { writeRevision(w, rev) }), nil
}

func listRevisions(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	_, app, err := s.appAccess(p, ps, spinport.RoleViewer)
	if err != nil {
		return 0, nil, err
	}
	limit, cursor, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	before, err := numCursor(cursor)
	if err != nil {
		return 0, nil, err
	}
	revs, next, err := s.DB.ListRevisions(app.Tenant, app.Name, before, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(revs), func(w *jsonw.W, i int) { writeRevision(w, revs[i]) }, cursorNum(next)), nil
}

func numCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 1 {
		return 0, kv.ErrBadCursor
	}
	return n, nil
}

func getRevision(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	_, app, err := s.appAccess(p, ps, spinport.RoleViewer)
	if err != nil {
		return 0, nil, err
	}
	n, err := strconv.ParseInt(ps.ByName("revision"), 10, 64)
	if err != nil || n < 1 {
		return 0, nil, badRequest("revision", "revision must be a positive whole number")
	}
	rev, err := s.DB.GetRevision(app.Tenant, app.Name, n)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil, notFound("app " + app.Name + " has no revision " + ps.ByName("revision"))
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, one(func(w *jsonw.W) { writeRevision(w, rev) }), nil
}
