package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spinport/spinport/spinhost"
	_ "modernc.org/sqlite" // driver "sqlite", to read Spin's KV table
)

// Issue "foundation": the real spinport.wasm in the Spin-ABI host answers
// health and the first page, keeps records in both KV backends, makes
// outbound HTTP only where allowed_outbound_hosts permits, refuses to start
// without admin_token, and has exactly the Spin 1 ABI surface.

var buildTimeRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)

// storedRecord reads one spinport record the way it sits in a backend.
type storedRecord func(t *testing.T, key string) ([]byte, error)

func TestFoundationKVBackends(t *testing.T) {
	requireSpinport(t)
	for _, backend := range []string{"spin", "redis"} {
		t.Run(backend, func(t *testing.T) {
			var h *testHost
			var read storedRecord
			switch backend {
			case "spin": // Spin's default: SQLite in the state directory
				h = startHost(t, hostOptions{})
				dbPath := filepath.Join(h.StateDir, spinhost.DefaultKVFilename)
				read = func(t *testing.T, key string) ([]byte, error) {
					db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
					if err != nil {
						return nil, err
					}
					defer db.Close()
					var v []byte
					err = db.QueryRow(`SELECT value FROM spin_key_value WHERE store = 'default' AND key = ?`, key).Scan(&v)
					return v, err
				}
			case "redis": // runtime-config-redis.toml + SPIN_VARIABLE_KV_BACKEND=redis, _REDIS_URL, _REDIS_HOST
				rs := startRedisServer(t)
				h = startHost(t, hostOptions{Redis: rs})
				read = func(t *testing.T, key string) ([]byte, error) {
					return rs.Client.Get(context.Background(), key).Bytes()
				}
			}
			admin := h.admin(t)

			// GET /healthz is answered by the .wasm (the host answers only
			// /.well-known/spin/health itself) and checks the KV store.
			hz := admin.must(200, "GET", "/healthz", nil)
			if hz.str("service") != "spinport" || hz.str("kv.backend") != backend || !hz.flag("kv.ok") || hz.str("status") != "ok" {
				t.Errorf("healthz: %s", hz)
			}
			// hack/tinygo-build.sh stamps the version (git describe) and
			// the build time into the .wasm with -ldflags -X.
			if v := hz.str("version"); v == "" || v == "dev" || !buildTimeRe.MatchString(hz.str("buildTime")) {
				t.Errorf("healthz has no build stamp (version %q, buildTime %q): was the .wasm built by hack/tinygo-build.sh?", v, hz.str("buildTime"))
			}
			// The health probe's key went through the backend.
			if _, err := read(t, "sp/health"); err != nil {
				t.Errorf("sp/health is not in the %s backend: %v", backend, err)
			}

			// The first page is the portal.
			page := h.client(t, "").must(200, "GET", "/", nil)
			if ct := page.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") ||
				!strings.Contains(string(page.Body), "<html") || !strings.Contains(strings.ToLower(string(page.Body)), "spinport") {
				t.Errorf("first page: %s", page)
			}

			// A KV round trip through the API...
			slug := "kv-" + backend
			created := admin.must(201, "POST", "/api/v1/tenants", map[string]any{"slug": slug, "displayName": "Round trip on " + backend})
			if created.str("slug") != slug {
				t.Errorf("create: %s", created)
			}
			got := admin.must(200, "GET", "/api/v1/tenants/"+slug, nil)
			if got.str("tenant.slug") != slug || got.str("tenant.displayName") != "Round trip on "+backend {
				t.Errorf("read back: %s", got)
			}
			// ...and the record really is in the backend, in the documented key.
			raw, err := read(t, "sp/tenants/item/"+slug)
			if err != nil {
				t.Fatalf("sp/tenants/item/%s in the %s backend: %v", slug, backend, err)
			}
			var env struct {
				Seq int64 `json:"seq"`
				Doc struct {
					Schema      int    `json:"schema"`
					Slug        string `json:"slug"`
					DisplayName string `json:"displayName"`
				} `json:"doc"`
			}
			if err := json.Unmarshal(raw, &env); err != nil || env.Seq < 1 || env.Doc.Schema != 1 ||
				env.Doc.Slug != slug || env.Doc.DisplayName != "Round trip on "+backend {
				t.Errorf("stored record %s (%v)", raw, err)
			}
			if _, err := read(t, "sp/tenants/slot/"+fmt.Sprint(env.Seq)); err != nil {
				t.Errorf("index slot %d of the tenant: %v", env.Seq, err)
			}
			// A second instance of the .wasm (a fresh instance per request)
			// lists it: nothing lived in the guest between requests.
			list := admin.must(200, "GET", "/api/v1/tenants", nil)
			if !contains(list.strs("items.#.slug"), slug) {
				t.Errorf("list: %s", list)
			}
		})
	}
}

