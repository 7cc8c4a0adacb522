package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/spinport/spinport"

	"github.com/spinport/spinport/control"
	"github.com/spinport/spinport/jsonw"
)

func rfc3339(unix int64) string {
	if unix == 0 {
		return ""
	}
	t := time.Unix(unix, 0).UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.Format(time.RFC3339)
	}
	// Written digit by digit: time.Format interprets its layout on every
	// call, which under TinyGo was a visible part of rendering a list page
	// (every item has a timestamp). Same output (TestRFC3339).
	h, mi, sec := t.Clock()
	var b [20]byte
	two := func(i, v int) { b[i], b[i+1] = byte('0'+v/10), byte('0'+v%10) }
	two(0, y/100)
	two(2, y%100)
	b[4] = '-'
	two(5, int(mo))
	b[7] = '-'
	two(8, d)
	b[10] = 'T'
	two(11, h)
	b[13] = ':'
	two(14, mi)
	b[16] = ':'
	two(17, sec)
	b[19] = 'Z'
	return string(b[:])
}

func writeMe(w *jsonw.W, p *Principal, tenants []string) {
	w.Object().Str("id", p.ID).Str("name", p.Name).Flag("admin", p.Admin)
	kind := "user"
	switch {
	case p.Token != nil:
		kind = "token"
		w.Str("tenant", p.Token.Tenant).Strings("scopes", p.Token.Scopes).OptStr("app", p.Token.App)
	case p.Admin:
		kind = "admin"
	}
	w.Str("kind", kind)
	if p.Session != nil {
		w.Str("csrfToken", p.Session.CSRF)
	}
	if p.Token == nil && !p.Admin {
		w.Strings("tenants", tenants)
	}
	w.End()
}

func writeTenant(w *jsonw.W, row control.TenantRow) {
	t, role := row.Tenant, row.Role
	w.Object().Str("slug", t.Slug).Str("displayName", t.DisplayName)
	w.Key("quotas").Object().Num("maxApps", t.Quotas.MaxApps).Num("maxReplicasPerApp", t.Quotas.MaxReplicasPerApp).Num("maxTotalReplicas", t.Quotas.MaxTotalReplicas).End()
	w.Str("createdAt", rfc3339(t.CreatedAt)).OptStr("role", role).End()
}

func writeMember(w *jsonw.W, row control.MemberRow) {
	m, u := row.Member, row.User
	w.Object().Str("user", m.UserID).Str("role", m.Role).OptStr("displayName", u.DisplayName).OptStr("email", u.Email).Str("addedAt", rfc3339(m.AddedAt)).End()
}

func writeScaling(w *jsonw.W, s spinport.Scaling) {
	if s.Autoscale {
		w.Key("autoscaling").Object().Num("minReplicas", s.MinReplicas).Num("maxReplicas", s.MaxReplicas).End()
		return
	}
	w.Num("replicas", s.Replicas)
}

func (s *Server) appJSON(v control.AppView) []byte {
	return one(func(w *jsonw.W) { s.writeApp(w, v.App, v.Current, v.Artifact) })
}

// writeAppItem is an app in a list: settings only.
func (s *Server) writeAppItem(w *jsonw.W, app spinport.App) {
	w.Object().Str("name", app.Name)
	writeScaling(w, app.Scaling)
	w.Strings("domains", app.Domains).Str("defaultHost", s.defaultHost(app)).Str("updatedAt", rfc3339(app.UpdatedAt)).End()
}

func (s *Server) writeApp(w *jsonw.W, a spinport.App, current int64, art *spinport.Artifact) {
	w.Object().Str("tenant", a.Tenant).Str("name", a.Name)
	writeScaling(w, a.Scaling)
	w.Strings("domains", a.Domains).Str("defaultHost", s.defaultHost(a)).Flag("kv", a.KV)
	if current > 0 {
		w.Num("currentRevision", current)
	} else {
		w.Key("currentRevision").Null()
	}
	writeArtifact(w, art) // of the current revision
	w.Str("createdAt", rfc3339(a.CreatedAt)).Str("updatedAt", rfc3339(a.UpdatedAt)).End()
}

// defaultHost is <app>-<tenant>.<base domain>.
func (s *Server) defaultHost(a spinport.App) string {
	return spinport.DefaultHost(a.Name, a.Tenant, s.Config.BaseDomain)
}

func writeVariable(w *jsonw.W, v spinport.Variable) {
	w.Object().Str("name", v.Name).Flag("secret", v.Secret)
	if !v.Secret {
		w.Str("value", v.Value)
	}
	w.Str("updatedAt", rfc3339(v.UpdatedAt)).End()
}

