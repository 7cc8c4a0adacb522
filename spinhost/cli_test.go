package spinhost

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// buildCLI builds cmd/spinhost once per test binary run.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "spinhost")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/spinhost").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/spinhost: %v\n%s", err, out)
	}
	return bin
}

func TestCLI(t *testing.T) {
	needGuest(t)
	bin := buildCLI(t)
	dir := t.TempDir()
	// The manifest's source does not exist; --wasm supplies the component.
	manifest := writeFile(t, dir, "spin.toml", `spin_manifest_version = 2
[application]
name = "cli"
[variables]
token = { required = true }
[[trigger.http]]
route = "/..."
component = "guest"
[component.guest]
source = "build/not-built-yet.wasm"
key_value_stores = ["default"]
[component.guest.variables]
token = "{{ token }}"
`)
	clean := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}

	// A missing required variable: exit status 1 and a message naming it.
	cmd := exec.Command(bin, "--manifest", manifest, "--wasm", guestWasm, "--listen", "127.0.0.1:0")
	cmd.Env = clean
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), `variable "token" is required`) {
		t.Fatalf("missing variable: err %v, output:\n%s", err, out)
	}

	// With --variable it serves, and logs the address and the routes.
	cmd = exec.Command(bin, "--manifest", manifest, "--wasm", guestWasm, "--listen", "127.0.0.1:0", "--variable", "token=from-cli")
	cmd.Env = clean
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("spinhost exited with %v after SIGINT", err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Error("spinhost did not stop on SIGINT")
		}
	}()
	// Read the startup log up to the route listing.
	var logged strings.Builder
	base, routeLogged := "", false
	sc := bufio.NewScanner(stderr)
	serving := regexp.MustCompile(`Serving (http://127\.0\.0\.1:\d+)`)
	for !routeLogged && sc.Scan() {
		line := sc.Text()
		logged.WriteString(line + "\n")
		if m := serving.FindStringSubmatch(line); m != nil {
			base = m[1]
		}
		routeLogged = base != "" && strings.Contains(line, "guest: "+base+" (wildcard)")
	}
	if !routeLogged {
		t.Fatalf("no Serving line and route listing:\n%s", logged.String())
	}
	go io.Copy(io.Discard, stderr) // keep the pipe drained
	res, err := http.Get(base + "/var?name=token")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "from-cli" {
		t.Errorf("token = %q", body)
	}
}

// The checked-in bytes of the bad guest must be testdata/badguest.wat.
func TestBadGuestWasmMatchesWat(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm not installed")
	}
	out := filepath.Join(t.TempDir(), "bad.wasm")
	if b, err := exec.Command(wat2wasm, filepath.Join("testdata", "badguest.wat"), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, badGuestWasm) {
		t.Error("badguest_module_test.go is out of date with testdata/badguest.wat; regenerate it")
	}
}