// kubeRecorder is a loopback stand-in for the Kubernetes API server that
// records every request.
type kubeRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []string // "METHOD /path?query Authorization"
}

func startKubeRecorder(t *testing.T) *kubeRecorder {
	k := &kubeRecorder{}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.reqs = append(k.reqs, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
		k.mu.Unlock()
		if r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *kubeRecorder) requests() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.reqs...)
}

const e2eKubeToken = "e2e-kube-token-abcdef"

// Outbound HTTP from the .wasm reaches an allowed loopback server.
func TestFoundationOutboundHTTP(t *testing.T) {
	requireSpinport(t)
	kube := startKubeRecorder(t)
	h := startHost(t, hostOptions{Variables: map[string]string{"kube_api_url": kube.URL, "kube_token": e2eKubeToken}})
	hz := h.admin(t).must(200, "GET", "/healthz?deep=1", nil)
	if !hz.flag("checks.kubernetes.ok") || hz.str("status") != "ok" {
		t.Errorf("deep health: %s", hz)
	}
	// The check lists spinport's namespaces: it needs the server, the token and RBAC.
	want := []string{"GET /api/v1/namespaces?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dspinport Bearer " + e2eKubeToken}
	if got := kube.requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("the loopback API server saw %q, want %q", got, want)
	}
	if strings.Contains(string(hz.Body), e2eKubeToken) || strings.Contains(h.Logs.String(), e2eKubeToken) {
		t.Error("the Kubernetes token leaked into the answer or the log")
	}
}

// A destination allowed_outbound_hosts does not list is refused by the
// host before anything is sent, and spinport reports it.
func TestFoundationOutboundHTTPRefused(t *testing.T) {
	_, manifest := requireSpinport(t)
	kube := startKubeRecorder(t)
	other := httptest.NewServer(http.NotFoundHandler()) // the only loopback origin the manifest allows
	t.Cleanup(other.Close)
	narrowed := editedManifest(t, manifest, `"{{ kube_api_url }}",`, fmt.Sprintf("%q,", other.URL))
	h := startHost(t, hostOptions{Manifest: narrowed, Variables: map[string]string{"kube_api_url": kube.URL, "kube_token": e2eKubeToken}})

	hz := h.admin(t).must(503, "GET", "/healthz?deep=1", nil)
	msg := strings.ToLower(hz.str("checks.kubernetes.error"))
	if hz.flag("checks.kubernetes.ok") || hz.str("status") != "degraded" || !strings.Contains(msg, "not allowed") {
		t.Errorf("deep health with the API server not allowed: %s", hz)
	}
	if !hz.flag("kv.ok") {
		t.Errorf("the KV store should still be fine: %s", hz)
	}
	if got := kube.requests(); len(got) != 0 {
		t.Errorf("a refused destination received requests: %q", got)
	}
	if !strings.Contains(h.Logs.String(), "non-allowed") {
		t.Errorf("the host did not log the refused request:\n%s", h.Logs.Tail(4096))
	}
}

// Without admin_token (required, no default) the host refuses to start,
// naming the variable and the environment variable that sets it.
func TestFoundationMissingAdminToken(t *testing.T) {
	requireSpinport(t)
	opts, logs := hostOptions{Quiet: true}.spinhostOptions(t)
	delete(opts.Variables, "admin_token")
	h, err := spinhost.Start(context.Background(), opts)
	if err == nil {
		h.Close()
		t.Fatalf("the host started without admin_token\nlog:\n%s", logs)
	}
	if !strings.Contains(err.Error(), "admin_token") || !strings.Contains(err.Error(), "SPIN_VARIABLE_ADMIN_TOKEN") {
		t.Errorf("error %q does not name admin_token and SPIN_VARIABLE_ADMIN_TOKEN", err)
	}
	// Giving it through the environment, as the message says, works.
	opts, _ = hostOptions{Env: map[string]string{"SPIN_VARIABLE_ADMIN_TOKEN": "from-the-environment-0123"}}.spinhostOptions(t)
	if _, ok := opts.Variables["admin_token"]; ok {
		t.Fatal("hostOptions set admin_token although the environment has it")
	}
	h2, err := spinhost.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("with SPIN_VARIABLE_ADMIN_TOKEN: %v", err)
	}
	defer h2.Close()
	for h2.URL() == "" {
		time.Sleep(time.Millisecond)
	}
	c := &apiClient{tb: t, Base: h2.URL(), Token: "from-the-environment-0123"}
	if me := c.must(200, "GET", "/api/v1/me", nil); me.str("kind") != "admin" {
		t.Errorf("me: %s", me)
	}
	c.with("wrong-token").must(401, "GET", "/api/v1/me", nil)
}

