package spinhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The end-to-end tests run a real TinyGo-built Spin component
// (testdata/guest) in the host. TestMain builds it once; the .wasm is
// cached under $SPINPORT_CACHE/spinhost-guest keyed by the sources and the
// TinyGo version, so only the first run pays for the build.

var (
	guestWasm     string // path of the built guest, "" if it could not be built
	guestBuildErr error
	wazeroCache   string // compilation cache shared by the tests' hosts
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spinhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wazeroCache = filepath.Join(dir, "wazero")
	guestWasm, guestBuildErr = buildGuest()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func spinportCache() string {
	if c := os.Getenv("SPINPORT_CACHE"); c != "" {
		return c
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "spinport")
}

// findTinyGo prefers $TINYGO, then the TinyGo `make tools` installs into
// $SPINPORT_CACHE/bin, then whatever hack/tinygo.sh picks.
func findTinyGo() (string, error) {
	if t := os.Getenv("TINYGO"); t != "" {
		return exec.LookPath(t)
	}
	wrapper := filepath.Join(spinportCache(), "bin", "tinygo")
	if _, err := os.Stat(wrapper); err == nil {
		return wrapper, nil
	}
	if out, err := exec.Command("bash", filepath.Join("..", "hack", "tinygo.sh")).Output(); err == nil {
		if p := strings.TrimSpace(string(out)); p != "" {
			return p, nil
		}
	}
	return "", errors.New("tinygo not found: run `make tools` (installs TinyGo 0.30 into $SPINPORT_CACHE/bin) or set TINYGO")
}

var tinygoVersionRe = regexp.MustCompile(`tinygo version (\d+)\.(\d+)`)

func buildGuest() (string, error) {
	tinygo, err := findTinyGo()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(tinygo, "version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s version: %v: %s", tinygo, err, out)
	}
	version := strings.TrimSpace(string(out))
	// The same flag choice as hack/tinygo-build.sh: TinyGo >= 0.34 needs a
	// reactor module, older releases use -target=wasi.
	flags := []string{"-target=wasi"}
	if m := tinygoVersionRe.FindStringSubmatch(version); m != nil && (m[1] != "0" || atoiOr(m[2]) >= 34) {
		flags = []string{"-target=wasip1", "-buildmode=c-shared"}
	}
	flags = append(flags, "-tags", "purego", "-gc=leaking", "-no-debug")

	src := filepath.Join("testdata", "guest")
	h := sha256.New()
	fmt.Fprintln(h, version, flags)
	for _, f := range []string{"main.go", "go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	cacheDir := filepath.Join(spinportCache(), "spinhost-guest")
	out1 := filepath.Join(cacheDir, hex.EncodeToString(h.Sum(nil))[:16]+".wasm")
	if _, err := os.Stat(out1); err == nil {
		return out1, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	tmp := out1 + fmt.Sprintf(".%d.tmp", os.Getpid())
	args := append([]string{"build"}, flags...)
	args = append(args, "-o", tmp, ".")
	cmd := exec.Command(tinygo, args...)
	cmd.Dir = src
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("tinygo %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	fmt.Fprintf(os.Stderr, "spinhost tests: built the test guest with %s in %s\n", version, time.Since(start).Round(time.Second))
	return out1, os.Rename(tmp, out1)
}

func atoiOr(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// needGuest skips (or, under CI, fails) a test when the guest is missing.
func needGuest(t *testing.T) string {
	t.Helper()
	if guestWasm == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("test guest unavailable: %v", guestBuildErr)
		}
		t.Skipf("test guest unavailable: %v", guestBuildErr)
	}
	return guestWasm
}

// testLog collects host output; it is printed if the test fails.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// app is a test application around the guest component.
type app struct {
	dir      string
	manifest string
	log      *testLog
}

// appConfig is what differs between the tests' manifests.
type appConfig struct {
	route          string   // default "/..."
	allowed        []string // allowed_outbound_hosts
	kvStores       []string // default ["default"]
	appVariables   string   // lines of [variables]
	compVariables  string   // lines of [component.guest.variables]
	runtimeConfig  string   // contents of runtime-config.toml, "" for none
	extraComponent string   // extra TOML appended to the manifest
}

func newApp(t *testing.T, cfg appConfig) *app {
	t.Helper()
	needGuest(t)
	dir := t.TempDir()
	if cfg.route == "" {
		cfg.route = "/..."
	}
	if cfg.kvStores == nil {
		cfg.kvStores = []string{"default"}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "spin_manifest_version = 2\n\n[application]\nname = \"guest-app\"\nversion = \"0.0.1\"\n\n")
	fmt.Fprintf(&b, "[variables]\n%s\n\n", cfg.appVariables)
	fmt.Fprintf(&b, "[[trigger.http]]\nroute = %q\ncomponent = \"guest\"\n\n", cfg.route)
	fmt.Fprintf(&b, "[component.guest]\nsource = %q\nkey_value_stores = %s\nallowed_outbound_hosts = %s\n\n",
		guestWasm, tomlList(cfg.kvStores), tomlList(cfg.allowed))
	fmt.Fprintf(&b, "[component.guest.variables]\n%s\n", cfg.compVariables)
	b.WriteString(cfg.extraComponent)
	a := &app{dir: dir, log: &testLog{}}
	a.manifest = writeFile(t, dir, "spin.toml", b.String())
	if cfg.runtimeConfig != "" {
		writeFile(t, dir, "runtime-config.toml", cfg.runtimeConfig)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manifest:\n%s\nhost log:\n%s", b.String(), a.log.String())
		}
	})
	return a
}

func tomlList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// options returns Options for this app; the runtime config is used if the
// app has one, and the process environment is not consulted.
func (a *app) options() Options {
	o := Options{
		ManifestPath:        a.manifest,
		Listen:              "127.0.0.1:0",
		CompilationCacheDir: wazeroCache,
		Logger:              log.New(a.log, "", 0),
		LookupEnv:           func(string) (string, bool) { return "", false },
	}
	if _, err := os.Stat(filepath.Join(a.dir, "runtime-config.toml")); err == nil {
		o.RuntimeConfigPath = filepath.Join(a.dir, "runtime-config.toml")
	}
	return o
}

// start starts a host with opts and stops it when the test ends.
func start(t *testing.T, opts Options) *Host {
	t.Helper()
	h, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for h.URL() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return h
}

// get requests path on h and returns status and body.
func get(t *testing.T, h *Host, path string) (int, string) {
	t.Helper()
	return do(t, h, http.MethodGet, path, "")
}

func do(t *testing.T, h *Host, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// expect asserts a 200 with the given body.
func expect(t *testing.T, h *Host, path, want string) {
	t.Helper()
	code, body := get(t, h, path)
	if code != http.StatusOK || body != want {
		t.Fatalf("GET %s = %d %q, want 200 %q", path, code, body, want)
	}
}

// startRedis runs a throwaway redis-server on a free loopback port.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server not installed")
		}
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var out testLog
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr
}

func newTestLogger(l *testLog) *log.Logger { return log.New(l, "", 0) }
