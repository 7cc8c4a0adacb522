package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCLI builds cmd/spinportctl and drives the real spinport .wasm with
// it, through the HTTP API only. No cluster is configured, so a deploy is
// recorded as pending ("no Kubernetes cluster is configured") and
// deploy --wait must give up with that reason instead of hanging.
func TestCLI(t *testing.T) {
	h := startHost(t, hostOptions{})
	bin := buildCLI(t)
	config := t.TempDir()
	ctl := func(token string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		// Only what the CLI reads: no login file, no inherited SPINPORT_*.
		cmd.Env = []string{"SPINPORT_URL=" + h.URL, "SPINPORT_TOKEN=" + token, "XDG_CONFIG_HOME=" + config, "HOME=" + config}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			code = 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("spinportctl %v: %v", args, err)
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("spinportctl %v hung (stdout %q, stderr %q)", args, o.String(), e.String())
		}
		return o.String(), e.String(), code
	}
	admin := h.admin(t)
	tok := h.AdminToken

	admin.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": "acme", "displayName": "Acme"})
	admin.must(201, "POST", "/api/v1/tenants/acme/apps", map[string]any{"name": "web"})

	// apps: the app and its default host, as a table.
	out, errOut, code := ctl(tok, "apps", "acme")
	if code != 0 || !strings.Contains(out, "NAME") || !regexp.MustCompile(`(?m)^web\s`).MatchString(out) {
		t.Fatalf("apps: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// --output json is the API's JSON.
	out, errOut, code = ctl(tok, "apps", "acme", "--output", "json")
	var list struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Items) != 1 || list.Items[0].Name != "web" {
		t.Fatalf("apps --output json: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// deploy without --wait prints the new revision and succeeds.
	const image = "ghcr.io/acme/web:v1"
	out, errOut, code = ctl(tok, "deploy", "acme/web", image)
	if code != 0 || !strings.Contains(out, "revision 1 pending") || !strings.Contains(out, image) ||
		!strings.Contains(out, "no Kubernetes cluster is configured") {
		t.Fatalf("deploy: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	rev := admin.must(200, "GET", "/api/v1/tenants/acme/apps/web/revisions/1", nil)
	if rev.str("image") != image || rev.str("state") != "pending" {
		t.Errorf("revision 1 as the API has it: %s", rev)
	}

	// deploy --wait with no cluster: the revision is only recorded, so it
	// ends non-zero at once, saying why.
	start := time.Now()
	out, errOut, code = ctl(tok, "deploy", "acme/web", "ghcr.io/acme/web:v2", "--wait", "2s")
	took := time.Since(start)
	if code == 0 || !strings.Contains(errOut, "revision 2 is pending and will not roll out") ||
		!strings.Contains(errOut, "no Kubernetes cluster is configured") {
		t.Errorf("deploy --wait 2s: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if took > 20*time.Second {
		t.Errorf("deploy --wait 2s took %s", took)
	}

	// status needs the cluster: with none the API answers 503, printed as
	// "title: detail", exit 1; --output json prints the problem on stderr.
	for _, args := range [][]string{{"status", "acme/web"}, {"-o", "json", "status", "acme/web"}} {
		out, errOut, code = ctl(tok, args...)
		if code != 1 || out != "" || !strings.Contains(errOut, "Service unavailable: no Kubernetes cluster is configured") {
			t.Errorf("%v: code %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
		}
	}

	// variables set (plain and secret) and unset, checked through the API.
	out, errOut, code = ctl(tok, "variables", "set", "acme/web", "greeting", "hello")
	if code != 0 || !strings.Contains(out, "greeting") {
		t.Errorf("variables set: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	out, errOut, code = ctl(tok, "variables", "set", "acme/web", "region", "eu", "--output", "json")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["name"] != "region" || v["value"] != "eu" {
		t.Errorf("variables set --output json: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// Secret variables live in Kubernetes: with no cluster, a clear refusal.
	out, errOut, code = ctl(tok, "variables", "set", "acme/web", "api_key", "s3cr3t", "--secret")
	if code != 1 || !strings.Contains(errOut, "Service unavailable: secret variables are stored in Kubernetes") || strings.Contains(out+errOut, "s3cr3t") {
		t.Errorf("variables set --secret: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	vars := admin.must(200, "GET", "/api/v1/tenants/acme/apps/web/variables", nil)
	if names := vars.strs("items.#.name"); !contains(names, "greeting") || !contains(names, "region") {
		t.Errorf("variables after set: %s", vars)
	}
	out, errOut, code = ctl(tok, "variables", "unset", "acme/web", "greeting")
	if code != 0 || !strings.Contains(out, "unset variable greeting") {
		t.Errorf("variables unset: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	vars = admin.must(200, "GET", "/api/v1/tenants/acme/apps/web/variables", nil)
	if names := vars.strs("items.#.name"); contains(names, "greeting") || !contains(names, "region") {
		t.Errorf("variables after unset: %s", vars)
	}

	// An API refusal is printed as "title: detail" and exits non-zero.
	out, errOut, code = ctl(tok, "status", "acme/nope")
	if code != 1 || !strings.Contains(errOut, "Not found") {
		t.Errorf("status of a missing app: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	bad := admin.with("spt_not-a-real-token").do("GET", "/api/v1/tenants/acme/apps", nil)
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(bad.Body, &p); err != nil || bad.Status != 401 || p.Title == "" {
		t.Fatalf("a bad token through the API: %s", bad)
	}
	out, errOut, code = ctl("spt_not-a-real-token", "apps", "acme")
	if code != 1 || !strings.Contains(errOut, p.Title+": "+p.Detail) || out != "" {
		t.Errorf("apps with a bad token: code %d, want stderr with %q\nstdout:\n%s\nstderr:\n%s", code, p.Title+": "+p.Detail, out, errOut)
	}

	// A usage error exits 2 without calling the API.
	if _, errOut, code = ctl(tok, "deploy", "acme-web", image); code != 2 || !strings.Contains(errOut, "TENANT/APP") {
		t.Errorf("deploy with a bad TENANT/APP: code %d, stderr %s", code, errOut)
	}

	// login checks the token, saves it 0600, and later commands use it.
	cmd := exec.Command(bin, "login", "--url", h.URL, "--token", tok)
	cmd.Env = []string{"XDG_CONFIG_HOME=" + config}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("login: %v\n%s", err, b)
	}
	fi, err := os.Stat(filepath.Join(config, "spinport", "config.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config file after login: %v, %v", fi, err)
	}
	cmd = exec.Command(bin, "apps", "acme")
	cmd.Env = []string{"XDG_CONFIG_HOME=" + config}
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "web") {
		t.Errorf("apps with the saved login: %v\n%s", err, b)
	}
}
