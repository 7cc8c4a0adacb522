package e2e

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/spinport/spinport/e2e/armfake"
)

// Push credentials in the portal, in headless Chromium against the real
// .wasm, with spinport signing in to the Entra fake with a client secret
// (the fallback mode: no cluster, no federation) and the ACR fake
// (azure-sdk-for-go armcontainerregistry v1.2.0 fake server) behind it:
// create shows the password once with the CI lines, the list shows no
// password, rotate shows the other slot's new password, revoke removes the
// registry token.
func TestPortalPushCredentials(t *testing.T) {
	const (
		tenantID, clientID, secret = "00000000-0000-0000-0000-0000000000aa", "11111111-2222-3333-4444-555555555555", "entra-client-secret-e2e"
		sub, rg, acr               = "6a2c7d0e-0000-4000-8000-000000000001", "rg", "spinportacr"
	)
	entra := armfake.NewEntra(tenantID, nil)
	entra.AddSecret(clientID, secret)
	entSrv := httptest.NewTLSServer(entra)
	t.Cleanup(entSrv.Close)
	arm := armfake.New()
	arm.Entra = entra
	arm.AsyncPolls = 0
	arm.AddRegistry(sub, rg, acr)
	armSrv := httptest.NewTLSServer(arm)
	t.Cleanup(armSrv.Close)
	caFile := caBundle(t, "", entSrv.Certificate(), armSrv.Certificate())
	h := startHost(t, hostOptions{CABundle: caFile, Variables: map[string]string{"admin_token": "portal-admin-token-0123",
		"azure_tenant_id": tenantID, "azure_client_id": clientID, "azure_client_secret": secret,
		"azure_authority": entSrv.URL, "arm_endpoint": armSrv.URL, "acr_registry": sub + "/" + rg + "/" + acr}})
	api := h.admin(t)
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": "acme"})
	api.must(201, "POST", "/api/v1/tenants/acme/apps", map[string]any{"name": "web"})

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
	button := func(b string) chromedp.Action {
		return chromedp.Click(`//button[normalize-space()="`+b+`"]`, chromedp.BySearch)
	}
	run("sign in", chromedp.Navigate(h.URL+"/"), chromedp.WaitVisible(`input[name=token]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=token]`, "portal-admin-token-0123", chromedp.ByQuery), button("Sign in"),
		chromedp.WaitVisible(`input[name=slug]`, chromedp.ByQuery))
	run("open", chromedp.Navigate(h.URL+"/#/t/acme"), chromedp.WaitVisible(`//a[normalize-space()="Push credentials"]`, chromedp.BySearch),
		chromedp.Click(`//a[normalize-space()="Push credentials"]`, chromedp.BySearch), chromedp.WaitVisible(`input[name=days]`, chromedp.ByQuery))
	run("create", chromedp.SendKeys(`input[name=name]`, "ci", chromedp.ByQuery), button("Create push credential"),
		chromedp.WaitVisible(`code.secret`, chromedp.ByQuery))
	pw1 := text("code.secret")
	if pw1 == "" || pw1 != arm.TokenPassword(sub, rg, acr, "spinport-acme-ci", "password1") {
		t.Errorf("shown password %q is not the registry token's password1", pw1)
	}
	if lines := text("pre.push-lines"); !strings.Contains(lines, "spin registry login spinportacr.azurecr.io --username spinport-acme-ci --password-stdin") ||
		!strings.Contains(lines, "spin registry push spinportacr.azurecr.io/acme/<app>:<tag>") {
		t.Errorf("CI lines: %q", lines)
	}
	run("reload", chromedp.Reload(), chromedp.WaitVisible(`//td[normalize-space()="spinport-acme-ci"]`, chromedp.BySearch))
	if strings.Contains(text("main"), pw1) {
		t.Error("the password is shown again after a reload")
	}
	run("rotate", button("Rotate"), chromedp.WaitVisible(`code.secret`, chromedp.ByQuery))
	if pw2 := text("code.secret"); pw2 == pw1 || pw2 != arm.TokenPassword(sub, rg, acr, "spinport-acme-ci", "password2") {
		t.Errorf("rotated password %q is not password2", pw2)
	}
	if !strings.Contains(text("main"), "password2") {
		t.Errorf("the list does not say which password is current: %q", text("main"))
	}
	run("revoke", button("Revoke"), chromedp.WaitVisible(`//td[normalize-space()="Nothing yet."]`, chromedp.BySearch))
	if _, ok := arm.Token(sub, rg, acr, "spinport-acme-ci"); ok {
		t.Error("the revoked credential's registry token is still there")
	}
}
