package control

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/jsonw"
	"github.com/spinport/spinport/kv"
	"github.com/spinport/spinport/oidc"
	"github.com/valyala/fastjson"
)

// CI without stored secrets (docs/ci.md): a tenant owner registers trust
// policies on an app; a CI job exchanges its platform's OIDC token once
// for a short-lived token restricted to that app (deploy, and read its
// status while waiting).

// TrustPolicyInput registers a trust policy.
type TrustPolicyInput struct {
	Provider, Issuer                string
	RepositoryID, RepositoryOwnerID string
	Repository, Workflow, Env       string
	ProjectID                       string
	ProtectedOnly                   bool
	Refs                            []string
}

func (s *Service) CreateTrustPolicy(p *Principal, slug, appName string, bind func() (TrustPolicyInput, error)) (spinport.TrustPolicy, error) {
	a, app, err := s.appAccess(p, slug, appName, spinport.RoleOwner)
	if err != nil {
		return spinport.TrustPolicy{}, err
	}
	if p.Token != nil {
		return spinport.TrustPolicy{}, forbidden("trust policies are registered by people, not API tokens")
	}
	in, err := bind()
	if err != nil {
		return spinport.TrustPolicy{}, err
	}
	tp := spinport.TrustPolicy{Tenant: a.Tenant.Slug, App: app.Name, Provider: in.Provider, Issuer: in.Issuer,
		RepositoryID: in.RepositoryID, RepositoryOwnerID: in.RepositoryOwnerID, Repository: in.Repository, Workflow: in.Workflow,
		Environment: in.Env, ProjectID: in.ProjectID, ProtectedOnly: in.ProtectedOnly, Refs: in.Refs, CreatedAt: s.now(), CreatedBy: p.ID}
	switch tp.Provider {
	case "github":
		if tp.Issuer == "" {
			tp.Issuer = "https://token.actions.githubusercontent.com"
		}
		if !isDigits(tp.RepositoryID) || !isDigits(tp.RepositoryOwnerID) {
			return tp, invalid("repositoryId", "repositoryId and repositoryOwnerId are the repository's numeric ids (GitHub's API: GET /repos/{owner}/{repo} → id, owner.id); they survive renames, names do not")
		}
	case "gitlab":
		if tp.Issuer == "" || !isDigits(tp.ProjectID) {
			return tp, invalid("projectId", "a GitLab policy needs issuer (the instance URL, e.g. https://gitlab.com) and the numeric projectId")
		}
	default:
		return tp, invalid("provider", "provider is github or gitlab")
	}
	if !contains(s.Config.CIIssuers, tp.Issuer) {
		return tp, invalid("issuer", "issuer "+tp.Issuer+" is not one this installation trusts (ci_issuers: "+strings.Join(s.Config.CIIssuers, ", ")+")")
	}
	if len(tp.Refs) == 0 || len(tp.Refs) > 20 {
		return tp, invalid("refs", "refs lists 1-20 refs the job may run on: exact (refs/heads/main) or a prefix ending in * (refs/tags/v*)")
	}
	for _, r := range tp.Refs {
		if !strings.HasPrefix(r, "refs/") || len(r) > 256 || strings.Contains(strings.TrimSuffix(r, "*"), "*") {
			return tp, invalid("refs", "ref \""+r+"\" must start with refs/ and may end in one *")
		}
	}
	if tp.ID, err = s.RandomHex(8); err != nil {
		return tp, err
	}
	if err := s.DB.CreateTrustPolicy(tp); err != nil {
		return tp, err
	}
	s.audit(tp.Tenant, p, "trust.create", "app/"+app.Name+"/trust/"+tp.ID, "ok", tp.Provider+" "+tp.Repository+tp.ProjectID+" "+strings.Join(tp.Refs, ","))
	return tp, nil
}

func (s *Service) TrustPolicies(p *Principal, slug, appName string) ([]spinport.TrustPolicy, error) {
	_, app, err := s.appAccess(p, slug, appName, spinport.RoleViewer)
	if err != nil {
		return nil, err
	}
	ps, _, err := s.DB.ListTrustPolicies(app.Tenant, app.Name, "", 200)
	return ps, err
}

func (s *Service) DeleteTrustPolicy(p *Principal, slug, appName, id string) error {
	_, app, err := s.appAccess(p, slug, appName, spinport.RoleOwner)
	if err != nil {
		return err
	}
	if err := s.DB.DeleteTrustPolicy(app.Tenant, app.Name, id); errors.Is(err, kv.ErrNotFound) {
		return notFound("app " + app.Name + " has no trust policy " + id)
	} else if err != nil {
		return err
	}
	s.audit(app.Tenant, p, "trust.delete", "app/"+app.Name+"/trust/"+id, "ok", "")
	return nil
}

