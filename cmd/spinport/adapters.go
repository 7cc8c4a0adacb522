//go:build tinygo

package main

import (
	"errors"
	"fmt"

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
		v.err = fmt.Errorf("variable %s: %v (set SPIN_VARIABLE_%s or the SpinApp variable)", name, err, upper(name))
	}
	return s
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// spinStore adapts the Spin KV store to kv.Store, opening it on first use.
type spinStore struct{ s *spinkv.Store }

func (st *spinStore) store() (*spinkv.Store, error) {
	if st.s == nil {
		s, err := spinkv.OpenStore("default")
		if err != nil {
			return nil, fmt.Errorf("open KV store \"default\": %w", err)
		}
		st.s = s
	}
	return st.s, nil
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
	return v, err
}

func (st *spinStore) Set(key string, value []byte) error {
	s, err := st.store()
	if err != nil {
		return err
	}
	return s.Set(key, value)
}

func (st *spinStore) Delete(key string) error {
	s, err := st.store()
	if err != nil {
		return err
	}
	return s.Delete(key)
}

// redisCounter supplies INCRBY and SET NX through Spin's outbound Redis, on
// the same Redis database the KV store uses (Spin's Redis KV provider keeps
// keys as plain strings, so both see the same keys).
type redisCounter struct{ c *redis.Client }

func (r redisCounter) IncrBy(key string, delta int64) (int64, error) {
	res, err := r.c.Execute("INCRBY", key, delta)
	if err != nil {
		return 0, fmt.Errorf("redis INCRBY: %w", err)
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
	res, err := r.c.Execute("EVAL", setNX, 1, key, value)
	if err != nil {
		return false, fmt.Errorf("redis SET NX: %w", err)
	}
	if len(res) != 1 || res[0].Kind != redis.ResultKindInt64 {
		return false, errors.New("redis SET NX: unexpected reply")
	}
	n, _ := res[0].Val.(int64)
	return n == 1, nil
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
