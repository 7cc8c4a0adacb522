package control

// HealthCheck probes one dependency for a deep health check.
type HealthCheck struct {
	Name  string
	Check func() error
}

// CheckResult is one probe's outcome (Err nil: healthy).
type CheckResult struct {
	Name string
	Err  error
}

// Health is the state of spinport's dependencies.
type Health struct {
	KV     error         // the KV store's write-and-read-back, nil when fine
	Checks []CheckResult // the deep checks; nil unless asked for
}

// OK reports whether every probe passed.
func (h Health) OK() bool {
	ok := h.KV == nil
	for _, c := range h.Checks {
		ok = ok && c.Err == nil
	}
	return ok
}

// Health always checks the KV store (one write and read); deep also runs
// the dependency checks (Kubernetes API, OIDC issuer), which cost outbound
// requests.
func (s *Service) Health(deep bool, checks []HealthCheck) Health {
	h := Health{KV: s.DB.Ping(s.now())}
	if deep {
		h.Checks = []CheckResult{}
		for _, c := range checks {
			h.Checks = append(h.Checks, CheckResult{Name: c.Name, Err: c.Check()})
		}
	}
	return h
}
