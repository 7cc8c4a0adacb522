package spinhost

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisKV is the backend for type = "redis", laid out like Spin's Redis
// key-value provider (spin-key-value-redis): the store label is ignored,
// each key is a plain Redis string holding the value, and get-keys is
// KEYS * over the whole database. Two labels (or two apps) pointed at the
// same database therefore share one keyspace.
//
// Like Spin's provider (redis-rs), the client has no timeouts and no
// retries of its own: a call waits for the server for as long as the
// request lives. A call ends early only when its context is done: the
// client of the incoming request went away, or Options.StoreTimeout (which
// kvManager applies as a per-call deadline) ran out.
type redisKV struct {
	url    string
	client *redis.Client
}

// noPoolTimeout stands for "wait as long as the context allows" for a free
// pooled connection; go-redis would otherwise give up after 30 s.
const noPoolTimeout = 100 * 365 * 24 * time.Hour

func newRedisKV(rawURL string, roots *x509.CertPool) (*redisKV, error) {
	opts, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.TLSConfig != nil {
		opts.TLSConfig.RootCAs = roots
	}
	// go-redis defaults (dial 5 s, read/write 3 s, 3 retries) turn a
	// stalled server into an error after ~10 s; Spin has none of them.
	opts.ReadTimeout = -1  // no deadline but the context's
	opts.WriteTimeout = -1 // likewise
	opts.MaxRetries = -1   // no retries
	opts.ContextTimeoutEnabled = true
	opts.PoolTimeout = noPoolTimeout
	opts.Dialer = redisDialer(opts.TLSConfig)
	// No connection is made here: like Spin, the server only has to be up
	// when a component opens the store.
	return &redisKV{url: rawURL, client: redis.NewClient(opts)}, nil
}

// redisDialer connects with no timeout but the OS's and the context's.
// (go-redis's own dialer has a 5 s default and, for rediss://, ignores the
// context during the TLS handshake.)
func redisDialer(tlsConfig *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{KeepAlive: 5 * time.Minute}
		if tlsConfig == nil {
			return d.DialContext(ctx, network, addr)
		}
		td := &tls.Dialer{NetDialer: d, Config: tlsConfig}
		return td.DialContext(ctx, network, addr)
	}
}

// parseRedisURL is redis.ParseURL with errors that never show the password:
// url.Parse quotes the whole URL, user info included, and a password that
// is not escaped properly can spill into the parts go-redis quotes (port,
// database number), so for such URLs only the redacted URL is shown.
func parseRedisURL(raw string) (*redis.Options, error) {
	opts, err := redis.ParseURL(raw)
	if err == nil {
		return opts, nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if u, perr := url.Parse(raw); strings.Contains(raw, "@") && (perr != nil || u.User == nil) {
		err = errors.New("malformed URL (details hidden: it may contain a password)")
	}
	return nil, fmt.Errorf("invalid redis url %q: %v", withoutPassword(raw), err)
}

func (b *redisKV) Open(ctx context.Context, label string) (KVStore, error) {
	return &redisStore{c: b.client}, nil
}

func (b *redisKV) Summary() string { return "Redis at " + withoutPassword(b.url) }

func (b *redisKV) Close() error { return b.client.Close() }

type redisStore struct{ c *redis.Client }

// untilDone runs fn and returns its result, or ctx's error as soon as ctx
// is done. go-redis honours a context's deadline (ContextTimeoutEnabled)
// but not its cancellation while it waits for a reply, so without this a
// request whose client went away would stay blocked on a stalled server.
// The abandoned command completes or fails on its own connection later,
// much as a dropped redis-rs future leaves its reply to be discarded.
func untilDone[T any](ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	if ctx.Done() == nil {
		return fn(ctx)
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn(ctx)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

type getResult struct {
	v  []byte
	ok bool
}

func (s *redisStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	r, err := untilDone(ctx, func(ctx context.Context) (getResult, error) {
		v, err := s.c.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			return getResult{}, nil
		}
		if err != nil {
			return getResult{}, err
		}
		return getResult{v, true}, nil
	})
	return r.v, r.ok, err
}

func (s *redisStore) Set(ctx context.Context, key string, value []byte) error {
	_, err := untilDone(ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.c.Set(ctx, key, value, 0).Err()
	})
	return err
}

func (s *redisStore) Delete(ctx context.Context, key string) error {
	_, err := untilDone(ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.c.Del(ctx, key).Err()
	})
	return err
}

func (s *redisStore) Exists(ctx context.Context, key string) (bool, error) {
	return untilDone(ctx, func(ctx context.Context) (bool, error) {
		n, err := s.c.Exists(ctx, key).Result()
		return n > 0, err
	})
}

func (s *redisStore) Keys(ctx context.Context) ([]string, error) {
	return untilDone(ctx, func(ctx context.Context) ([]string, error) {
		keys, err := s.c.Keys(ctx, "*").Result()
		if keys == nil {
			keys = []string{}
		}
		return keys, err
	})
}
