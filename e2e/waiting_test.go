package e2e

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Why an app is not ready, through the real .wasm on the loopback cluster.
// kwok runs no kubelet that could fail to pull an image, so the test
// writes the pod status a kubelet would (ImagePullBackOff, not ready) and
// checks that the status answer says what to fix.
func TestClusterWaitingReasons(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	h := startClusterHost(t, "spinport", k.URL, k.CAFile, k.spinportToken(t, suffix))
	api := h.admin(t)
	tenant := "e2e-why-" + suffix
	ns := "spinport-" + tenant
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath(ns), "", nil) })
	base := "/api/v1/tenants/" + tenant
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	api.must(201, "POST", base+"/apps", map[string]any{"name": "web"})
	rev := api.must(201, "POST", base+"/apps/web/deployments", map[string]any{"image": helloImage + "@" + digestOf("why "+suffix)})
	waitAppReady(t, api, base+"/apps/web", rev.num("number"), 1)

	pods := k.mustObject(t, corePath(ns, "pods", "")+"?labelSelector=core.spinkube.dev%2Fapp-name%3Dweb")
	items := pods.list("items")
	if len(items) == 0 {
		t.Fatal("no pod")
	}
	pod := items[0].s("metadata", "name")
	msg := `Back-off pulling image "` + helloImage + `": not found`
	eventually(t, 30*time.Second, "status says the image cannot be pulled", func() string {
		k.mustCall(t, "PATCH", corePath(ns, "pods", pod)+"/status", map[string]any{"status": map[string]any{
			"conditions": []map[string]any{{"type": "Ready", "status": "False"}, {"type": "ContainersReady", "status": "False"}},
			"containerStatuses": []map[string]any{{"name": "web", "image": helloImage, "imageID": "", "ready": false, "restartCount": 0,
				"state": map[string]any{"waiting": map[string]any{"reason": "ImagePullBackOff", "message": msg}}}}}}, 200)
		st := api.must(200, "GET", base+"/apps/web/status", nil)
		if w := st.str("waiting"); !strings.Contains(w, "cannot be pulled (ImagePullBackOff)") || !strings.Contains(w, msg) {
			return "waiting: " + w + " ready: " + st.str("ready")
		}
		return ""
	})
}

// The CLI against the real .wasm and the loopback cluster: `deploy --wait`
// ends when the revision is ready and prints the app's URL; a deploy the
// cluster side refuses prints the reason and exits non-zero.
func TestClusterCLIDeployWait(t *testing.T) {
	k := requireCluster(t)
	suffix := randomSuffix()
	// No app Redis: a KV-bound app's deploy is refused with a reason.
	h := startClusterHost(t, "spinport", k.URL, k.CAFile, k.spinportToken(t, suffix), map[string]string{"app_redis_url": ""})
	api := h.admin(t)
	tenant := "e2e-cli-" + suffix
	t.Cleanup(func() { _, _, _ = k.call("DELETE", nsPath("spinport-"+tenant), "", nil) })
	api.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": tenant})
	api.must(201, "POST", "/api/v1/tenants/"+tenant+"/apps", map[string]any{"name": "web"})
	api.must(201, "POST", "/api/v1/tenants/"+tenant+"/apps", map[string]any{"name": "store", "kv": true})

	bin := buildCLI(t)
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"SPINPORT_URL=" + h.URL, "SPINPORT_TOKEN=" + h.AdminToken, "HOME=" + t.TempDir()}
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), code
	}
	out, errOut, code := run("deploy", tenant+"/web", helloImage+"@"+digestOf("cli "+suffix), "--wait", "60s")
	if code != 0 || !strings.Contains(out, "https://web-"+tenant+"."+e2eBaseDomain) {
		t.Errorf("deploy --wait: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	out, errOut, code = run("deploy", tenant+"/store", helloImage, "--wait", "30s")
	if code == 0 || !strings.Contains(errOut, "KV store") {
		t.Errorf("a refused deploy: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
