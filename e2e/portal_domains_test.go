package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/spinport/spinport/e2e/dohserver"
)

// Custom domains in the portal, in headless Chromium against the real
// .wasm and a loopback DNS-over-HTTPS resolver (miekg/dns): the app page
// shows a pending domain with the exact TXT record to publish; once the
// record is in DNS, Verify marks it verified.
func TestPortalDomains(t *testing.T) {
	resolver := dohserver.Start(t)
	caFile := caBundle(t, "", resolver.Certificate())
	h := startHost(t, hostOptions{CABundle: caFile, Variables: map[string]string{"admin_token": "portal-admin-token-0123",
		"doh_resolver": resolver.Origin(), "dns_target": "20.50.60.70"}})
	api := h.admin(t)
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": "acme"})
	api.must(201, "POST", "/api/v1/tenants/acme/apps", map[string]any{"name": "web", "domains": []string{"www.acme.test"}})

	ctx := newChrome(t)
	text := func(sel string) string {
		var s string
		if err := chromedp.Run(ctx, chromedp.Text(sel, &s, chromedp.ByQuery)); err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("sign in", chromedp.Navigate(h.URL+"/"), chromedp.WaitVisible(`input[name=token]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=token]`, "portal-admin-token-0123", chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Sign in"]`, chromedp.BySearch), chromedp.WaitVisible(`input[name=slug]`, chromedp.ByQuery))
	run("app page", chromedp.Navigate(h.URL+"/#/t/acme/a/web"), chromedp.WaitVisible(`tr[data-host="www.acme.test"] code.record`, chromedp.ByQuery))
	record := text(`tr[data-host="www.acme.test"] code.record`)
	if !strings.HasPrefix(record, "_spinport-challenge.www.acme.test TXT \"spinport-") {
		t.Fatalf("record shown: %q", record)
	}
	value := strings.TrimSuffix(strings.SplitN(record, `TXT "`, 2)[1], `"`)
	if next := text(`tr[data-host="www.acme.test"] td.next`); !strings.Contains(next, value) {
		t.Errorf("next step: %q", next)
	}
	run("verify too early", chromedp.Click(`tr[data-host="www.acme.test"] button`, chromedp.ByQuery), chromedp.WaitVisible(`#flash`, chromedp.ByQuery))
	if f := text("#flash"); !strings.Contains(f, value) {
		t.Errorf("verify before the record exists: %q", f)
	}
	resolver.SetTXT("_spinport-challenge.www.acme.test", value)
	run("verify", chromedp.Click(`tr[data-host="www.acme.test"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`//tr[@data-host="www.acme.test"]/td[normalize-space()="verified"]`, chromedp.BySearch))

	// CI trust policies on the same page: added, listed, removed.
	run("trust policy", chromedp.SendKeys(`input[name=repository]`, "acme/web", chromedp.ByQuery),
		chromedp.SendKeys(`input[name=repositoryId]`, "4242", chromedp.ByQuery), chromedp.SendKeys(`input[name=repositoryOwnerId]`, "77", chromedp.ByQuery),
		chromedp.Click(`//button[normalize-space()="Add trust policy"]`, chromedp.BySearch),
		chromedp.WaitVisible(`#trust tr[data-policy]`, chromedp.ByQuery))
	if row := text(`#trust tr[data-policy]`); !strings.Contains(row, "acme/web") || !strings.Contains(row, "4242 / 77") || !strings.Contains(row, "refs/tags/v*") {
		t.Errorf("trust policy row: %q", row)
	}
	if got := api.must(200, "GET", "/api/v1/tenants/acme/apps/web/trust-policies", nil); !strings.Contains(string(got.Body), `"repositoryId":"4242"`) {
		t.Errorf("API: %s", got)
	}
	run("remove policy", chromedp.Click(`#trust tr[data-policy] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`//div[@id="trust"]//td[normalize-space()="Nothing yet."]`, chromedp.BySearch))
}
