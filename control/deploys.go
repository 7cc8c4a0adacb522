package control

import (
	"errors"
	"strconv"
	"strings"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// DeployInput deploys an image.
type DeployInput struct {
	Image, Source, GitRef, GitSHA string
	// DryRun runs every check (and the artifact inspection) and returns
	// the revision that would be made, unnumbered, recording nothing.
	DryRun bool
}

// AppStatus is the cluster's view of an app with the revision it runs.
type AppStatus struct {
	App      string
	Cluster  spinport.Status
	Revision *spinport.Revision // nil: never deployed
}

// snapshot is a revision carrying the app's current settings, so a
// rollback restores configuration together with the image.
func (s *Service) snapshot(app spinport.App) (spinport.Revision, error) {
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
	return "", invalid("source", "source must be portal, api or ci")
}

// Deploy records a revision of the image and applies it. created is false
// when the digest already had a revision (that one is returned, re-applied
// if its apply never finished).
func (s *Service) Deploy(p *Principal, slug, appName string, bind func() (DeployInput, error)) (rev spinport.Revision, created bool, err error) {
	a, app, err := s.appAccess(p, slug, appName, spinport.RoleDeployer)
	if err != nil {
		return rev, false, err
	}
	in, err := bind()
	if err != nil {
		return rev, false, err
	}
	im, err := spinport.ParseImage(in.Image)
	if err != nil {
		return rev, false, err
	}
	if s.Config.RestrictRegistryRepos && s.Registry != nil && im.Registry == s.Registry.LoginServer() &&
		!strings.HasPrefix(im.Repository, app.Tenant+"/") {
		s.audit(app.Tenant, p, "deploy", "app/"+app.Name, "denied", "another tenant's repository: "+im.Repository)
		return rev, false, &spinport.Error{Kind: spinport.Forbidden, Title: "Repository not the tenant's", Field: "image",
			Detail: "images from " + im.Registry + " must be in this tenant's repositories (" + im.Registry + "/" + s.Registry.Repository(app.Tenant, "<app>") + "), where its push credentials push"}
	}
	if !spinport.RegistryAllowed(im, s.Config.RegistryAllowlist) {
		s.audit(app.Tenant, p, "deploy", "app/"+app.Name, "denied", "registry not allowed: "+im.Registry)
		return rev, false, &spinport.Error{Kind: spinport.Forbidden, Title: "Registry not allowed", Field: "image",
			Detail: "images from " + im.Registry + "/" + im.Repository + " are not allowed on this installation; allowed: " + strings.Join(s.Config.RegistryAllowlist, ", ")}
	}
	image := im.String()
	var art *spinport.Artifact
	if s.Artifacts != nil {
		pinned, a, err := s.inspect(im)
		if err != nil {
			s.audit(app.Tenant, p, "deploy", "app/"+app.Name, "denied", err.Error())
			return rev, false, err
		}
		im, art = pinned, &a
	}
	if rev, err = s.snapshot(app); err != nil {
		return rev, false, err
	}
	if art != nil {
		if err := s.checkArtifact(app, rev, *art); err != nil {
			s.audit(app.Tenant, p, "deploy", "app/"+app.Name, "denied", err.Error())
			return rev, false, err
		}
	}
	// The revision records the image as given and the digest it ran.
	rev.Image, rev.Digest, rev.Artifact, rev.Cause, rev.Actor = image, im.Digest, art, spinport.CauseDeploy, p.ID
	if rev.Source, err = sourceOf(p, in.Source); err != nil {
		return rev, false, err
	}
	rev.GitRef, rev.GitSHA = in.GitRef, in.GitSHA
	if p.Token != nil && p.Token.CI != nil { // an exchanged CI token: the run, as its platform signed it
		ci := *p.Token.CI
		rev.Source, rev.GitRef, rev.CI = "ci", ci.Ref, &ci
		if spinport.IsHex(ci.SHA) && len(ci.SHA) >= 7 && len(ci.SHA) <= 64 {
			rev.GitSHA = ci.SHA
		}
	}
	if len(rev.GitRef) > 256 {
		return rev, false, invalid("gitRef", "gitRef is at most 256 characters")
	}
	if rev.GitSHA != "" && (len(rev.GitSHA) < 7 || len(rev.GitSHA) > 64 || !spinport.IsHex(rev.GitSHA)) {
		return rev, false, invalid("gitSha", "gitSha must be 7-64 lowercase hex characters")
	}
	if in.DryRun {
		rev.Number, rev.State = 0, ""
		return rev, false, nil
	}
	rev, existed, err := s.DB.AddRevision(app.Tenant, app.Name, rev)
	if err != nil {
		return rev, false, err
	}
	// A new revision, or a retry of one that failed or never finished (its
	// request died mid-apply: the client gave up on a hung API server):
	// apply it. Every step is a server-side apply, so this converges.
	// Without a cluster, pending is where a revision stays.
	unfinished := rev.State == spinport.StateFailed || (rev.State == spinport.StatePending && s.hasCluster())
	if existed && !unfinished {
		return rev, false, nil
	}
	rev, err = s.apply(p, a.Tenant, app, rev)
	s.audit(app.Tenant, p, "deploy", "app/"+app.Name+"/revision/"+strconv.FormatInt(rev.Number, 10), outcome(err), rev.Image)
	return rev, !existed, err
}

// apply hands the revision to the deployer and records the state reached.
// A failure marks the revision failed with the reason and is returned, so
// the client learns the deploy did not happen; retrying repairs it.
func (s *Service) apply(p *Principal, t spinport.Tenant, app spinport.App, rev spinport.Revision) (spinport.Revision, error) {
	with, err := s.applyWith(t, app, rev)
	// The cluster gets only the domains whose owner proved control; the
	// revision keeps them all (a domain verified later is routed then).
	routedRev := rev
	if err == nil && len(rev.Domains) > 0 {
		routedRev.Domains, err = s.routed(rev.Domains)
	}
	if err == nil {
		var applied spinport.Applied
		applied, err = s.Deployer.Apply(t, app, routedRev, with)
		// Record what is in the cluster now; after a failure nothing is
		// known, and the next apply sends everything.
		switch {
		case err == nil:
			if d := applied["tenant"]; d != with.TenantApplied {
				err = s.DB.PutTenantApplied(app.Tenant, d)
			}
			if err == nil {
				delete(applied, "tenant")
				err = s.DB.PutAppApplied(app.Tenant, app.Name, applied)
			}
		case !errors.Is(err, spinport.ErrNoCluster):
			if ferr := s.DB.ForgetAppApplied(app.Tenant, app.Name); ferr != nil {
				s.logf("forgetting what was applied: " + ferr.Error())
			}
		}
	}
	if err == nil {
		// The Ingress serves the hosts now; records in managed zones point
		// at it. A failure fails the revision, and a retry converges.
		err = s.pointHosts(p, app, routedRev.Domains)
	}
	switch {
	case errors.Is(err, spinport.ErrNoCluster):
		rev.State, rev.Reason, err = spinport.StatePending, "no Kubernetes cluster is configured; the revision is recorded only", nil
	case err != nil:
		rev.State, rev.Reason = spinport.StateFailed, err.Error()
	default:
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

// applyWith decides what an apply needs besides the records: the KV
// binding and the pull credentials for the image's registry, if any.
func (s *Service) applyWith(t spinport.Tenant, app spinport.App, rev spinport.Revision) (spinport.ApplyWith, error) {
	var with spinport.ApplyWith
	var err error
	if with.KV, err = s.appKV(t, app, rev); err != nil {
		return with, err
	}
	if s.hasCluster() && !t.ClusterPending {
		if with.TenantApplied, err = s.DB.TenantApplied(t.Slug); err != nil {
			return with, err
		}
		if with.Previous, err = s.DB.AppApplied(t.Slug, app.Name); err != nil {
			return with, err
		}
		if with.Previous == nil && rev.Number == 1 {
			with.Previous = spinport.Applied{} // a new app: nothing of it exists yet
		}
	}
	if im, perr := spinport.ParseImage(rev.Image); perr == nil && s.hasCluster() {
		if _, err := s.DB.GetRegistryCredential(t.Slug, im.Registry); err == nil {
			with.PullRegistry = im.Registry
		} else if !errors.Is(err, kv.ErrNotFound) {
			return with, err
		}
	}
	return with, nil
}

// appKV decides where the app's KV store lives when the revision binds
// one: a database of its own on the tenant's own Redis, or the tenant's
// database on the installation's app Redis (docs/tenancy.md). Databases are
// allocated on first use.
func (s *Service) appKV(t spinport.Tenant, app spinport.App, rev spinport.Revision) (*spinport.KVStore, error) {
	if !rev.KV || !s.hasCluster() {
		return nil, nil
	}
	own, err := s.DB.GetTenantRedis(t.Slug)
	if err == nil {
		n, err := s.DB.AppRedisDB(t.Slug, app.Name, own.Databases)
		if errors.Is(err, kv.ErrNoDatabase) {
			return nil, &spinport.Error{Kind: spinport.Refused, Title: "KV store not available",
				Detail: "the tenant's Redis has " + strconv.FormatInt(own.Databases, 10) + " databases, one per KV-bound app, and other apps hold them all; unset kv on the app, or ask an admin to set a Redis with more databases (PUT /api/v1/tenants/" + t.Slug + "/redis)"}
		}
		if err != nil {
			return nil, err
		}
		return &spinport.KVStore{Own: true, DB: n}, nil
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return nil, err
	}
	if !s.Config.AppKV {
		return nil, &spinport.Error{Kind: spinport.Refused, Title: "KV store not available",
			Detail: "this app binds a KV store but the installation has no app_redis_url and the tenant no Redis of its own; unset kv on the app or ask an admin to give the tenant a Redis (PUT /api/v1/tenants/" + t.Slug + "/redis)"}
	}
	n, err := s.DB.TenantRedisDB(t.Slug)
	if err != nil {
		return nil, err
	}
	if max := s.Config.AppRedisDBs; max > 0 && n >= max {
		return nil, &spinport.Error{Kind: spinport.Refused, Title: "KV store not available",
			Detail: "the installation's app Redis has no free database for this tenant (" + strconv.FormatInt(max, 10) +
				" databases, one per tenant, index 0 unused); unset kv on the app, or ask an admin to give the tenant a Redis of its own (PUT /api/v1/tenants/" + t.Slug + "/redis)"}
	}
	return &spinport.KVStore{DB: n}, nil
}

// redeploy makes a config revision when a deployed app's settings change,
// so the change reaches the cluster and can be rolled back.
func (s *Service) redeploy(a Access, app spinport.App, p *Principal, why string) error {
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
	rev.Image, rev.Digest, rev.Artifact, rev.Cause, rev.Source, rev.Actor = cur.Image, cur.Digest, cur.Artifact, spinport.CauseConfig, "api", p.ID
	if p.Session != nil {
		rev.Source = "portal"
	}
	rev, _, err = s.DB.AddRevision(app.Tenant, app.Name, rev)
	if err != nil {
		return err
	}
	rev, err = s.apply(p, a.Tenant, app, rev)
	s.audit(app.Tenant, p, "deploy.config", "app/"+app.Name+"/revision/"+strconv.FormatInt(rev.Number, 10), outcome(err), why)
	return err
}

// Rollback makes a new revision with an earlier revision's image and
// settings and applies it.
func (s *Service) Rollback(p *Principal, slug, appName string, bindRevision func() (int64, error)) (spinport.Revision, error) {
	a, app, err := s.appAccess(p, slug, appName, spinport.RoleDeployer)
	if err != nil {
		return spinport.Revision{}, err
	}
	n, err := bindRevision()
	if err != nil {
		return spinport.Revision{}, err
	}
	if n < 1 {
		return spinport.Revision{}, invalid("revision", "revision is required: the number of the revision to return to (see GET .../revisions)")
	}
	target, err := s.DB.GetRevision(app.Tenant, app.Name, n)
	if errors.Is(err, kv.ErrNotFound) {
		return spinport.Revision{}, &spinport.Error{Kind: spinport.NotFound, Field: "revision", Detail: "app " + app.Name + " has no revision " + strconv.FormatInt(n, 10)}
	}
	if err != nil {
		return spinport.Revision{}, err
	}
	if err := s.secretsStillSet(app, target); err != nil {
		return spinport.Revision{}, err
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
	if err := s.DB.UpdateApp(app, restored, a.Tenant.Quotas); err != nil {
		return spinport.Revision{}, err
	}
	rev, _, err = s.DB.AddRevision(app.Tenant, app.Name, rev)
	if err != nil {
		return spinport.Revision{}, err
	}
	rev, err = s.apply(p, a.Tenant, restored, rev)
	s.audit(app.Tenant, p, "rollback", "app/"+app.Name+"/revision/"+strconv.FormatInt(rev.Number, 10), outcome(err), "to revision "+strconv.FormatInt(n, 10))
	return rev, err
}

// secretsStillSet refuses a rollback to a revision that reads a secret
// variable deleted since: spinport never keeps secret values, the key is
// gone from the app's Secret, and pods of that revision would never start
// (CreateContainerConfigError on a secretKeyRef to a missing key).
func (s *Service) secretsStillSet(app spinport.App, target spinport.Revision) error {
	for _, v := range target.Variables {
		if !v.Secret {
			continue
		}
		cur, err := s.DB.GetVariable(app.Tenant, app.Name, v.Name)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		if err != nil || !cur.Secret {
			return &spinport.Error{Kind: spinport.Conflict, Field: "revision",
				Detail: "revision " + strconv.FormatInt(target.Number, 10) + " reads the secret variable " + v.Name + ", which has been deleted or made plain since; " +
					"spinport never keeps secret values, so its pods could not start. Set it again (PUT .../variables/" + v.Name + " with \"secret\": true) and roll back, or roll back to another revision"}
		}
	}
	return nil
}

func (s *Service) Revisions(p *Principal, slug, appName string, before int64, limit int) ([]spinport.Revision, int64, error) {
	_, app, err := s.appAccess(p, slug, appName, spinport.RoleViewer)
	if err != nil {
		return nil, 0, err
	}
	return s.DB.ListRevisions(app.Tenant, app.Name, before, limit)
}

// Revision returns revision n; bad is what to answer for a number that is
// not one (the caller's own words for it).
func (s *Service) Revision(p *Principal, slug, appName string, n int64, asked string) (spinport.Revision, error) {
	_, app, err := s.appAccess(p, slug, appName, spinport.RoleViewer)
	if err != nil {
		return spinport.Revision{}, err
	}
	if n < 1 {
		return spinport.Revision{}, invalid("revision", "revision must be a positive whole number")
	}
	rev, err := s.DB.GetRevision(app.Tenant, app.Name, n)
	if errors.Is(err, kv.ErrNotFound) {
		return rev, notFound("app " + app.Name + " has no revision " + asked)
	}
	return rev, err
}

// Status reports the cluster's view of the app and moves the newest
// revision from applied to ready (or failed, with the reason) as seen.
func (s *Service) Status(p *Principal, slug, appName string) (AppStatus, error) {
	_, app, err := s.appAccess(p, slug, appName, spinport.RoleViewer)
	if err != nil {
		return AppStatus{}, err
	}
	st, err := s.Deployer.Status(app)
	if err != nil {
		return AppStatus{}, err
	}
	out := AppStatus{App: app.Name, Cluster: st}
	rev, err := s.DB.LatestRevision(app.Tenant, app.Name)
	if errors.Is(err, kv.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return AppStatus{}, err
	}
	if st.Revision == rev.Number {
		next := rev
		switch {
		case st.Failure != "" && rev.State != spinport.StateFailed:
			next.State, next.Reason = spinport.StateFailed, st.Failure
		case st.Ready && rev.State == spinport.StateApplied:
			next.State = spinport.StateReady
		}
		if next.State != rev.State {
			if err := s.DB.UpdateRevision(app.Tenant, app.Name, next); err != nil {
				return AppStatus{}, err
			}
			rev = next
		}
	}
	out.Revision = &rev
	return out, nil
}

// Logs returns the app's pods' last tail lines.
func (s *Service) Logs(p *Principal, slug, appName string, bindTail func() (int, error)) ([]spinport.PodLog, error) {
	_, app, err := s.appAccess(p, slug, appName, spinport.RoleViewer)
	if err != nil {
		return nil, err
	}
	tail, err := bindTail()
	if err != nil {
		return nil, err
	}
	return s.Deployer.Logs(app, tail)
}
