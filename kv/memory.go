package kv

import (
	"strconv"
	"sync"
)

// Memory is an in-process Store and Counter for tests and benchmarks. It is
// safe for concurrent use, so concurrency tests can run against it natively.
type Memory struct {
	mu   sync.Mutex
	data map[string][]byte
	ops  int64 // Store and Counter calls, for KV-operation benchmarks
}

// OpCount reports how many Store and Counter calls were made.
func (m *Memory) OpCount() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

func NewMemory() *Memory { return &Memory{data: map[string][]byte{}} }

// Backend returns the Memory as a Backend named name.
func (m *Memory) Backend() Backend { return Backend{Store: m, Counter: m, Name: "memory"} }

func (m *Memory) Get(key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	v, ok := m.data[key]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (m *Memory) Set(key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	m.data[key] = append([]byte(nil), value...)
	return nil
}

func (m *Memory) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	delete(m.data, key)
	return nil
}

func (m *Memory) IncrBy(key string, delta int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	n, _ := parseInt(m.data[key])
	n += delta
	m.data[key] = formatInt(n)
	return n, nil
}

func (m *Memory) SetNX(key string, value []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	if _, ok := m.data[key]; ok {
		return false, nil
	}
	m.data[key] = append([]byte(nil), value...)
	return true, nil
}

func (m *Memory) CompareAndSwap(key string, old, new []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	cur, ok := m.data[key]
	if (old == nil) != !ok || (ok && string(cur) != string(old)) {
		return false, nil
	}
	if new == nil {
		delete(m.data, key)
	} else {
		m.data[key] = append([]byte(nil), new...)
	}
	return true, nil
}

// Len reports how many keys are stored.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.data)
}

// Keys returns a copy of all keys (tests only; production code never lists keys).
func (m *Memory) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.data))
	for k := range m.data {
		keys = append(keys, k)
	}
	return keys
}

// ReadIndex implements IndexReader natively, as one operation (the Redis
// backend's script is one round trip too).
func (m *Memory) ReadIndex(q IndexQuery) (IndexPage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	return scanIndex(func(key string) ([]byte, bool) {
		v, ok := m.data[key]
		return append([]byte(nil), v...), ok
	}, q), nil
}

// scanIndex answers q from get, as the Redis script in cmd/spinport does.
func scanIndex(get func(key string) ([]byte, bool), q IndexQuery) IndexPage {
	var last int64
	var page IndexPage
	if q.Counter == "" {
		last = q.Last
		page.Counter = formatInt(last)
	} else {
		raw, ok := get(q.Counter)
		if !ok {
			raw = []byte{'0'}
		}
		page.Counter = raw
		n, ok := parseInt(raw)
		if !ok {
			return page // the caller reports the counter
		}
		last = n
	}
	n := q.From
	if q.Desc && (n <= 0 || n > last+1) {
		n = last + 1
	}
	page.Scanned = n
	for p, found := int64(0), int64(0); p < q.Probes && found < q.Want; p++ {
		if q.Desc {
			n--
			if n < 1 {
				break
			}
		} else {
			n++
			if n > last {
				break
			}
		}
		page.Scanned = n
		v, ok := get(q.Entry + strconv.FormatInt(n, 10))
		if !ok {
			continue
		}
		e := IndexEntry{N: n, Value: v}
		if q.Item != "" {
			rec, ok := get(q.Item + string(v))
			if !ok {
				continue
			}
			e.Name, e.Value = v, rec
		}
		page.Entries = append(page.Entries, e)
		found++
	}
	return page
}