// ExchangeCIToken verifies a CI job's OIDC token and, when one of the
// app's trust policies matches it, returns a token restricted to the app
// with its secret (shown once). Every refusal names the claim that did not
// match, never another policy's values.
func (s *Service) ExchangeCIToken(raw, slug, appName string) (spinport.Token, string, error) {
	refused := func(detail string) error {
		return &spinport.Error{Kind: spinport.Forbidden, Title: "CI token refused", Detail: detail}
	}
	iss := unverifiedIssuer(raw)
	if !contains(s.Config.CIIssuers, iss) || s.CIVerifier == nil {
		return spinport.Token{}, "", refused("iss: the token's issuer is not one this installation trusts (ci_issuers)")
	}
	claims, err := s.CIVerifier(iss).Verify(raw)
	if err != nil {
		if oidc.Refused(err) {
			return spinport.Token{}, "", refused(err.Error())
		}
		return spinport.Token{}, "", err
	}
	t, err := s.DB.GetTenant(slug)
	var app spinport.App
	if err == nil {
		app, err = s.DB.GetApp(slug, appName)
	}
	if errors.Is(err, kv.ErrNotFound) {
		return spinport.Token{}, "", refused("no trust policy of app " + slug + "/" + appName + " matches the token")
	} else if err != nil {
		return spinport.Token{}, "", err
	}
	policies, _, err := s.DB.ListTrustPolicies(t.Slug, app.Name, "", 200)
	if err != nil {
		return spinport.Token{}, "", err
	}
	why := "no trust policy of app " + slug + "/" + appName + " matches the token"
	matched := false
	for _, tp := range policies {
		if tp.Issuer != iss {
			continue
		}
		if miss := mismatch(tp, claims); miss != "" {
			why = miss
			continue
		}
		matched = true
		break
	}
	if !matched {
		s.audit(t.Slug, &Principal{ID: "ci:" + claims.String("repository") + claims.String("project_path")}, "ci.exchange", "app/"+app.Name, "denied", why)
		return spinport.Token{}, "", refused(why)
	}
	jti := claims.String("jti")
	if jti == "" {
		return spinport.Token{}, "", refused("jti: the token has no id, so a replay could not be told apart")
	}
	if fresh, err := s.DB.ClaimTokenID(iss, jti); err != nil {
		return spinport.Token{}, "", err
	} else if !fresh {
		return spinport.Token{}, "", refused("jti: this token was already exchanged; request a new one")
	}
	run := &spinport.CIRun{Issuer: iss, Repository: first(claims.String("repository"), claims.String("project_path")),
		Ref: claims.String("ref"), SHA: first(claims.String("sha"), claims.String("ci_commit_sha")),
		Workflow: first(claims.String("job_workflow_ref"), claims.String("ci_config_ref_uri")),
		Run:      first(claims.String("run_id"), claims.String("pipeline_id"))}
	id, err := s.RandomHex(8)
	if err != nil {
		return spinport.Token{}, "", err
	}
	secret, err := s.RandomHex(32)
	if err != nil {
		return spinport.Token{}, "", err
	}
	ttl := s.Config.CITokenTTL
	if ttl <= 0 {
		ttl = 15 * time.Minute
	}
	now := s.now()
	tok := spinport.Token{ID: id, Tenant: t.Slug, Name: "ci " + run.Repository + " " + run.Ref, Scopes: []string{"deploy"}, App: app.Name,
		Hash: kv.SecretHash(secret), CreatedAt: now, CreatedBy: "ci:" + run.Repository, ExpiresAt: now + int64(ttl/time.Second), CI: run}
	if err := s.DB.CreateToken(tok); err != nil {
		return spinport.Token{}, "", err
	}
	s.audit(t.Slug, &Principal{ID: "ci:" + run.Repository}, "ci.exchange", "app/"+app.Name, "ok", run.Ref+" "+run.SHA+" run "+run.Run)
	return tok, TokenPrefix + id + "_" + secret, nil
}

// mismatch names the first claim of the token that the policy does not
// accept ("" when it matches).
func mismatch(tp spinport.TrustPolicy, c oidc.Claims) string {
	switch tp.Provider {
	case "github":
		if c.String("repository_id") != tp.RepositoryID {
			return "repository_id: the token's repository is not one a trust policy of this app allows"
		}
		if c.String("repository_owner_id") != tp.RepositoryOwnerID {
			return "repository_owner_id: the repository's owner is not the one the trust policy names"
		}
		if tp.Workflow != "" && !strings.HasPrefix(c.String("job_workflow_ref"), tp.Workflow) {
			return "job_workflow_ref: the job's workflow " + c.String("job_workflow_ref") + " is not the one the trust policy allows"
		}
		if tp.Environment != "" && c.String("environment") != tp.Environment {
			return "environment: the job does not run in the environment the trust policy requires"
		}
	case "gitlab":
		if c.String("project_id") != tp.ProjectID {
			return "project_id: the token's project is not one a trust policy of this app allows"
		}
		if tp.ProtectedOnly && c.String("ref_protected") != "true" {
			return "ref_protected: the job's ref is not protected"
		}
	}
	ref := c.String("ref")
	if ref != "" && !strings.HasPrefix(ref, "refs/") { // GitLab's ref is a bare branch or tag name
		if c.String("ref_type") == "tag" {
			ref = "refs/tags/" + ref
		} else {
			ref = "refs/heads/" + ref
		}
	}
	for _, want := range tp.Refs {
		if ref == want || (strings.HasSuffix(want, "*") && strings.HasPrefix(ref, strings.TrimSuffix(want, "*"))) {
			return ""
		}
	}
	return "ref: the job runs on " + ref + ", which the trust policy does not allow"
}

// unverifiedIssuer reads iss from the token's payload to pick the
// verifier; nothing else of it is trusted before the signature checks.
func unverifiedIssuer(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || len(raw) > 16<<10 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	// Shallow first: the validator and the parser recurse, and this payload
	// is anyone's. Validate checks what Parse leaves lazy (string escapes).
	if err != nil || !jsonw.Shallow(b, jsonw.MaxDepth) || fastjson.ValidateBytes(b) != nil {
		return ""
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(b)
	if err != nil {
		return ""
	}
	return string(v.GetStringBytes("iss"))
}

func isDigits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
