package control

import (
	"crypto/subtle"
	"time"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// SessionTTL is how long a portal session lasts.
const SessionTTL = 12 * time.Hour

// NewSession is a started portal session: the cookie value (only its
// SHA-256 is stored) and the CSRF token writes must carry.
type NewSession struct{ Cookie, CSRF string }

// StartSession stores a new portal session for userID.
func (s *Service) StartSession(userID string) (NewSession, error) {
	id, err := s.RandomHex(32)
	if err != nil {
		return NewSession{}, err
	}
	csrf, err := s.RandomHex(16)
	if err != nil {
		return NewSession{}, err
	}
	now := s.Now()
	sess := spinport.Session{UserID: userID, CSRF: csrf, CreatedAt: now.Unix(), ExpiresAt: now.Add(SessionTTL).Unix()}
	if err := s.DB.PutSession(kv.SecretHash(id), sess); err != nil {
		return NewSession{}, err
	}
	return NewSession{Cookie: id, CSRF: csrf}, nil
}

// AdminSession turns the bootstrap admin token into a portal session: the
// first sign-in of a new installation, and local use.
func (s *Service) AdminSession(token string) (NewSession, error) {
	if s.Config.AdminToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.Config.AdminToken)) != 1 {
		return NewSession{}, unauthorized("that is not the admin token (the admin_token variable)")
	}
	return s.StartSession(AdminUserID)
}

// EndSession forgets the session whose cookie p signed in with.
func (s *Service) EndSession(p *Principal, cookie string) {
	if p.Session != nil && cookie != "" {
		_ = s.DB.DeleteSession(kv.SecretHash(cookie))
	}
}

// SignedIn records a person an identity provider vouched for (creating
// the user on first sign-in) and starts their session.
func (s *Service) SignedIn(u spinport.User) (NewSession, error) {
	u.CreatedAt = s.now()
	newID, err := s.RandomHex(8)
	if err != nil {
		return NewSession{}, err
	}
	user, err := s.DB.EnsureUser(u, func() string { return newID })
	if err != nil {
		return NewSession{}, err
	}
	return s.StartSession(user.ID)
}
