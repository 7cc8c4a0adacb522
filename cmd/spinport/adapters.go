//go:build tinygo

package main

import (
	"errors"
	"fmt"
	"strings"

	spinkv "github.com/fermyon/spin/sdk/go/v2/kv"
	"github.com/fermyon/spin/sdk/go/v2/redis"
	"github.com/fermyon/spin/sdk/go/v2/variables"
	"github.com/spinport/spinport/kv"
)

// spinVariables reads Spin variables, remembering the first failure so a
// misconfiguration is reported once, naming the variable.
type spinVariables struct{ err error }

func (v *spinVariables) get(name string) string {
	s, err := variables.Get(name)
	if err != nil && v.err == nil {
		v.err = fmt.Errorf("variable %s: %v (set SPIN_VARIABLE_%s or the SpinApp variable)", name, err, strings.ToUpper(name))
	}
	return s
}

// spinStore adapts the Spin KV store to kv.Store, opening it on first use.
type spinStore struct{ s *spinkv.Store }

func (st *spinStore) store() (*spinkv.Store, error) {
	if st.s == nil {
		s, err := spinkv.OpenStore("default")
		if err != nil {
			return nil, down("open store \"default\"", err)
		}
		st.s = s
	}
	return st.s, nil
}

// down marks a store failure as the store's, not the request's: every KV
// error but "no such key" means the store (Redis) is down, paused or
// refusing, and the API answers 503 for it.
func down(op string, err error) error {
	if err == nil {
		return nil
	}
	return &kv.UnavailableError{Op: op, Err: err}
}

func (st *spinStore) Get(key string) ([]byte, error) {
	s, err := st.store()
	if err != nil {
		return nil, err
	}
	v, err := s.Get(key)
	if err != nil && err.Error() == "no such key" {
		return nil, kv.ErrNotFound
	}
	return v, down("get", err)
}

func (st *spinStore) Set(key string, value []byte) error {
	s, err := st.store()
	if err != nil {
		return err
	}
	return down("set", s.Set(key, value))
}

func (st *spinStore) Delete(key string) error {
	s, err := st.store()
	if err != nil {
		return err
	}
	return down("delete", s.Delete(key))
}

// redisCounter supplies INCRBY and SET NX through Spin's outbound Redis, on
// the same Redis database the KV store uses (Spin's Redis KV provider keeps
// keys as plain strings, so both see the same keys).
type redisCounter struct{ c *redis.Client }

func (r redisCounter) IncrBy(key string, delta int64) (int64, error) {
	res, err := r.c.Execute("INCRBY", key, delta)
	if err != nil {
		return 0, down("redis INCRBY", err)
	}
	if len(res) != 1 || res[0].Kind != redis.ResultKindInt64 {
		return 0, errors.New("redis INCRBY: unexpected reply")
	}
	n, _ := res[0].Val.(int64)
	return n, nil
}

// setNX runs SET NX in a script: Spin's outbound Redis drops "+OK" and nil
// replies from execute results, so a plain SET NX cannot tell the two apart.
const setNX = "if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 1 else return 0 end"

func (r redisCounter) SetNX(key string, value []byte) (bool, error) {
	return r.evalBool("redis SET NX", setNX, key, value)
}

// compareAndSwap: ARGV[1] "1" = the key must be absent, else it must hold
// ARGV[2]; ARGV[3] "1" = delete, else set ARGV[4]. Spin's Redis key-value
// provider stores values as plain strings, so GET here sees exactly the
// bytes the KV API wrote.
const compareAndSwap = `local v = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then if v then return 0 end elseif v ~= ARGV[2] then return 0 end
if ARGV[3] == '1' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[4]) end
return 1`

func (r redisCounter) CompareAndSwap(key string, old, new []byte) (bool, error) {
	// Unused arguments are "-", never empty: the SDK takes &value[0] of a
	// binary argument, which traps the instance for an empty one.
	absent, del := "0", "0"
	if len(old) == 0 {
		absent, old = "1", []byte("-")
	}
	if len(new) == 0 {
		del, new = "1", []byte("-")
	}
	return r.evalBool("redis compare-and-swap", compareAndSwap, key, absent, old, del, new)
}

