package spinhost

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// redisKV is the backend for type = "redis", laid out like Spin's Redis
// key-value provider (spin-key-value-redis): the store label is ignored,
// each key is a plain Redis string holding the value, and get-keys is
// KEYS * over the whole database. Two labels (or two apps) pointed at the
// same database therefore share one keyspace.
type redisKV struct {
	url    string
	client *redis.Client
}

func newRedisKV(url string) (*redisKV, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("invalid redis url %q: %w", url, err)
	}
	// No connection is made here: like Spin, the server only has to be up
	// when a component opens the store.
	return &redisKV{url: url, client: redis.NewClient(opts)}, nil
}

func (b *redisKV) Open(ctx context.Context, label string) (KVStore, error) {
	return &redisStore{c: b.client}, nil
}

func (b *redisKV) Summary() string { return "Redis at " + b.url }

func (b *redisKV) Close() error { return b.client.Close() }

type redisStore struct{ c *redis.Client }

func (s *redisStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := s.c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

func (s *redisStore) Set(ctx context.Context, key string, value []byte) error {
	return s.c.Set(ctx, key, value, 0).Err()
}

func (s *redisStore) Delete(ctx context.Context, key string) error {
	return s.c.Del(ctx, key).Err()
}

func (s *redisStore) Exists(ctx context.Context, key string) (bool, error) {
	n, err := s.c.Exists(ctx, key).Result()
	return n > 0, err
}

func (s *redisStore) Keys(ctx context.Context) ([]string, error) {
	keys, err := s.c.Keys(ctx, "*").Result()
	if keys == nil {
		keys = []string{}
	}
	return keys, err
}
