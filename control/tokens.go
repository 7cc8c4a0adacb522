package control

import (
	"errors"
	"strconv"
	"strings"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// MaxTokenDays bounds a token's life.
const MaxTokenDays = 366

// TokenInput creates an API token.
type TokenInput struct {
	Name          string
	Scopes        []string
	App           string
	ExpiresInDays int64
}

// CreateToken creates an API token and returns it with its secret, which
// is shown this once: spinport keeps only its hash.
func (s *Service) CreateToken(p *Principal, slug string, bind func() (TokenInput, error)) (t spinport.Token, secret string, err error) {
	a, err := s.tenantAsHuman(p, slug, spinport.RoleOwner)
	if err != nil {
		return t, "", err
	}
	in, err := bind()
	if err != nil {
		return t, "", err
	}
	if in.Name == "" || len(in.Name) > 100 {
		return t, "", invalid("name", "name is required (1-100 characters), e.g. \"github-actions\"")
	}
	if len(in.Scopes) == 0 {
		return t, "", invalid("scopes", "scopes is required: any of read, deploy, manage")
	}
	for _, sc := range in.Scopes {
		if sc != "read" && sc != "deploy" && sc != "manage" {
			return t, "", invalid("scopes", "unknown scope \""+sc+"\": use read, deploy or manage")
		}
	}
	if in.App != "" {
		if _, err := s.loadApp(a, in.App); err != nil {
			return t, "", invalid("app", "no app \""+in.App+"\" in tenant "+a.Tenant.Slug)
		}
	}
	if in.ExpiresInDays < 1 || in.ExpiresInDays > MaxTokenDays {
		return t, "", invalid("expiresInDays", "expiresInDays must be 1-"+strconv.Itoa(MaxTokenDays))
	}
	id, err := s.RandomHex(8)
	if err != nil {
		return t, "", err
	}
	raw, err := s.RandomHex(32)
	if err != nil {
		return t, "", err
	}
	now := s.now()
	t = spinport.Token{ID: id, Tenant: a.Tenant.Slug, Name: in.Name, Scopes: in.Scopes, App: in.App, Hash: kv.SecretHash(raw),
		CreatedAt: now, CreatedBy: p.ID, ExpiresAt: now + in.ExpiresInDays*86400}
	if err := s.DB.CreateToken(t); err != nil {
		return t, "", err
	}
	s.audit(t.Tenant, p, "token.create", "token/"+id, "ok", in.Name)
	return t, TokenPrefix + id + "_" + raw, nil
}

func (s *Service) Tokens(p *Principal, slug, cursor string, limit int) ([]spinport.Token, string, error) {
	a, err := s.tenantAsHuman(p, slug, spinport.RoleOwner)
	if err != nil {
		return nil, "", err
	}
	return s.DB.ListTokens(a.Tenant.Slug, cursor, limit)
}

func (s *Service) RevokeToken(p *Principal, slug, id string) error {
	a, err := s.tenantAsHuman(p, slug, spinport.RoleOwner)
	if err != nil {
		return err
	}
	if _, err := s.DB.GetToken(a.Tenant.Slug, id); errors.Is(err, kv.ErrNotFound) {
		return notFound("no token \"" + id + "\" in tenant " + a.Tenant.Slug)
	} else if err != nil {
		return err
	}
	if err := s.DB.RevokeToken(a.Tenant.Slug, id); err != nil {
		return err
	}
	s.audit(a.Tenant.Slug, p, "token.revoke", "token/"+id, "ok", "")
	return nil
}

// Audit lists the tenant's audit log, newest first. An app-restricted
// token sees only events about its app: other apps' names, variables and
// images, members and tokens stay hidden.
func (s *Service) Audit(p *Principal, slug string, before int64, limit int) ([]spinport.AuditEvent, int64, error) {
	a, err := s.tenantAs(p, slug, spinport.RoleViewer)
	if err != nil {
		return nil, 0, err
	}
	if p.Token == nil || p.Token.App == "" {
		return s.DB.ListAudit(a.Tenant.Slug, before, limit)
	}
	target := "app/" + p.Token.App
	var out []spinport.AuditEvent
	for pages := 0; pages < 8; pages++ { // read a few pages to fill one
		es, next, err := s.DB.ListAudit(a.Tenant.Slug, before, limit)
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
