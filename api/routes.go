package api

// apiRoutes is every authenticated /api/v1 route. openapi.json must list
// exactly these (TestOpenAPIMatchesRoutes).
var apiRoutes = []route{
	{"GET", "/api/v1/me", getMe, true, nil},

	{"GET", "/api/v1/tenants", listTenants, true, nil},
	{"POST", "/api/v1/tenants", createTenant, true, nil},
	{"GET", "/api/v1/tenants/:tenant", getTenant, true, nil},
	{"PATCH", "/api/v1/tenants/:tenant", updateTenant, true, nil},
	{"DELETE", "/api/v1/tenants/:tenant", deleteTenant, true, nil},

	{"GET", "/api/v1/tenants/:tenant/members", listMembers, true, nil},
	{"POST", "/api/v1/tenants/:tenant/members", addMember, true, nil},
	{"PATCH", "/api/v1/tenants/:tenant/members/:user", updateMember, true, nil},
	{"DELETE", "/api/v1/tenants/:tenant/members/:user", removeMember, true, nil},

	{"GET", "/api/v1/tenants/:tenant/apps", listApps, true, nil},
	{"POST", "/api/v1/tenants/:tenant/apps", createApp, true, nil},
	{"GET", "/api/v1/tenants/:tenant/apps/:app", getApp, true, nil},
	{"PATCH", "/api/v1/tenants/:tenant/apps/:app", updateApp, true, nil},
	{"DELETE", "/api/v1/tenants/:tenant/apps/:app", deleteApp, true, nil},

	{"POST", "/api/v1/tenants/:tenant/apps/:app/deployments", createDeployment, true, nil},
	{"GET", "/api/v1/tenants/:tenant/apps/:app/revisions", listRevisions, true, nil},
	{"GET", "/api/v1/tenants/:tenant/apps/:app/revisions/:revision", getRevision, true, nil},
	{"POST", "/api/v1/tenants/:tenant/apps/:app/rollback", rollback, true, nil},

	{"GET", "/api/v1/tenants/:tenant/apps/:app/status", getStatus, true, nil},
	{"GET", "/api/v1/tenants/:tenant/apps/:app/logs", getLogs, true, nil},

	{"GET", "/api/v1/tenants/:tenant/apps/:app/variables", listVariables, true, nil},
	{"PUT", "/api/v1/tenants/:tenant/apps/:app/variables/:name", setVariable, true, nil},
	{"DELETE", "/api/v1/tenants/:tenant/apps/:app/variables/:name", deleteVariable, true, nil},

	{"GET", "/api/v1/tenants/:tenant/tokens", listTokens, true, nil},
	{"POST", "/api/v1/tenants/:tenant/tokens", createToken, true, tokenShownOnce},
	{"DELETE", "/api/v1/tenants/:tenant/tokens/:token", revokeToken, true, nil},

	{"GET", "/api/v1/tenants/:tenant/audit", listAudit, true, nil},
}
