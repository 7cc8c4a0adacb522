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
	"github.com/tidwall/gjson"
)

const maxTokenDays = 366

func createToken(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAsHuman(p, ps, spinport.RoleOwner)
	if err != nil {
		return 0, nil, err
	}
	b, err := readBody(r, "name", "scopes", "app", "expiresInDays")
	if err != nil {
		return 0, nil, err
	}
	name, err := b.str("name")
	if err != nil {
		return 0, nil, err
	}
	if name == "" || len(name) > 100 {
		return 0, nil, badRequest("name", "name is required (1-100 characters), e.g. \"github-actions\"")
	}
	scopes, err := b.strs("scopes")
	if err != nil {
		return 0, nil, err
	}
	if len(scopes) == 0 {
		return 0, nil, badRequest("scopes", "scopes is required: any of read, deploy, manage")
	}
	for _, sc := range scopes {
		if sc != "read" && sc != "deploy" && sc != "manage" {
			return 0, nil, badRequest("scopes", "unknown scope \""+sc+"\": use read, deploy or manage")
		}
	}
	app, err := b.str("app")
	if err != nil {
		return 0, nil, err
	}
	if app != "" {
		if _, err := s.loadApp(a, app); err != nil {
			return 0, nil, &Problem{Status: http.StatusBadRequest, Title: "Invalid request", Field: "app", Detail: "no app \"" + app + "\" in tenant " + a.tenant.Slug}
		}
	}
	days, err := b.int("expiresInDays", 90)
	if err != nil {
		return 0, nil, err
	}
	if days < 1 || days > maxTokenDays {
		return 0, nil, badRequest("expiresInDays", "expiresInDays must be 1-"+strconv.Itoa(maxTokenDays))
	}
	id, err := s.randomHex(8)
	if err != nil {
		return 0, nil, err
	}
	secret, err := s.randomHex(32)
	if err != nil {
		return 0, nil, err
	}
	now := s.now()
	t := spinport.Token{ID: id, Tenant: a.tenant.Slug, Name: name, Scopes: scopes, App: app, Hash: kv.SecretHash(secret),
		CreatedAt: now, CreatedBy: p.ID, ExpiresAt: now + days*86400}
	if err := s.DB.CreateToken(t); err != nil {
		return 0, nil, err
	}
	s.audit(t.Tenant, p, "token.create", "token/"+id, "ok", name)
	var w jsonw.W
	w.Object().Key("token")
	writeToken(&w, t)
	// The only time the secret is shown: spinport keeps its hash alone.
	w.Str("secret", tokenPrefix+id+"_"+secret).End()
	return http.StatusCreated, w.Bytes(), nil
}

// tokenShownOnce is what a repeat of a token creation (same
// Idempotency-Key) answers: the secret was in the first answer only and is
// not kept anywhere, so it cannot be shown again.
func tokenShownOnce(created []byte) *Problem {
	id := gjson.GetBytes(created, "token.id").String()
	return &Problem{Status: http.StatusConflict, Title: "Secret already shown", Field: "Idempotency-Key",
		Detail: "token " + id + " was created by the first request with this Idempotency-Key; its secret was shown once, in that answer, and spinport does not keep it. " +
			"If it was lost, revoke the token (DELETE /api/v1/tenants/{tenant}/tokens/" + id + ") and create a new one"}
}

func listTokens(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAsHuman(p, ps, spinport.RoleOwner)
	if err != nil {
		return 0, nil, err
	}
	limit, cursor, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	ts, next, err := s.DB.ListTokens(a.tenant.Slug, cursor, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(ts), func(w *jsonw.W, i int) { writeToken(w, ts[i]) }, next), nil
}

func revokeToken(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAsHuman(p, ps, spinport.RoleOwner)
	if err != nil {
		return 0, nil, err
	}
	id := ps.ByName("token")
	if _, err := s.DB.GetToken(a.tenant.Slug, id); errors.Is(err, kv.ErrNotFound) {
		return 0, nil, notFound("no token \"" + id + "\" in tenant " + a.tenant.Slug)
	} else if err != nil {
		return 0, nil, err
	}
	if err := s.DB.RevokeToken(a.tenant.Slug, id); err != nil {
		return 0, nil, err
	}
	s.audit(a.tenant.Slug, p, "token.revoke", "token/"+id, "ok", "")
	return http.StatusNoContent, nil, nil
}

func listAudit(s *Server, r *http.Request, ps httprouter.Params, p *Principal) (int, []byte, error) {
	a, err := s.tenantAs(p, ps, spinport.RoleViewer)
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
	if p.Token != nil && p.Token.App != "" {
		es, next, err := s.appAudit(a.tenant.Slug, p.Token.App, before, limit)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, list(len(es), func(w *jsonw.W, i int) { writeAudit(w, es[i]) }, cursorNum(next)), nil
	}
	es, next, err := s.DB.ListAudit(a.tenant.Slug, before, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, list(len(es), func(w *jsonw.W, i int) { writeAudit(w, es[i]) }, cursorNum(next)), nil
}

// appAudit is the audit log as an app-restricted token may see it: only
// events about its app. Other apps' names, variables and images, members
// and tokens stay hidden. It reads a few pages to fill one.
func (s *Server) appAudit(tenant, app string, before int64, limit int) ([]spinport.AuditEvent, int64, error) {
	target := "app/" + app
	var out []spinport.AuditEvent
	for pages := 0; pages < 8; pages++ {
		es, next, err := s.DB.ListAudit(tenant, before, limit)
		if err != nil {
			return nil, 0, err
		}
		for _, e := range es {
			if len(out) == limit {
				return out, e.Seq + 1, nil
			}
			if e.Target == target || strings.HasPrefix(e.Target, target+"/") {
				out = append(out, e)
			}
		}
		if next == 0 || len(out) == limit {
			return out, next, nil
		}
		before = next
	}
	return out, before, nil
}
