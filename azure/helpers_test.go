package azure

// Test helpers: standard library only and no sockets, so the tests also
// run compiled by TinyGo under WASI (hack/tinygo-test.sh ./azure). TinyGo's
// t.Fatal does not stop the test: every Fatal is followed by a return.

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// handlerDoer serves requests with an http.Handler in-process.
type handlerDoer struct {
	mu   sync.Mutex
	h    http.Handler
	reqs []seen
}

type seen struct {
	Method, Host, Path, RawQuery string
	Header                       http.Header
	Body                         string
}

func (d *handlerDoer) Do(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	d.mu.Lock()
	d.reqs = append(d.reqs, seen{r.Method, r.URL.Host, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
	d.mu.Unlock()
	rec := &recorder{header: http.Header{}}
	d.h.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{StatusCode: rec.status, Header: rec.header, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())), Request: r}, nil
}

func (d *handlerDoer) requests() []seen {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]seen(nil), d.reqs...)
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// errDoer fails every request like a broken network.
type errDoer struct{ n int }

func (d *errDoer) Do(r *http.Request) (*http.Response, error) {
	d.n++
	return nil, errors.New("dial tcp: connection refused")
}

// fakeClock is a clock that only Sleep moves.
type fakeClock struct {
	t      time.Time
	slept  []time.Duration
	asleep time.Duration
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { return c.t }
func (c *fakeClock) Sleep(d time.Duration) {
	c.slept = append(c.slept, d)
	c.asleep += d
	c.t = c.t.Add(d)
}

const testToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-arm-token.sig"

func staticToken() (string, error) { return testToken, nil }

func newARM(h http.HandlerFunc, clk *fakeClock) (*Client, *handlerDoer) {
	d := &handlerDoer{h: h}
	c := &Client{Endpoint: "https://management.example", Token: staticToken, HTTP: d, Budget: 30 * time.Second}
	if clk != nil {
		c.Now, c.Sleep = clk.Now, clk.Sleep
	}
	return c, d
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
