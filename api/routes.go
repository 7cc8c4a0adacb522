package api

// apiRoutes is every authenticated /api/v1 route. openapi.json must list
// exactly these (TestOpenAPIMatchesRoutes).
var apiRoutes = []route{
	{"GET", "/api/v1/me", getMe, true},

	{"GET", "/api/v1/tenants", listTenants, true},
	{"POST", "/api/v1/tenants", createTenant, true},
	{"GET", "/api/v1/tenants/:tenant", getTenant, true},
	{"PATCH", "/api/v1/tenants/:tenant", updateTenant, true},
	{"DELETE", "/api/v1/tenants/:tenant", deleteTenant, true},

	{"GET", "/api/v1/tenants/:tenant/members", listMembers, true},
	{"POST", "/api/v1/tenants/:tenant/members", addMember, true},
	{"PATCH", "/api/v1/tenants/:tenant/members/:user", updateMember, true},
	{"DELETE", "/api/v1/tenants/:tenant/members/:user", removeMember, true},

	{"GET", "/api/v1/tenants/:tenant/apps", listApps, true},
	{"POST", "/api/v1/tenants/:tenant/apps", createApp, true},
	{"GET", "/api/v1/tenants/:tenant/apps/:app", getApp, true},
	{"PATCH", "/api/v1/tenants/:tenant/apps/:app", updateApp, true},
	{"DELETE", "/api/v1/tenants/:tenant/apps/:app", deleteApp, true},

	{"POST", "/api/v1/tenants/:tenant/apps/:app/deployments", createDeployment, true},
	{"GET", "/api/v1/tenants/:tenant/apps/:app/revisions", listRevisions, true},
	{"GET", "/api/v1/tenants/:tenant/apps/:app/revisions/:revision", getRevision, true},
	{"POST", "/api/v1/tenants/:tenant/apps/:app/rollback", rollback, true},

	{"GET", "/api/v1/tenants/:tenant/apps/:app/status", getStatus, true},
	{"GET", "/api/v1/tenants/:tenant/apps/:app/logs", getLogs, true},

	{"GET", "/api/v1/tenants/:tenant/apps/:app/variables", listVariables, true},
	{"PUT", "/api/v1/tenants/:tenant/apps/:app/variables/:name", setVariable, true},
	{"DELETE", "/api/v1/tenants/:tenant/apps/:app/variables/:name", deleteVariable, true},

	{"GET", "/api/v1/tenants/:tenant/tokens", listTokens, true},
	{"POST", "/api/v1/tenants/:tenant/tokens", createToken, true},
	{"DELETE", "/api/v1/tenants/:tenant/tokens/:token", revokeToken, true},

	{"GET", "/api/v1/tenants/:tenant/audit", listAudit, true},
}
