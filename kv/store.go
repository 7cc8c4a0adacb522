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

// IndexReader is an optional capability of a Backend's Store or Counter:
// reading a page of an index (a Collection's slots and their records, a
// Log's entries) in one round trip instead of one key at a time. The Redis
// backend implements it with a script (cmd/spinport), Memory natively;
// Spin's default store has no batching, and Collection.List and Log.Newest
// then read key by key. Either way they decide what is listed themselves:
// a reader only fetches.
type IndexReader interface {
	ReadIndex(q IndexQuery) (IndexPage, error)
}

// IndexQuery names the keys of an index and the numbers to probe.
//
// Ascending, the reader probes From+1, From+2, ... up to the counter;
// descending, From-1, From-2, ... down to 1, where From 0 or above the
// counter means counter+1 (the newest first). It stops after Probes numbers
// or once it has found Want entries, whichever comes first.
type IndexQuery struct {
	Counter string // key of the counter (the highest number handed out); "": use Last
	Last    int64  // the counter's value when Counter is "" (a page's later reads)
	Entry   string // entry N is the key Entry+N (N in decimal)
	Item    string // if not "", entry N holds a name and its record is the key Item+name
	Desc    bool
	From    int64
	Probes  int64
	Want    int64
}

// IndexPage is what a reader found, in probe order.
type IndexPage struct {
	// Counter is the counter's raw value ("0" when absent), or, for a
	// query with Counter "", Last in decimal. The caller parses it.
	Counter []byte
	// Scanned is the last number probed, or From if none was (for a
	// descending query from the counter: counter+1). A page's next read
	// starts From there.
	Scanned int64
	// Entries are the numbers whose key exists (with Item: and whose
	// record exists too), in probe order.
	Entries []IndexEntry
}

// IndexEntry is one found entry: with IndexQuery.Item, Name is the entry's
// value and Value the record's; without, Value is the entry's value.
type IndexEntry struct {
	N     int64
	Name  []byte
	Value []byte
}

// indexReader returns the backend's IndexReader, if it has one.
func (b Backend) indexReader() IndexReader {
	if r, ok := b.Counter.(IndexReader); ok {
		return r
	}
	if r, ok := b.Store.(IndexReader); ok {
		return r
	}
	return nil
}

// errIndexReader is a reader's answer that does not fit its query.
var errIndexReader = errors.New("kv: index reader returned entries outside the probed range")

// DecodeIndexPage reads an IndexPage from the one string the Redis
// backend's script returns (one binary result whatever Spin's outbound
// Redis does with nil and nested replies, and one guest allocation): a
// sequence of fields, each its length in decimal, ":", then its bytes.
// The fields are the counter's raw value, the last number probed, then per
// entry its number, its name if the query has an Item prefix, and its value.
func DecodeIndexPage(b []byte, withItem bool) (IndexPage, error) {
	bad := errors.New("kv: malformed index page")
	var fields [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && i < 10 && b[i] != ':' {
			i++
		}
		n, ok := parseInt(b[:i])
		if i == len(b) || b[i] != ':' || !ok || n < 0 || n > int64(len(b)-i-1) {
			return IndexPage{}, bad
		}
		fields = append(fields, b[i+1:i+1+int(n)])
		b = b[i+1+int(n):]
	}
	width := 2
	if withItem {
		width = 3
	}
	if len(fields) < 2 || (len(fields)-2)%width != 0 {
		return IndexPage{}, bad
	}
	page := IndexPage{Counter: fields[0]}
	var ok bool
	if page.Scanned, ok = parseInt(fields[1]); !ok {
		return IndexPage{}, bad
	}
	rest := fields[2:]
	page.Entries = make([]IndexEntry, 0, len(rest)/width)
	for i := 0; i < len(rest); i += width {
		var e IndexEntry
		if e.N, ok = parseInt(rest[i]); !ok {
			return IndexPage{}, bad
		}
		if withItem {
			e.Name = rest[i+1]
		}
		e.Value = rest[i+width-1]
		page.Entries = append(page.Entries, e)
	}
	return page, nil
}
