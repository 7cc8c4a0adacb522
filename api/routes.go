package api

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// route is one route. JSON API routes have handle (authenticated, with
// Idempotency-Key and one error mapping, see wrap); the portal's sign-in,
// /healthz and the OpenAPI document write their own answers (raw).
type route struct {
	method, path string
	handle       func(*Server, *http.Request, httprouter.Params, *Principal) (int, []byte, error)
	auth         bool // needs a signed-in principal
	// replay, if set, is what a repeated Idempotency-Key gets instead of the
	// first answer, which carries a secret that must not be stored.
	replay func(body []byte) *Problem
	raw    func(*Server, http.ResponseWriter, *http.Request, httprouter.Params)
}

// routes is every route spinport serves. openapi.json must list exactly
// the /api/v1 routes with a handle (TestOpenAPIMatchesRoutes); /auth/* is
// for browsers and not in it.
var routes = []route{
	{method: "GET", path: "/healthz", raw: (*Server).healthz},
	{method: "GET", path: "/api/v1/openapi.json", raw: func(_ *Server, w http.ResponseWriter, r *http.Request, ps httprouter.Params) { serveOpenAPI(w, r, ps) }},
	{method: "POST", path: "/auth/session", raw: (*Server).adminSignIn},
	{method: "POST", path: "/auth/logout", raw: (*Server).signOut},
	// CI exchanges its OIDC token here: that token is the credential.
	{method: "POST", path: "/api/v1/ci/token", raw: (*Server).exchangeCIToken},
	{method: "GET", path: "/auth/login", raw: (*Server).oidcLogin},
	{method: "GET", path: "/auth/callback", raw: (*Server).oidcCallback},

	{"GET", "/api/v1/me", getMe, true, nil, nil},

	{"GET", "/api/v1/tenants", listTenants, true, nil, nil},
	{"POST", "/api/v1/tenants", createTenant, true, nil, nil},
	{"GET", "/api/v1/tenants/:tenant", getTenant, true, nil, nil},
	{"PATCH", "/api/v1/tenants/:tenant", updateTenant, true, nil, nil},
	{"DELETE", "/api/v1/tenants/:tenant", deleteTenant, true, nil, nil},

	{"GET", "/api/v1/tenants/:tenant/members", listMembers, true, nil, nil},
	{"POST", "/api/v1/tenants/:tenant/members", addMember, true, nil, nil},
	{"PATCH", "/api/v1/tenants/:tenant/members/:user", updateMember, true, nil, nil},
	{"DELETE", "/api/v1/tenants/:tenant/members/:user", removeMember, true, nil, nil},

	{"GET", "/api/v1/tenants/:tenant/apps", listApps, true, nil, nil},
	{"POST", "/api/v1/tenants/:tenant/apps", createApp, true, nil, nil},
	{"GET", "/api/v1/tenants/:tenant/apps/:app", getApp, true, nil, nil},
	{"PATCH", "/api/v1/tenants/:tenant/apps/:app", updateApp, true, nil, nil},
	{"DELETE", "/api/v1/tenants/:tenant/apps/:app", deleteApp, true, nil, nil},

	{"POST", "/api/v1/tenants/:tenant/apps/:app/deployments", createDeployment, true, nil, nil},
	{"GET", "/api/v1/tenants/:tenant/apps/:app/revisions", listRevisions, true, nil, nil},
	{"GET", "/api/v1/tenants/:tenant/apps/:app/revisions/:revision", getRevision, true, nil, nil},
	{"POST", "/api/v1/tenants/:tenant/apps/:app/rollback", rollback, true, nil, nil},

	{"GET", "/api/v1/tenants/:tenant/apps/:app/status", getStatus, true, nil, nil},
	{"GET", "/api/v1/tenants/:tenant/apps/:app/domains", listDomains, true, nil, nil},
	{"GET", "/api/v1/tenants/:tenant/apps/:app/trust-policies", listTrustPolicies, true, nil, nil},
	{"POST", "/api/v1/tenants/:tenant/apps/:app/trust-policies", createTrustPolicy, true, nil, nil},
	{"DELETE", "/api/v1/tenants/:tenant/apps/:app/trust-policies/:policy", deleteTrustPolicy, true, nil, nil},
	{"POST", "/api/v1/tenants/:tenant/apps/:app/domains/:host/verify", verifyDomain, true, nil, nil},
	{"GET", "/api/v1/tenants/:tenant/apps/:app/logs", getLogs, true, nil, nil},

	{"GET", "/api/v1/tenants/:tenant/apps/:app/variables", listVariables, true, nil, nil},
	{"PUT", "/api/v1/tenants/:tenant/apps/:app/variables/:name", setVariable, true, nil, nil},
	{"DELETE", "/api/v1/tenants/:tenant/apps/:app/variables/:name", deleteVariable, true, nil, nil},

	{"GET", "/api/v1/tenants/:tenant/tokens", listTokens, true, nil, nil},
	{"POST", "/api/v1/tenants/:tenant/tokens", createToken, true, tokenShownOnce, nil},
	{"DELETE", "/api/v1/tenants/:tenant/tokens/:token", revokeToken, true, nil, nil},

	{"GET", "/api/v1/tenants/:tenant/registries", listRegistries, true, nil, nil},
	{"PUT", "/api/v1/tenants/:tenant/registries/:registry", setRegistry, true, nil, nil},
	{"DELETE", "/api/v1/tenants/:tenant/registries/:registry", deleteRegistry, true, nil, nil},
	{"GET", "/api/v1/tenants/:tenant/push-credentials", listPushCredentials, true, nil, nil},
	{"POST", "/api/v1/tenants/:tenant/push-credentials", createPushCredential, true, pushShownOnce, nil},
	{"POST", "/api/v1/tenants/:tenant/push-credentials/:name/rotate", rotatePushCredential, true, pushShownOnce, nil},
	{"DELETE", "/api/v1/tenants/:tenant/push-credentials/:name", revokePushCredential, true, nil, nil},
	{"GET", "/api/v1/tenants/:tenant/redis", getTenantRedis, true, nil, nil},
	{"PUT", "/api/v1/tenants/:tenant/redis", setTenantRedis, true, nil, nil},
	{"DELETE", "/api/v1/tenants/:tenant/redis", deleteTenantRedis, true, nil, nil},

	{"GET", "/api/v1/tenants/:tenant/audit", listAudit, true, nil, nil},
}
