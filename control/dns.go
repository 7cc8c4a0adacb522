package control

import "github.com/spinport/spinport"

// DNS records for app hosts in zones the installation manages (Azure DNS,
// package azure): created when an app is deployed with the host, removed
// when the host or the app goes. Hosts outside managed zones are the
// tenant's to point.

func (s *Service) hosts(app spinport.App, domains []string) []string {
	return spinport.Hosts(app.Name, app.Tenant, s.Config.BaseDomain, domains)
}

func owner(app spinport.App) string { return app.Tenant + "/" + app.Name }

// pointHosts makes a record for every managed host of the deployed app.
// It stops at the first failure: a retry of the deploy converges.
func (s *Service) pointHosts(p *Principal, app spinport.App, domains []string) error {
	if s.DNS == nil {
		return nil
	}
	for _, h := range s.hosts(app, domains) {
		if !s.DNS.Manages(h) {
			continue
		}
		err := s.DNS.Point(h, owner(app))
		s.audit(app.Tenant, p, "azure.dns.set", "host/"+h, outcome(err), "")
		if err != nil {
			return err
		}
	}
	return nil
}

// removeHosts deletes the records of hosts the app no longer has.
func (s *Service) removeHosts(p *Principal, app spinport.App, hosts []string) error {
	if s.DNS == nil {
		return nil
	}
	for _, h := range hosts {
		if !s.DNS.Manages(h) {
			continue
		}
		err := s.DNS.Remove(h, owner(app))
		s.audit(app.Tenant, p, "azure.dns.delete", "host/"+h, outcome(err), "")
		if err != nil {
			return err
		}
	}
	return nil
}