func writeRevision(w *jsonw.W, r spinport.Revision) {
	w.Object().Num("number", r.Number).Str("image", r.Image).OptStr("digest", r.Digest).Str("cause", r.Cause).Str("source", r.Source).
		OptStr("gitRef", r.GitRef).OptStr("gitSha", r.GitSHA).Str("actor", r.Actor).Str("createdAt", rfc3339(r.CreatedAt)).
		Str("state", r.State).OptStr("reason", r.Reason)
	if r.RollbackOf > 0 {
		w.Num("rollbackOf", r.RollbackOf)
	}
	writeScaling(w, r.Scaling)
	w.Key("variables").Array()
	for _, v := range r.Variables {
		w.Object().Str("name", v.Name).Flag("secret", v.Secret).End()
	}
	w.End().Strings("domains", r.Domains)
	writeArtifact(w, r.Artifact)
	if c := r.CI; c != nil { // the CI run that deployed it (an exchanged OIDC token)
		w.Key("ci").Object().Str("issuer", c.Issuer).Str("repository", c.Repository).Str("ref", c.Ref).Str("sha", c.SHA).
			Str("workflow", c.Workflow).Str("run", c.Run).End()
	}
	w.End()
}

// writeArtifact: what an inspected image declares (nothing when not inspected).
func writeArtifact(w *jsonw.W, a *spinport.Artifact) {
	if a == nil {
		return
	}
	w.Key("artifact").Object().Strings("components", a.Components).Strings("routes", a.Routes).Key("variables").Array()
	for _, v := range a.Variables {
		w.Object().Str("name", v.Name).Flag("required", v.Required).Flag("secret", v.Secret).End()
	}
	w.End().Strings("keyValueStores", a.KeyValueStores).Strings("sqliteDatabases", a.SQLiteDatabases).
		Strings("allowedOutboundHosts", a.AllowedOutboundHosts).End()
}

func writeToken(w *jsonw.W, t spinport.Token) {
	w.Object().Str("id", t.ID).Str("name", t.Name).Strings("scopes", t.Scopes).OptStr("app", t.App).
		Str("createdAt", rfc3339(t.CreatedAt)).Str("createdBy", t.CreatedBy).OptStr("expiresAt", rfc3339(t.ExpiresAt)).
		OptStr("lastUsedAt", rfc3339(t.LastUsed)).End()
}

// writeRegistry never writes the password: spinport does not keep it.
func writeRegistry(w *jsonw.W, c spinport.RegistryCredential) {
	w.Object().Str("registry", c.Registry).Str("username", c.Username).Str("updatedAt", rfc3339(c.UpdatedAt)).Str("updatedBy", c.UpdatedBy).End()
}

// writeTenantRedis never writes the URL: it is only in Kubernetes.
func writeTenantRedis(w *jsonw.W, v control.TenantRedisView) {
	w.Object().Str("mode", v.Mode)
	if v.Own != nil {
		w.Num("databases", v.Own.Databases).Str("updatedAt", rfc3339(v.Own.UpdatedAt)).Str("updatedBy", v.Own.UpdatedBy)
		w.Key("apps").Array()
		for _, a := range v.Apps {
			w.Object().Str("app", a.App).Num("database", a.DB).End()
		}
		w.End()
	}
	if v.Mode == "shared" && v.Shared > 0 {
		w.Num("database", v.Shared)
	}
	w.End()
}

func writeAudit(w *jsonw.W, e spinport.AuditEvent) {
	w.Object().Num("seq", e.Seq).Str("time", rfc3339(e.Time)).Str("actor", e.Actor).Str("action", e.Action).
		Str("target", e.Target).Str("outcome", e.Outcome).OptStr("detail", e.Detail).End()
}

// list writes {"items":[...],"nextCursor":...}.
func list(n int, item func(w *jsonw.W, i int), next string) []byte {
	var w jsonw.W
	w.Object().Key("items").Array()
	for i := 0; i < n; i++ {
		item(&w, i)
	}
	w.End()
	if next != "" {
		w.Str("nextCursor", next)
	} else {
		w.Key("nextCursor").Null()
	}
	w.End()
	return w.Bytes()
}

func cursorNum(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func one(fn func(w *jsonw.W)) []byte {
	var w jsonw.W
	fn(&w)
	return w.Bytes()
}

// createdOrOK is 201 for a write that made something new, else 200.
func createdOrOK(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}
