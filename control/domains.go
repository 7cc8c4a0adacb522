package control

import (
	"errors"
	"strings"

	"github.com/spinport/spinport"
	"github.com/spinport/spinport/kv"
)

// Custom domains are proven before they are routed (docs/domains.md):
// adding one claims it for the app, pending, with a random token; the
// tenant publishes TXT _spinport-challenge.<host> = token; spinport looks it
// up over DNS-over-HTTPS (Service.Resolver) and only then gives the host an
// Ingress rule and a Certificate. In a zone the installation manages
// (Service.DNS), spinport publishes the record itself and the domain
// verifies at once.

// claimCustom claims a new custom domain for the app: pending with a fresh
// token, or verified at once in a managed zone.
func (s *Service) claimCustom(p *Principal, tenant, app, host string) error {
	token, err := s.RandomHex(16)
	if err != nil {
		return err
	}
	c := spinport.DomainClaim{Host: host, Tenant: tenant, App: app, State: spinport.DomainPending, Token: "spinport-" + token}
	if err := s.DB.Claim(c); err != nil {
		return err
	}
	if s.DNS == nil || !s.DNS.Manages(host) {
		return nil
	}
	perr := s.DNS.Prove(host, c.Token, tenant+"/"+app)
	s.audit(tenant, p, "azure.dns.prove", "host/"+host, outcome(perr), "")
	if perr != nil {
		return perr
	}
	now := c
	now.State, now.VerifiedAt, now.CheckedAt = spinport.DomainVerified, s.now(), s.now()
	return s.DB.UpdateDomain(c, now)
}

// routed keeps the domains whose owner proved control (a claim missing
// for a race or a crash counts as not proven).
func (s *Service) routed(domains []string) ([]string, error) {
	out := make([]string, 0, len(domains))
	for _, d := range domains {
		c, err := s.DB.GetDomain(d)
		if errors.Is(err, kv.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.Routed() {
			out = append(out, d)
		}
	}
	return out, nil
}

// DomainView is one host of an app and what its owner should do next.
type DomainView struct {
	Host    string
	Default bool   // the app's default host (spinport's own name)
	State   string // verified, pending, lost
	// Record is what proves control: TXT Name = Value.
	RecordName, RecordValue string
	// DNS: what the host resolves to now, and what it should point at.
	Checked           bool
	CNAMEs, Addresses []string
	PointsAtIngress   bool
	Target            string
	Certificate       *spinport.CertificateStatus
	Next              string
}

// Domains shows every host of the app: verification (re-checked, so a
// proof that disappeared is flagged), DNS and certificate, and the next
// step in words.
func (s *Service) Domains(p *Principal, slug, name string) ([]DomainView, error) {
	_, app, err := s.appAccess(p, slug, name, spinport.RoleViewer)
	if err != nil {
		return nil, err
	}
	certs := map[string]*spinport.CertificateStatus{}
	if st, err := s.Deployer.Status(app); err == nil && st.SpinApp != nil {
		for i := range st.SpinApp.Certificates {
			c := st.SpinApp.Certificates[i]
			certs[c.Host] = &c
		}
	} else if err != nil && !errors.Is(err, spinport.ErrNoCluster) {
		return nil, err
	}
	views := []DomainView{{Host: spinport.DefaultHost(app.Name, app.Tenant, s.Config.BaseDomain), Default: true, State: spinport.DomainVerified}}
	for _, d := range app.Domains {
		c, err := s.DB.GetDomain(d)
		if errors.Is(err, kv.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c, err = s.recheck(p, c, false); err != nil {
			return nil, err
		}
		v := DomainView{Host: d, State: c.State, RecordName: spinport.ChallengeName(d), RecordValue: c.Token}
		if v.State == "" {
			v.State = spinport.DomainVerified
		}
		views = append(views, v)
	}
	for i := range views {
		v := &views[i]
		v.Certificate = certs[v.Host]
		v.Target = s.Config.IngressAddress
		if s.Resolver != nil && v.Target != "" {
			cn, addrs, err := s.Resolver.LookupHost(v.Host)
			if err != nil {
				return nil, err
			}
			v.Checked, v.CNAMEs, v.Addresses = true, cn, addrs
			v.PointsAtIngress = contains(addrs, v.Target) || contains(cn, strings.TrimSuffix(v.Target, "."))
		}
		v.Next = nextStep(*v)
	}
	return views, nil
}

// recheck looks the proof up again: verified → lost when it disappears
// (still routed, flagged), lost → verified when it is back, and with
// promote (VerifyDomain, which then redeploys) pending → verified. Without
// a resolver nothing changes.
func (s *Service) recheck(p *Principal, c spinport.DomainClaim, promote bool) (spinport.DomainClaim, error) {
	if s.Resolver == nil || c.Token == "" || (s.DNS != nil && s.DNS.Manages(c.Host)) {
		return c, nil
	}
	txts, err := s.Resolver.LookupTXT(spinport.ChallengeName(c.Host))
	if err != nil {
		return c, err
	}
	now := c
	now.CheckedAt = s.now()
	switch seen := contains(txts, c.Token); {
	case seen && (c.State == spinport.DomainLost || (promote && c.State == spinport.DomainPending)):
		now.State, now.VerifiedAt = spinport.DomainVerified, s.now()
	case !seen && c.State == spinport.DomainVerified:
		now.State = spinport.DomainLost
	default:
		return c, nil // unchanged: no write
	}
	if err := s.DB.UpdateDomain(c, now); err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return c, nil // a racing request changed it first
		}
		return c, err
	}
	s.audit(c.Tenant, p, "domain."+now.State, "host/"+c.Host, "ok", "")
	return now, nil
}