func (r redisCounter) evalBool(op, script, key string, args ...any) (bool, error) {
	res, err := r.c.Execute("EVAL", append([]any{script, 1, key}, args...)...)
	if err != nil {
		return false, down(op, err)
	}
	if len(res) != 1 || res[0].Kind != redis.ResultKindInt64 {
		return false, errors.New(op + ": unexpected reply")
	}
	n, _ := res[0].Val.(int64)
	return n == 1, nil
}

// readIndex fetches a page of an index in one round trip (kv.IndexReader;
// the same walk as kv's scanIndex for kv.Memory). KEYS[1] is the counter;
// ARGV: entry key prefix, record key prefix ("-": the entries are the
// records), the counter's value (-1: read KEYS[1]), "1" for descending,
// from, probes, want. Spin's outbound Redis up to 3.4 drops nil replies
// and flattens nested arrays, so the reply is one string in which every
// field carries its length (kv.DecodeIndexPage): the counter (raw), the
// last number probed, then per found entry its number, [its name,] its
// value. One string is also one allocation in the guest, not three per
// entry.
const readIndex = `local function f(s) return #s .. ':' .. s end
local raw, last = ARGV[3], tonumber(ARGV[3])
if last < 0 then
  raw = redis.call('GET', KEYS[1]) or '0'
  last = tonumber(raw)
  if not last or last ~= math.floor(last) then return f(raw) .. f('0') end
end
local entry, item, desc = ARGV[1], ARGV[2], ARGV[4] == '1'
local n, probes, want = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if desc and (n <= 0 or n > last + 1) then n = last + 1 end
local out, p, found = {}, 0, 0
local scanned = n
while p < probes and found < want do
  if desc then n = n - 1 if n < 1 then break end
  else n = n + 1 if n > last then break end end
  p = p + 1
  scanned = n
  local num = string.format('%d', n)
  local v = redis.call('GET', entry .. num)
  if v then
    if item == '-' then
      out[#out+1] = f(num) .. f(v) found = found + 1
    else
      local rec = redis.call('GET', item .. v)
      if rec then out[#out+1] = f(num) .. f(v) .. f(rec) found = found + 1 end
    end
  end
end
return f(raw) .. f(string.format('%d', scanned)) .. table.concat(out)`

func (r redisCounter) ReadIndex(q kv.IndexQuery) (kv.IndexPage, error) {
	const op = "redis read index"
	// Binary arguments are never empty (see CompareAndSwap).
	counter, last, item, desc := q.Counter, int64(-1), q.Item, "0"
	if counter == "" {
		counter, last = q.Entry, q.Last
	}
	if item == "" {
		item = "-"
	}
	if q.Desc {
		desc = "1"
	}
	res, err := r.c.Execute("EVAL", readIndex, 1, counter, q.Entry, item, last, desc, q.From, q.Probes, q.Want)
	if err != nil {
		return kv.IndexPage{}, down(op, err)
	}
	if len(res) != 1 || res[0].Kind != redis.ResultKindBinary {
		return kv.IndexPage{}, errors.New(op + ": unexpected reply")
	}
	b, _ := res[0].Val.([]byte)
	return kv.DecodeIndexPage(b, q.Item != "")
}

func openBackend(name, redisURL string) (kv.Backend, error) {
	st := &spinStore{}
	switch name {
	case "redis":
		return kv.Backend{Store: st, Counter: redisCounter{redis.NewClient(redisURL)}, Name: "redis"}, nil
	case "spin", "":
		return kv.Backend{Store: st, Counter: kv.LocalCounter{S: st}, Name: "spin"}, nil
	}
	return kv.Backend{}, fmt.Errorf("kv_backend is %q: use \"spin\" (Spin's default store, one instance) or \"redis\" (with redis_url)", name)
}
