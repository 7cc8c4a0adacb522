package spinhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// component is one [component.<id>], compiled once. Every request gets a
// fresh instance of the compiled module, as Spin gives every request a
// fresh wasmtime instance: globals, heap and open stores never carry over.
type component struct {
	id       string
	source   string
	compiled wazero.CompiledModule
	// startFuncs is what runs right after instantiation: _initialize for a
	// reactor, else _start (TinyGo's -target=wasi modules initialise their
	// runtime and run package init() there, which is where the Spin Go SDK
	// registers the handler).
	startFuncs []string

	variables map[string]string
	allowed   AllowedHosts
	kvAllowed map[string]bool
	env       map[string]string
}

// hostImports is every function this host provides, by module.
var hostImports = map[string][]string{
	"key-value":          {"open", "get", "set", "delete", "exists", "get-keys", "close"},
	"spin-config":        {"get-config"},
	"wasi-outbound-http": {"request"},
	"outbound-redis":     {"publish", "get", "set", "incr", "del", "sadd", "smembers", "srem", "execute"},
}

// instantiateHostModules registers the Spin host interfaces in rt; every
// instance of every component links against these.
func instantiateHostModules(ctx context.Context, rt wazero.Runtime) error {
	for _, reg := range []func(context.Context, wazero.Runtime) error{
		registerKeyValue, registerSpinConfig, registerOutboundHTTP, registerOutboundRedis,
	} {
		if err := reg(ctx, rt); err != nil {
			return err
		}
	}
	return nil
}

// compileComponent compiles c's module and checks its ABI: it must export
// handle-http-request, memory and canonical_abi_realloc, and import only
// what this host (plus WASI preview1) provides.
func compileComponent(ctx context.Context, rt wazero.Runtime, c *component) error {
	id, path := c.id, c.source
	wasm, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("component %q: reading source: %w", id, err)
	}
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return fmt.Errorf("component %q: compiling %s: %w", id, path, err)
	}
	c.compiled = compiled
	exports := compiled.ExportedFunctions()
	for _, need := range []string{"handle-http-request", "canonical_abi_realloc"} {
		if _, ok := exports[need]; !ok {
			compiled.Close(ctx)
			return fmt.Errorf("component %q (%s) does not export %q: not a Spin 1 ABI HTTP component (built with the Spin Go SDK v2 / wit-bindgen 0.2?)", id, path, need)
		}
	}
	if _, ok := compiled.ExportedMemories()["memory"]; !ok {
		compiled.Close(ctx)
		return fmt.Errorf("component %q (%s) does not export its memory", id, path)
	}
	if _, ok := exports["_initialize"]; ok {
		c.startFuncs = []string{"_initialize"}
	} else if _, ok := exports["_start"]; ok {
		c.startFuncs = []string{"_start"}
	}

	var unsupported []string
	for _, f := range compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod == "wasi_snapshot_preview1" {
			continue
		}
		ok := false
		for _, n := range hostImports[mod] {
			if n == name {
				ok = true
			}
		}
		if !ok {
			unsupported = append(unsupported, mod+"."+name)
		}
	}
	if len(unsupported) > 0 {
		compiled.Close(ctx)
		sort.Strings(unsupported)
		return fmt.Errorf("component %q (%s) imports host functions spinhost does not implement: %s", id, path, strings.Join(unsupported, ", "))
	}
	return nil
}

// instanceState is the per-request state the host functions reach through
// the call context.
type instanceState struct {
	host *Host
	comp *component
	kv   kvHandles
	// realloc is the guest's canonical_abi_realloc, looked up once.
	realloc api.Function
}

type stateKey struct{}

func withState(ctx context.Context, st *instanceState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateFrom(ctx context.Context) *instanceState {
	st, _ := ctx.Value(stateKey{}).(*instanceState)
	if st == nil {
		faultf("host function called outside a request")
	}
	return st
}

// errModuleExited explains the TinyGo >= 0.34 failure mode.
var errModuleExited = errors.New("the module exited during its start function, so its exports cannot be called; TinyGo >= 0.34 needs -target=wasip1 -buildmode=c-shared for Spin components")

// instantiate creates a fresh instance of c for one request.
func (h *Host) instantiate(ctx context.Context, c *component, stdout, stderr io.Writer) (*instanceState, api.Module, error) {
	st := &instanceState{host: h, comp: c, kv: kvHandles{allowed: c.kvAllowed, manager: h.kv, open: map[uint32]KVStore{}}}
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous, so the same module can be instantiated concurrently
		WithStartFunctions(c.startFuncs...).
		WithStdout(stdout).
		WithStderr(stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	keys := make([]string, 0, len(c.env))
	for k := range c.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cfg = cfg.WithEnv(k, c.env[k])
	}
	mod, err := h.runtime.InstantiateModule(h.memory.with(withState(ctx, st)), c.compiled, cfg)
	if err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 0 {
			return nil, nil, errModuleExited
		}
		return nil, nil, fmt.Errorf("instantiating component %q: %w", c.id, err)
	}
	return st, mod, nil
}

// lineLogger forwards guest output to the host log one line at a time,
// prefixed with the component, like spin up's "[component] ..." view.
type lineLogger struct {
	mu     sync.Mutex
	log    *log.Logger
	prefix string
	buf    bytes.Buffer
}

func newLineLogger(l *log.Logger, prefix string) *lineLogger {
	return &lineLogger{log: l, prefix: prefix}
}

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			// Incomplete line: keep it for the next write or Flush.
			w.buf.Reset()
			w.buf.WriteString(line)
			break
		}
		w.log.Print(w.prefix + strings.TrimRight(line, "\r\n"))
	}
	return len(p), nil
}

// Flush logs a trailing partial line.
func (w *lineLogger) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.log.Print(w.prefix + w.buf.String())
		w.buf.Reset()
	}
}
