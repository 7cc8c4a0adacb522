package spinhost

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// A minimal RESP2 client for outbound-redis. go-redis (used for the
// key-value backend) does not tell a status reply ("+OK") from a bulk
// string ("$2\r\nOK"), but Spin's execute does: a bulk string becomes a
// binary result, a status becomes a status result, and "+OK" and nil are
// dropped from the result list altogether. Speaking RESP directly keeps
// those semantics exact. Spin also opens a new connection for every
// outbound-redis call of the Spin 1 interface, which this does too.

type respKind byte

const (
	respStatus  respKind = '+'
	respError   respKind = '-'
	respInteger respKind = ':'
	respBulk    respKind = '$'
	respArray   respKind = '*'
)

type respValue struct {
	kind  respKind
	isNil bool // $-1 or *-1
	str   string
	bulk  []byte
	num   int64
	arr   []respValue
}

// redisServerError is a "-ERR ..." reply.
type redisServerError string

func (e redisServerError) Error() string { return string(e) }

// respConn is one connection to a Redis server.
type respConn struct {
	c    net.Conn
	r    *bufio.Reader
	stop func() bool // unregisters the context watch
}

// dialRedis connects to a redis:// or rediss:// address, authenticates and
// selects the database the URL names. Like Spin, it has no timeout of its
// own: ctx bounds everything (connect, TLS handshake, AUTH, SELECT and,
// until Close, every later command), and when ctx is done the connection's
// pending I/O fails at once.
//
// roots are the CA certificates rediss:// trusts (Options.CABundleFile);
// nil means the system roots.
func dialRedis(ctx context.Context, address string, roots *x509.CertPool) (*respConn, error) {
	opts, err := parseRedisURL(address)
	if err != nil {
		return nil, err
	}
	if opts.TLSConfig != nil {
		opts.TLSConfig.RootCAs = roots
	}
	d := net.Dialer{}
	var c net.Conn
	if opts.TLSConfig != nil {
		td := tls.Dialer{NetDialer: &d, Config: opts.TLSConfig}
		c, err = td.DialContext(ctx, "tcp", opts.Addr)
	} else {
		c, err = d.DialContext(ctx, "tcp", opts.Addr)
	}
	if err != nil {
		return nil, err
	}
	conn := &respConn{c: c, r: bufio.NewReader(c)}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	// Cancellation has no deadline to set up front: unblock the I/O when it
	// happens.
	conn.stop = context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	if opts.Password != "" {
		args := [][]byte{[]byte("AUTH")}
		if opts.Username != "" {
			args = append(args, []byte(opts.Username))
		}
		args = append(args, []byte(opts.Password))
		if _, err := conn.do(args...); err != nil {
			conn.Close()
			return nil, fmt.Errorf("AUTH: %w", err)
		}
	}
	if opts.DB != 0 {
		if _, err := conn.do([]byte("SELECT"), []byte(strconv.Itoa(opts.DB))); err != nil {
			conn.Close()
			return nil, fmt.Errorf("SELECT %d: %w", opts.DB, err)
		}
	}
	return conn, nil
}

func (c *respConn) Close() error {
	if c.stop != nil {
		c.stop()
	}
	return c.c.Close()
}

// do sends one command and reads its reply; an error reply is an error.
func (c *respConn) do(args ...[]byte) (respValue, error) {
	var buf []byte
	buf = append(buf, '*')
	buf = strconv.AppendInt(buf, int64(len(args)), 10)
	buf = append(buf, '\r', '\n')
	for _, a := range args {
		buf = append(buf, '$')
		buf = strconv.AppendInt(buf, int64(len(a)), 10)
		buf = append(buf, '\r', '\n')
		buf = append(buf, a...)
		buf = append(buf, '\r', '\n')
	}
	if _, err := c.c.Write(buf); err != nil {
		return respValue{}, err
	}
	v, err := c.read()
	if err != nil {
		return respValue{}, err
	}
	if v.kind == respError {
		return respValue{}, redisServerError(v.str)
	}
	return v, nil
}

func (c *respConn) line() (string, error) {
	l, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(l) < 2 || l[len(l)-2] != '\r' {
		return "", errors.New("redis protocol error: line not terminated by CRLF")
	}
	return l[:len(l)-2], nil
}

const maxRESPLength = 512 << 20 // Redis' own limit for a bulk string

func (c *respConn) read() (respValue, error) {
	l, err := c.line()
	if err != nil {
		return respValue{}, err
	}
	if l == "" {
		return respValue{}, errors.New("redis protocol error: empty reply line")
	}
	kind, rest := respKind(l[0]), l[1:]
	switch kind {
	case respStatus, respError:
		return respValue{kind: kind, str: rest}, nil
	case respInteger:
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return respValue{}, fmt.Errorf("redis protocol error: bad integer %q", rest)
		}
		return respValue{kind: kind, num: n}, nil
	case respBulk:
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || n < -1 || n > maxRESPLength {
			return respValue{}, fmt.Errorf("redis protocol error: bad bulk length %q", rest)
		}
		if n == -1 {
			return respValue{kind: kind, isNil: true}, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, b); err != nil {
			return respValue{}, err
		}
		return respValue{kind: kind, bulk: b[:n]}, nil
	case respArray:
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || n < -1 || n > 1<<24 {
			return respValue{}, fmt.Errorf("redis protocol error: bad array length %q", rest)
		}
		if n == -1 {
			return respValue{kind: kind, isNil: true}, nil
		}
		arr := make([]respValue, n)
		for i := range arr {
			if arr[i], err = c.read(); err != nil {
				return respValue{}, err
			}
		}
		return respValue{kind: kind, arr: arr}, nil
	}
	return respValue{}, fmt.Errorf("redis protocol error: unexpected reply type %q", l[0])
}

// redisCommand opens a connection, runs one command and closes it. timeout
// (Options.StoreTimeout) bounds the whole call, connecting included; 0
// means no bound but ctx, as in Spin.
func redisCommand(ctx context.Context, address string, timeout time.Duration, roots *x509.CertPool, args ...[]byte) (respValue, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	v, err := redisCommandCtx(ctx, address, roots, args...)
	var srvErr redisServerError
	switch {
	case err == nil || errors.As(err, &srvErr):
	case timeout > 0 && deadlinePassed(ctx):
		err = fmt.Errorf("outbound redis call timed out after %s (StoreTimeout): %w", timeout, err)
	case ctx.Err() != nil:
		err = fmt.Errorf("%w: %v", ctx.Err(), err)
	}
	return v, err
}

func redisCommandCtx(ctx context.Context, address string, roots *x509.CertPool, args ...[]byte) (respValue, error) {
	c, err := dialRedis(ctx, address, roots)
	if err != nil {
		return respValue{}, err
	}
	defer c.Close()
	return c.do(args...)
}
