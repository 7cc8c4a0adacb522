package control

import "testing"

// The outbound policy: what a tenant app may not name, and what stays allowed.
func TestForbiddenOutbound(t *testing.T) {
	for entry, want := range map[string]bool{
		"https://api.github.com":                      false,
		"https://{{ api_host }}":                      false,
		"http://api.spin.internal":                    false,
		"https://*:443":                               false,
		"http://169.254.169.254":                      true,
		"http://169.254.169.254:80/metadata":          true,
		"redis://10.0.0.5:6379":                       true,
		"postgres://[::1]:5432":                       true,
		"http://redis.default.svc.cluster.local:6379": true,
		"http://my-service.tenant.svc":                true,
		"https://metadata.google.internal":            true,
		"http://localhost:3000":                       true,
		"mysql://db.example.com:3306":                 false,
	} {
		if got := forbiddenOutbound(entry) != ""; got != want {
			t.Errorf("forbiddenOutbound(%q) = %v (%q), want %v", entry, got, forbiddenOutbound(entry), want)
		}
	}
}
