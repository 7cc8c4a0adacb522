// Package kv keeps spinport's records in the Spin key-value store.
//
// Spin's KV API has get/set/delete/exists and nothing atomic, and two or more
// spinport replicas share one Redis in production. So every record lives in a
// key of its own, lists are append-only indexes whose slots are handed out by
// an atomic counter, and uniqueness (an app name, a domain) is decided by a
// set-if-absent. The atomic operations come from the Counter interface:
// Redis INCR / SET NX through Spin's outbound Redis in production, and a
// single-instance emulation on Spin's default SQLite store. docs/kv-schema.md
// describes every key.
package kv

import "errors"

// ErrNotFound is returned by Store.Get for a key that does not exist.
var ErrNotFound = errors.New("kv: no such key")

// Store is the subset of the Spin key-value API spinport uses. get-keys is
// deliberately absent: on Redis it is KEYS * over the whole database.
type Store interface {
	Get(key string) ([]byte, error)
	Set(key string, value []byte) error
	Delete(key string) error
}

// Counter supplies the atomic operations the KV API lacks.
type Counter interface {
	// IncrBy adds delta to the integer at key (missing = 0) and returns the new value.
	IncrBy(key string, delta int64) (int64, error)
	// SetNX stores value only if key is absent and reports whether it did.
	SetNX(key string, value []byte) (bool, error)
	// CompareAndSwap replaces the value at key with new only if it is still
	// old, and reports whether it did. A nil old means "key absent"; a nil
	// new deletes the key. It is what lets exactly one of several racing
	// requests win a record (a delete, a stale claim taken over).
	CompareAndSwap(key string, old, new []byte) (bool, error)
}

// UnavailableError is a failure of the store itself (Redis down, paused or
// refusing): not the caller's fault, so the API answers 503 and the client
// may retry. The Spin adapters wrap every store error but "no such key" in it.
type UnavailableError struct {
	Op  string // "get", "set", "delete", "INCRBY", ...
	Err error
}

func (e *UnavailableError) Error() string {
	return "key-value store unavailable (" + e.Op + "): " + e.Err.Error()
}
func (e *UnavailableError) Unwrap() error { return e.Err }

// Unavailable marks the error as retryable (api.IsUnavailable).
func (e *UnavailableError) Unavailable() bool { return true }

// Backend bundles a Store with the Counter that works on the same keyspace.
type Backend struct {
	Store
	Counter
	Name string // "redis" or "spin" (Spin's default store, one instance)
}

// LocalCounter emulates Counter with get-then-set on the store itself. It is
// atomic only while one spinport instance serves requests one at a time,
// which is what `spin up` with the default SQLite store gives a laptop.
type LocalCounter struct{ S Store }

func (c LocalCounter) IncrBy(key string, delta int64) (int64, error) {
	n, err := readInt(c.S, key)
	if err != nil {
		return 0, err
	}
	n += delta
	return n, c.S.Set(key, formatInt(n))
}

func (c LocalCounter) SetNX(key string, value []byte) (bool, error) {
	_, err := c.S.Get(key)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	return true, c.S.Set(key, value)
}

func (c LocalCounter) CompareAndSwap(key string, old, new []byte) (bool, error) {
	cur, err := c.S.Get(key)
	switch {
	case errors.Is(err, ErrNotFound):
		if old != nil {
			return false, nil
		}
	case err != nil:
		return false, err
	case old == nil || string(cur) != string(old):
		return false, nil
	}
	if new == nil {
		return true, c.S.Delete(key)
	}
	return true, c.S.Set(key, new)
}

// readInt reads a counter written by IncrBy (Redis INCR stores decimal text).
func readInt(s Store, key string) (int64, error) {
	b, err := s.Get(key)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, ok := parseInt(b)
	if !ok {
		return 0, errors.New("kv: counter " + key + " holds a non-integer value")
	}
	return n, nil
}

func formatInt(n int64) []byte {
	if n == 0 {
		return []byte{'0'}
	}
	var buf [20]byte
	i := len(buf)
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	for u > 0 {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return append([]byte(nil), buf[i:]...)
}

func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