// The component's imports and exports: the Spin 1 ABI (Spin Go SDK v2.2.0
// built by TinyGo 0.30, -target=wasi -scheduler=none, so no asyncify_*
// exports: an asyncify export means the build went back to a scheduler,
// with twice the code) plus the WASI calls it needs. A new
// import (e.g. key-value.get-keys, which spinport must never call, or a
// host interface SpinKube's shim lacks) fails here.
func TestFoundationModuleABI(t *testing.T) {
	wasm, _ := requireSpinport(t)
	abi, err := spinhost.InspectModuleFile(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	var exports []string
	for _, f := range abi.Exports {
		exports = append(exports, f.Name)
	}
	wantExports := []string{
		"_start",
		"calloc", "canonical_abi_free", "canonical_abi_realloc", "free",
		"handle-http-request", "handle-redis-message",
		"malloc", "realloc",
		"spin_http_handle_http_request", "spin_redis_handle_redis_message",
	}
	if !reflect.DeepEqual(exports, wantExports) {
		t.Errorf("exports (TinyGo 0.30, -target=wasi -scheduler=none)\n got %q\nwant %q", exports, wantExports)
	}
	if !reflect.DeepEqual(abi.Memories, []string{"memory"}) {
		t.Errorf("exported memories %q, want [memory]", abi.Memories)
	}

	allowedModules := map[string]bool{"key-value": true, "spin-config": true, "wasi-outbound-http": true,
		"outbound-redis": true, "wasi_snapshot_preview1": true}
	var imports []string
	for _, f := range abi.Imports {
		if !allowedModules[f.Module] {
			t.Errorf("import %s is from module %q, which is not part of the Spin 1 ABI spinport may use", f, f.Module)
		}
		imports = append(imports, f.Module+"."+f.Name)
	}
	sort.Strings(imports)
	wantImports := []string{
		// Spin 1 host interfaces. No key-value.get-keys (KEYS * on Redis),
		// exists or close; outbound Redis only through execute.
		"key-value.delete", "key-value.get", "key-value.open", "key-value.set",
		"outbound-redis.execute",
		"spin-config.get-config",
		"wasi-outbound-http.request",
		// WASI preview 1 as TinyGo's runtime and os use it. (No file
		// reading beyond that: Go's native http.Transport, which read
		// certificate files, is not linked; cmd/spinport/main.go.)
		"wasi_snapshot_preview1.args_get", "wasi_snapshot_preview1.args_sizes_get",
		"wasi_snapshot_preview1.clock_time_get",
		"wasi_snapshot_preview1.environ_get", "wasi_snapshot_preview1.environ_sizes_get",
		"wasi_snapshot_preview1.fd_close", "wasi_snapshot_preview1.fd_fdstat_get",
		"wasi_snapshot_preview1.fd_prestat_dir_name", "wasi_snapshot_preview1.fd_prestat_get",
		"wasi_snapshot_preview1.fd_read", "wasi_snapshot_preview1.fd_seek",
		"wasi_snapshot_preview1.fd_write",
		"wasi_snapshot_preview1.path_open",
		"wasi_snapshot_preview1.poll_oneoff", "wasi_snapshot_preview1.proc_exit", "wasi_snapshot_preview1.random_get",
	}
	if !reflect.DeepEqual(imports, wantImports) {
		t.Errorf("imports\n got %q\nwant %q\nnew: %q\ngone: %q", imports, wantImports, minus(imports, wantImports), minus(wantImports, imports))
	}
	// Every non-WASI import is one the host (and Spin) provides.
	supported := map[string]bool{}
	for _, s := range spinhost.SupportedImports() {
		supported[s] = true
	}
	for _, f := range abi.Imports {
		if f.Module != "wasi_snapshot_preview1" && !supported[f.Module+"."+f.Name] {
			t.Errorf("%s is not provided by the host", f)
		}
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
