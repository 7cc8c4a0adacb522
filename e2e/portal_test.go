package e2e

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The portal in real headless Chromium against the real .wasm: sign in with
// the admin token, create a tenant and an app, deploy, set a variable, roll
// back, create an API token, read the audit log.

func chromium(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "chromium not found: `make tools` installs Debian's chromium"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func newChrome(t *testing.T) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	// Not t.TempDir: Chromium may still be writing its profile when the
	// test ends, so removal is best effort after the browser is gone.
	profile, err := os.MkdirTemp("", "spinport-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, chromedp.UserDataDir(profile))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	// cdproto lags Chromium's protocol: drop its "could not unmarshal event" noise.
	quiet := chromedp.WithErrorf(func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); !strings.Contains(msg, "could not unmarshal event") {
			log.Print(msg) // not t.Log: it may come after the test ended
		}
	})
	ctx, cancelC := chromedp.NewContext(actx, quiet)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA(); _ = os.RemoveAll(profile) })
	return ctx
}

func TestPortalInChromium(t *testing.T) {
	h := startHost(t, hostOptions{Variables: map[string]string{"admin_token": "portal-admin-token-0123"}})
	base := h.URL
	ctx := newChrome(t)
	defer func() {
		if t.Failed() {
			var png []byte
			_ = chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100))
			_ = os.WriteFile(filepath.Join(os.TempDir(), "spinport-portal-failure.png"), png, 0o644)
			t.Logf("screenshot: %s", filepath.Join(os.TempDir(), "spinport-portal-failure.png"))
		}
	}()

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
	submit := func(button string) chromedp.Action {
		return chromedp.Click(`//button[normalize-space()="`+button+`"]`, chromedp.BySearch)
	}

	run("open", chromedp.Navigate(base+"/"), chromedp.WaitVisible(`input[name=token]`, chromedp.ByQuery))
	if !strings.Contains(text("#health"), "KV backend: spin (ok)") {
		t.Errorf("first page health: %q", text("#health"))
	}
	run("wrong token", chromedp.SendKeys(`input[name=token]`, "nope", chromedp.ByQuery), submit("Sign in"),
		chromedp.WaitVisible(`#flash`, chromedp.ByQuery))
	if !strings.Contains(text("#flash"), "admin token") {
		t.Errorf("wrong-token message: %q", text("#flash"))
	}
	run("sign in", chromedp.SetValue(`input[name=token]`, "portal-admin-token-0123", chromedp.ByQuery), submit("Sign in"),
		chromedp.WaitVisible(`input[name=slug]`, chromedp.ByQuery))

	run("bad tenant", chromedp.SendKeys(`input[name=slug]`, "Not Valid", chromedp.ByQuery), submit("Create tenant"),
		chromedp.WaitVisible(`#flash`, chromedp.ByQuery))
	if !strings.Contains(text("#flash"), "lowercase letters") {
		t.Errorf("validation message: %q", text("#flash"))
	}
	run("create tenant", chromedp.SetValue(`input[name=slug]`, "acme", chromedp.ByQuery), chromedp.SendKeys(`input[name=displayName]`, "Acme Inc", chromedp.ByQuery),
		submit("Create tenant"), chromedp.WaitVisible(`input[name=name]`, chromedp.ByQuery))
	run("create app", chromedp.SendKeys(`input[name=name]`, "web", chromedp.ByQuery), submit("Create app"),
		chromedp.WaitVisible(`input[name=image]`, chromedp.ByQuery))
	run("deploy", chromedp.SendKeys(`input[name=image]`, "ghcr.io/acme/web:v1", chromedp.ByQuery), submit("Deploy"),
		chromedp.WaitVisible(`//td[normalize-space()="ghcr.io/acme/web:v1"]`, chromedp.BySearch))
	run("set variable", chromedp.SendKeys(`form input[name=name]`, "greeting", chromedp.ByQuery),
		chromedp.SendKeys(`input[name=value]`, "hello", chromedp.ByQuery), submit("Set variable"),
		chromedp.WaitVisible(`//td[normalize-space()="hello"]`, chromedp.BySearch))
	if got := text("main"); !strings.Contains(got, "Current revision: 2") || !strings.Contains(got, "config") {
		t.Errorf("after variable: %q", got)
	}
	run("roll back", chromedp.Click(`//button[normalize-space()="Roll back"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//td[normalize-space()="rollback of 1"]`, chromedp.BySearch))
	if !strings.Contains(text("main"), "Current revision: 3") {
		t.Errorf("after rollback: %q", text("main"))
	}

	run("tokens", chromedp.Navigate(base+"/#/t/acme/tokens"), chromedp.WaitVisible(`input[name=name]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name=name]`, "github-actions", chromedp.ByQuery), submit("Create token"),
		chromedp.WaitVisible(`code.secret`, chromedp.ByQuery))
	if secret := text("code.secret"); !strings.HasPrefix(secret, "spt_") {
		t.Errorf("token secret shown: %q", secret)
	}
	run("audit", chromedp.Navigate(base+"/#/t/acme/audit"), chromedp.WaitVisible(`//td[normalize-space()="token.create"]`, chromedp.BySearch))
	for _, action := range []string{"tenant.create", "app.create", "deploy", "variable.set", "rollback"} {
		if !strings.Contains(text("main"), action) {
			t.Errorf("audit page lacks %s", action)
		}
	}
	var png []byte
	run("screenshot", chromedp.Navigate(base+"/#/t/acme/a/web"), chromedp.WaitVisible(`input[name=image]`, chromedp.ByQuery), chromedp.FullScreenshot(&png, 100))
	_ = os.WriteFile(filepath.Join(os.TempDir(), "spinport-portal-app.png"), png, 0o644)
	run("sign out", chromedp.Click(`//button[normalize-space()="Sign out"]`, chromedp.BySearch), chromedp.WaitVisible(`input[name=token]`, chromedp.ByQuery))
}
