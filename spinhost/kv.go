package spinhost

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// KVStore is one opened key-value store, the operations of Spin's
// key-value interface.
type KVStore interface {
	// Get returns ok=false when the key does not exist.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	Set(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	Exists(ctx context.Context, key string) (bool, error)
	Keys(ctx context.Context) ([]string, error)
}

// kvBackend opens stores of one configured label.
type kvBackend interface {
	Open(ctx context.Context, label string) (KVStore, error)
	Summary() string
	Close() error
}

// kvManager owns the backends of all configured labels for the lifetime
// of the host; instances open stores through it.
type kvManager struct {
	mu       sync.Mutex
	backends map[string]kvBackend
	// timeout bounds each call (Options.StoreTimeout); 0 means no bound
	// beyond the request's context, as in Spin.
	timeout time.Duration
}

// roots are the CA certificates rediss:// trusts (Options.CABundleFile);
// nil means the system roots.
func newKVManager(cfg map[string]KVStoreConfig, timeout time.Duration, roots *x509.CertPool) (*kvManager, error) {
	m := &kvManager{backends: map[string]kvBackend{}, timeout: timeout}
	labels := make([]string, 0, len(cfg))
	for l := range cfg {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, label := range labels {
		c := cfg[label]
		var b kvBackend
		var err error
		switch c.Type {
		case "spin":
			b, err = newSQLiteKV(c.Path)
		case "redis":
			b, err = newRedisKV(c.URL, roots)
		default:
			err = fmt.Errorf("unsupported store type %q", c.Type)
		}
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("key-value store %q: %w", label, err)
		}
		m.backends[label] = b
	}
	return m, nil
}

func (m *kvManager) defined(label string) bool {
	_, ok := m.backends[label]
	return ok
}

func (m *kvManager) open(ctx context.Context, label string) (KVStore, error) {
	b, ok := m.backends[label]
	if !ok {
		return nil, errNoSuchStore
	}
	if m.timeout <= 0 {
		return b.Open(ctx, label)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	s, err := b.Open(ctx, label)
	if err != nil {
		return nil, timeoutError(ctx, m.timeout, err)
	}
	return &boundedStore{s: s, timeout: m.timeout}, nil
}

// boundedStore gives every call of s its own deadline
// (Options.StoreTimeout). The deadline is on a context derived for the
// call, so when it runs out only the call fails (an io error for the
// guest); the request goes on.
type boundedStore struct {
	s       KVStore
	timeout time.Duration
}

// timeoutError says so when err comes from the call's own deadline.
func timeoutError(ctx context.Context, d time.Duration, err error) error {
	if err != nil && deadlinePassed(ctx) {
		return fmt.Errorf("key-value call timed out after %s (StoreTimeout): %w", d, err)
	}
	return err
}

// deadlinePassed reports whether ctx's deadline has come. (A connection
// deadline set from it can fire a moment before ctx.Err reports it.)
func deadlinePassed(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func (b *boundedStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	v, ok, err := b.s.Get(ctx, key)
	return v, ok, timeoutError(ctx, b.timeout, err)
}

func (b *boundedStore) Set(ctx context.Context, key string, value []byte) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return timeoutError(ctx, b.timeout, b.s.Set(ctx, key, value))
}

func (b *boundedStore) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return timeoutError(ctx, b.timeout, b.s.Delete(ctx, key))
}

func (b *boundedStore) Exists(ctx context.Context, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	ok, err := b.s.Exists(ctx, key)
	return ok, timeoutError(ctx, b.timeout, err)
}

func (b *boundedStore) Keys(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	keys, err := b.s.Keys(ctx)
	return keys, timeoutError(ctx, b.timeout, err)
}

func (m *kvManager) summary(label string) string {
	if b, ok := m.backends[label]; ok {
		return b.Summary()
	}
	return ""
}

func (m *kvManager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var first error
	for _, b := range m.backends {
		if err := b.Close(); err != nil && first == nil {
			first = err
		}
	}
	m.backends = map[string]kvBackend{}
	return first
}

// Key-value error variant tags of the Spin 1 key-value interface
// (wit/key-value.wit).
const (
	kvErrStoreTableFull = 0
	kvErrNoSuchStore    = 1
	kvErrAccessDenied   = 2
	kvErrInvalidStore   = 3
	kvErrNoSuchKey      = 4
	kvErrIO             = 5
)

type kvError struct {
	tag uint8
	msg string // only for io
}

func (e *kvError) Error() string {
	switch e.tag {
	case kvErrStoreTableFull:
		return "store table full"
	case kvErrNoSuchStore:
		return "no such store"
	case kvErrAccessDenied:
		return "access denied"
	case kvErrInvalidStore:
		return "invalid store"
	case kvErrNoSuchKey:
		return "no such key"
	}
	return "io error: " + e.msg
}

var errNoSuchStore = &kvError{tag: kvErrNoSuchStore}

// kvStoreTableCapacity is how many stores one instance may hold open at
// once, as in Spin (DEFAULT_STORE_TABLE_CAPACITY).
const kvStoreTableCapacity = 256

// kvHandles is an instance's table of open stores. Spin hands out
// resource-table indices; handle numbers start at 0 here too.
type kvHandles struct {
	allowed map[string]bool
	manager *kvManager
	open    map[uint32]KVStore
	next    uint32
}

func (h *kvHandles) openStore(ctx context.Context, label string) (uint32, *kvError) {
	if !h.allowed[label] {
		return 0, &kvError{tag: kvErrAccessDenied}
	}
	if len(h.open) >= kvStoreTableCapacity {
		return 0, &kvError{tag: kvErrStoreTableFull}
	}
	s, err := h.manager.open(ctx, label)
	if err != nil {
		if ke, ok := err.(*kvError); ok {
			return 0, ke
		}
		return 0, &kvError{tag: kvErrIO, msg: err.Error()}
	}
	id := h.next
	h.next++
	h.open[id] = s
	return id, nil
}

func (h *kvHandles) get(id uint32) (KVStore, *kvError) {
	s, ok := h.open[id]
	if !ok {
		return nil, &kvError{tag: kvErrInvalidStore}
	}
	return s, nil
}

func ioErr(err error) *kvError {
	if err == nil {
		return nil
	}
	return &kvError{tag: kvErrIO, msg: err.Error()}
}
