package api

import (
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/spinport/spinport"
	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
	"github.com/spinport/spinport/oidc"
)

func listTrustPolicies(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	tps, err := s.svc().TrustPolicies(p, ps.ByName("tenant"), ps.ByName("app"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(tps), func(w *jsonw.W, i int) { writeTrustPolicy(w, tps[i]) }, ""), nil
}

func createTrustPolicy(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	tp, err := s.svc().CreateTrustPolicy(p, ps.ByName("tenant"), ps.ByName("app"), func() (control.TrustPolicyInput, error) {
		b := bind(r, "provider", "issuer", "repositoryId", "repositoryOwnerId", "repository", "workflow", "environment", "projectId", "protectedOnly", "refs")
		in := control.TrustPolicyInput{Provider: b.str("provider"), Issuer: b.str("issuer"), RepositoryID: b.str("repositoryId"),
			RepositoryOwnerID: b.str("repositoryOwnerId"), Repository: b.str("repository"), Workflow: b.str("workflow"),
			Env: b.str("environment"), ProjectID: b.str("projectId"), ProtectedOnly: b.bool("protectedOnly", false), Refs: b.strs("refs")}
		return in, b.err
	})
	return http.StatusCreated, one(func(w *jsonw.W) { writeTrustPolicy(w, tp) }), err
}

func deleteTrustPolicy(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	return http.StatusNoContent, nil, s.svc().DeleteTrustPolicy(p, ps.ByName("tenant"), ps.ByName("app"), ps.ByName("policy"))
}

// exchangeCIToken: POST /api/v1/ci/token {"token", "tenant", "app"}, no
// spinport credential: the CI platform's signed token is the credential.
func (s *Server) exchangeCIToken(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	b := bind(r, "token", "tenant", "app")
	raw, tenant, app := b.str("token"), b.str("tenant"), b.str("app")
	if b.err == nil && (raw == "" || tenant == "" || app == "") {
		b.err = &spinport.Error{Kind: spinport.Invalid, Field: "token", Detail: "send {\"token\": <the CI job's OIDC ID token>, \"tenant\", \"app\"}"}
	}
	var tok spinport.Token
	var secret string
	err := b.err
	if err == nil {
		svc := s.svc()
		svc.CIVerifier = s.ciVerifier
		tok, secret, err = svc.ExchangeCIToken(raw, tenant, app)
	}
	if err != nil {
		writeError(w, err, s.logf)
		return
	}
	var out jsonw.W
	out.Object().Str("token", secret).Str("tenant", tok.Tenant).Str("app", tok.App).Str("expiresAt", rfc3339(tok.ExpiresAt)).End()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	w.Write(out.Bytes())
}

// ciVerifier verifies one issuer's CI tokens for this installation's
// audience, with the issuer's keys cached in KV.
func (s *Server) ciVerifier(issuer string) *oidc.WorkloadVerifier {
	return &oidc.WorkloadVerifier{Issuer: issuer, Audience: s.Config.CIAudience, HTTP: s.HTTP, Now: s.Now, Skew: 30 * time.Second,
		LoadKeys: s.DB.CachedKeys, StoreKeys: s.DB.CacheKeys}
}

func writeTrustPolicy(w *jsonw.W, tp spinport.TrustPolicy) {
	w.Object().Str("id", tp.ID).Str("provider", tp.Provider).Str("issuer", tp.Issuer).OptStr("repositoryId", tp.RepositoryID).
		OptStr("repositoryOwnerId", tp.RepositoryOwnerID).OptStr("repository", tp.Repository).OptStr("workflow", tp.Workflow).
		OptStr("environment", tp.Environment).OptStr("projectId", tp.ProjectID).Flag("protectedOnly", tp.ProtectedOnly).
		Strings("refs", tp.Refs).Str("createdAt", rfc3339(tp.CreatedAt)).Str("createdBy", tp.CreatedBy).End()
}