// VerifyDomain checks a custom domain's proof now; once seen, the app is
// redeployed so the host gets its Ingress rule and Certificate.
func (s *Service) VerifyDomain(p *Principal, slug, name, host string) (DomainView, error) {
	a, app, err := s.appAccess(p, slug, name, spinport.RoleOwner)
	if err != nil {
		return DomainView{}, err
	}
	c, err := s.DB.GetDomain(host)
	if errors.Is(err, kv.ErrNotFound) || (err == nil && (c.Tenant != app.Tenant || c.App != app.Name)) || !contains(app.Domains, host) {
		return DomainView{}, notFound("app " + app.Name + " has no custom domain \"" + host + "\"; add it to the app's domains first")
	}
	if err != nil {
		return DomainView{}, err
	}
	if s.Resolver == nil && c.State == spinport.DomainPending {
		return DomainView{}, &spinport.Error{Kind: spinport.Refused, Title: "Cannot verify domains",
			Detail: "this installation has no DNS-over-HTTPS resolver (doh_resolver), so it cannot see the TXT record; ask an admin"}
	}
	was := c.State
	if c, err = s.recheck(p, c, true); err != nil {
		return DomainView{}, err
	}
	v := DomainView{Host: host, State: c.State, RecordName: spinport.ChallengeName(host), RecordValue: c.Token, Target: s.Config.IngressAddress}
	if c.State == spinport.DomainPending {
		return v, &spinport.Error{Kind: spinport.Refused, Title: "Domain not verified yet", Field: "host",
			Detail: "no TXT record " + v.RecordName + " with the value " + c.Token + " was found; add it at your DNS provider and verify again (DNS changes can take a few minutes to show)"}
	}
	if was == spinport.DomainPending {
		if err := s.redeploy(a, app, p, "domain "+host+" verified"); err != nil {
			return v, err
		}
	}
	v.Next = nextStep(v)
	return v, nil
}

// nextStep says in words what the host's owner should do.
func nextStep(v DomainView) string {
	switch {
	case v.State == spinport.DomainPending:
		return "Add a TXT record " + v.RecordName + " with the value " + v.RecordValue + " at your DNS provider, then verify."
	case v.State == spinport.DomainLost:
		return "The TXT record " + v.RecordName + " is gone; add it back (value " + v.RecordValue + "), or the domain cannot be renewed safely."
	case v.Checked && !v.PointsAtIngress && !v.Default:
		return pointAt(v)
	case v.Certificate == nil:
		return "The host is routed once the app is deployed."
	case !v.Certificate.Ready:
		return "The certificate is not ready (" + v.Certificate.Reason + "): " + v.Certificate.Message
	}
	return "Nothing: the host is verified, points at the ingress and has a certificate."
}

// pointAt: an apex cannot be a CNAME (RFC 1034 3.6.2: a CNAME excludes
// the zone's SOA and NS), so it takes an A record (or the provider's
// ALIAS/flattening) to the ingress address.
func pointAt(v DomainView) string {
	if spinport.IsIPv4(v.Target) {
		return "Point " + v.Host + " at the ingress: an A record to " + v.Target + "."
	}
	return "Point " + v.Host + " at the ingress: a CNAME to " + v.Target + " (for an apex domain, which cannot be a CNAME, an A record to the ingress address or your provider's ALIAS record)."
}
