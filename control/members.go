package control

import (
	"errors"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// MemberInput adds a member.
type MemberInput struct{ User, Role string }

// MemberRow is a member with what spinport knows of the person.
type MemberRow struct {
	Member spinport.Member
	User   spinport.User
}

func checkRole(role string) error {
	if spinport.RoleRank(role) == 0 {
		return invalid("role", "role must be owner, deployer or viewer")
	}
	return nil
}

func (s *Service) ListMembers(p *Principal, slug, cursor string, limit int) ([]MemberRow, string, error) {
	a, err := s.TenantAccess(p, slug)
	if err != nil {
		return nil, "", err
	}
	ms, next, err := s.DB.ListMembers(a.Tenant.Slug, cursor, limit)
	if err != nil {
		return nil, "", err
	}
	rows := make([]MemberRow, len(ms))
	for i, m := range ms {
		u, _ := s.DB.GetUser(m.UserID)
		rows[i] = MemberRow{m, u}
	}
	return rows, next, nil
}

func (s *Service) AddMember(p *Principal, slug string, bind func() (MemberInput, error)) (MemberRow, error) {
	a, err := s.tenantAsHuman(p, slug, spinport.RoleOwner)
	if err != nil {
		return MemberRow{}, err
	}
	in, err := bind()
	if err != nil {
		return MemberRow{}, err
	}
	if err := checkRole(in.Role); err != nil {
		return MemberRow{}, err
	}
	u, err := s.DB.GetUser(in.User)
	if in.User == "" || errors.Is(err, kv.ErrNotFound) {
		return MemberRow{}, invalid("user", "no user \""+in.User+"\": ask them to sign in to the portal once, then use the id GET /api/v1/me shows them")
	}
	if err != nil {
		return MemberRow{}, err
	}
	m := spinport.Member{UserID: in.User, Role: in.Role, AddedAt: s.now(), AddedBy: p.ID}
	if err := s.DB.AddMember(a.Tenant.Slug, m); errors.Is(err, kv.ErrExists) {
		return MemberRow{}, conflict("user \"" + in.User + "\" is already a member; change their role with PATCH")
	} else if err != nil {
		return MemberRow{}, err
	}
	s.audit(a.Tenant.Slug, p, "member.add", "member/"+in.User, "ok", in.Role)
	return MemberRow{m, u}, nil
}

func (s *Service) UpdateMember(p *Principal, slug, userID string, bindRole func() (string, error)) (MemberRow, error) {
	a, err := s.tenantAsHuman(p, slug, spinport.RoleOwner)
	if err != nil {
		return MemberRow{}, err
	}
	role, err := bindRole()
	if err != nil {
		return MemberRow{}, err
	}
	if err := checkRole(role); err != nil {
		return MemberRow{}, err
	}
	m, err := s.member(a, userID)
	if err != nil {
		return MemberRow{}, err
	}
	if m.Role == spinport.RoleOwner && role != spinport.RoleOwner {
		if err := s.keepAnOwner(a.Tenant.Slug, userID); err != nil {
			return MemberRow{}, err
		}
	}
	m.Role = role
	if err := s.DB.UpdateMember(a.Tenant.Slug, m); err != nil {
		return MemberRow{}, err
	}
	s.audit(a.Tenant.Slug, p, "member.update", "member/"+userID, "ok", role)
	u, _ := s.DB.GetUser(userID)
	return MemberRow{m, u}, nil
}

func (s *Service) RemoveMember(p *Principal, slug, userID string) error {
	a, err := s.tenantAsHuman(p, slug, spinport.RoleOwner)
	if err != nil {
		return err
	}
	m, err := s.member(a, userID)
	if err != nil {
		return err
	}
	if m.Role == spinport.RoleOwner {
		if err := s.keepAnOwner(a.Tenant.Slug, userID); err != nil {
			return err
		}
	}
	if err := s.DB.RemoveMember(a.Tenant.Slug, userID); err != nil {
		return err
	}
	s.audit(a.Tenant.Slug, p, "member.remove", "member/"+userID, "ok", "")
	return nil
}

func (s *Service) member(a Access, userID string) (spinport.Member, error) {
	m, err := s.DB.GetMember(a.Tenant.Slug, userID)
	if errors.Is(err, kv.ErrNotFound) {
		return m, notFound("user \"" + userID + "\" is not a member of " + a.Tenant.Slug)
	}
	return m, err
}

// keepAnOwner refuses to demote or remove the last owner.
func (s *Service) keepAnOwner(tenant, leaving string) error {
	ms, _, err := s.DB.ListMembers(tenant, "", 200)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Role == spinport.RoleOwner && m.UserID != leaving {
			return nil
		}
	}
	return conflict("a tenant needs at least one owner: make someone else owner first")
}
