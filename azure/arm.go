package azure

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

const (
	// DefaultEndpoint is Azure Resource Manager in the public cloud.
	DefaultEndpoint = "https://management.azure.com"

	// DefaultBudget bounds one Client.Do, retries and polling included,
	// when Client.Budget is zero. A Spin request has ~30 s on most hosts;
	// the caller's own work needs part of it.
	DefaultBudget = 20 * time.Second

	// maxBody bounds how much of an answer is read (memory is scarce in a
	// Spin instance; ARM answers here are a few KiB).
	maxBody = 1 << 20

	// firstBackoff is the wait before the first retry when ARM sent no
	// Retry-After; it doubles per attempt.
	firstBackoff = time.Second

	// defaultPollWait is the wait between polls of a long-running
	// operation when ARM sent no Retry-After.
	defaultPollWait = time.Second

	// maxAttempts and maxPolls bound loops even when the clock does not
	// move (a nil Sleep, a frozen test clock).
	maxAttempts = 8
	maxPolls    = 60

	maxErrorText = 512
)

// Doer sends one HTTP request. *http.Client satisfies it natively; in the
// .wasm use the Spin SDK's outbound HTTP client (spinhttp.NewClient()).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client sends requests to Azure Resource Manager with a bearer token. It
// retries 429 and 5xx answers (and transport errors of idempotent
// methods) while Retry-After fits in the remaining budget, and follows
// long-running operations to their end. It keeps no state between calls;
// a Client is safe for concurrent use if Token, HTTP, Sleep and Now are.
type Client struct {
	Endpoint string                 // "" means DefaultEndpoint; scheme://host[:port], no path
	Token    func() (string, error) // the ARM access token (e.g. TokenClient.Source())
	HTTP     Doer
	Sleep    func(time.Duration) // nil: never wait, so never retry (polls go back to back)
	Budget   time.Duration       // time one Do may take, waits included; 0 means DefaultBudget
	Now      func() time.Time    // nil means time.Now
}

// String keeps tokens out of %v output (the Client holds none, but its
// Token function's closure might).
func (c *Client) String() string { return "azure.Client(" + c.endpoint() + ")" }

// GoString keeps tokens out of %#v output.
func (c *Client) GoString() string { return c.String() }

// Request is one ARM call.
type Request struct {
	Method      string // GET, PUT, PATCH, POST, DELETE
	Path        string // escaped resource path, e.g. /subscriptions/…/providers/…; build it with ResourcePath
	APIVersion  string // the api-version query parameter (required by ARM)
	Body        []byte // JSON, or nil
	IfMatch     string // sent as If-Match when not empty
	IfNoneMatch string // sent as If-None-Match when not empty ("*": create only)
}

// Response is a successful (2xx) ARM answer. After a long-running
// operation it is the final answer: the resource (PUT, PATCH), the
// operation's result (POST) or an empty 200 (DELETE).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Error is a non-2xx answer of ARM, or a long-running operation that ended
// Failed or Canceled. Code and Message are Azure's own
// ({"error":{"code","message"}}), so the text says what to fix.
type Error struct {
	Status     int           // HTTP status; for a failed operation, the status that started it (201/202)
	Code       string        // ARM error code, e.g. "Conflict", "PreconditionFailed", "AuthorizationFailed"
	Message    string        // ARM's message
	RetryAfter time.Duration // from Retry-After (429/5xx), 0 when absent
	Method     string        // the request's method
	Path       string        // the request's path (no host, no query)
	Operation  string        // "Failed" or "Canceled" when a long-running operation ended so; "" otherwise
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("azure: ")
	if e.Operation != "" {
		b.WriteString("long-running operation of ")
		b.WriteString(e.Method)
		b.WriteByte(' ')
		b.WriteString(e.Path)
		b.WriteString(" ended ")
		b.WriteString(e.Operation)
	} else {
		b.WriteString("ARM answered ")
		b.WriteString(strconv.Itoa(e.Status))
		b.WriteString(" for ")
		b.WriteString(e.Method)
		b.WriteByte(' ')
		b.WriteString(e.Path)
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Unavailable() && e.RetryAfter > 0 {
		b.WriteString(" (retry after ")
		b.WriteString(e.RetryAfter.String())
		b.WriteByte(')')
	}
	return b.String()
}

// Unavailable reports whether ARM was busy or failing (429 or 5xx) and the
// retry budget ran out: the API layer (api.IsUnavailable) answers 503.
func (e *Error) Unavailable() bool {
	return e.Operation == "" && (e.Status == http.StatusTooManyRequests || e.Status >= 500)
}

// UnavailableError means ARM (or Entra ID) could not be reached, its
// answer could not be read, or a long-running operation did not finish
// within the budget. The API layer answers 503 for it.
type UnavailableError struct {
	Method string
	Path   string // no host, no query
	Cause  string // what failed, with secrets redacted
}

func (e *UnavailableError) Error() string {
	return "azure: unavailable: " + e.Method + " " + e.Path + ": " + e.Cause
}

// Unavailable marks the error as retryable (api.IsUnavailable).
func (e *UnavailableError) Unavailable() bool { return true }

// IsNotFound reports whether err is an ARM *Error with status 404.
func IsNotFound(err error) bool { return armStatus(err) == http.StatusNotFound }

// IsPreconditionFailed reports whether err is an ARM *Error with status
// 412 (If-Match or If-None-Match did not hold).
func IsPreconditionFailed(err error) bool { return armStatus(err) == http.StatusPreconditionFailed }

// armStatus uses a concrete errors.As target: under TinyGo 0.30 an
// interface-typed target matches any error.
func armStatus(err error) int {
	var e *Error
	if errors.As(err, &e) && e.Operation == "" {
		return e.Status
	}
	return 0
}

// ResourcePath joins path segments into an escaped ARM path,
// "/seg1/seg2/…". Every segment must be non-empty and hold no '/', and may
// not be "." or "..": names come from tenants, and a name must never reach
// another resource.
func ResourcePath(segments ...string) (string, error) {
	var b strings.Builder
	for _, s := range segments {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\?#") {
			return "", errors.New("azure: invalid resource path segment " + strconv.Quote(clip(s, 64)) + ": it must be non-empty and hold no / \\ ? #")
		}
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String(), nil
}

func (c *Client) endpoint() string {
	if c.Endpoint == "" {
		return DefaultEndpoint
	}
	return strings.TrimRight(c.Endpoint, "/")
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Do sends r and returns ARM's successful answer, following a
// long-running operation to its end; any other outcome is an *Error, an
// *UnavailableError or a configuration error.
func (c *Client) Do(r Request) (*Response, error) {
	if c.HTTP == nil || c.Token == nil {
		return nil, errors.New("azure: Client needs HTTP (a Doer) and Token (an access token source)")
	}
	if r.APIVersion == "" || !strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, "?#") {
		return nil, errors.New("azure: Request needs an api-version and a path that starts with / and has no query (got path " + strconv.Quote(clip(r.Path, 128)) + ")")
	}
	base, err := url.Parse(c.endpoint())
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.User != nil || (base.Path != "" && base.Path != "/") || base.RawQuery != "" {
		return nil, errors.New("azure: Client.Endpoint must be https://host[:port] with no path, got " + strconv.Quote(clip(c.Endpoint, 128)))
	}
	tok, err := c.Token()
	if err != nil {
		return nil, &tokenError{err: err}
	}
	if tok == "" {
		return nil, errors.New("azure: the token source returned an empty ARM access token")
	}
	budget := c.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	x := &exchange{c: c, base: base, token: tok, deadline: c.now().Add(budget), method: r.Method, path: r.Path}

	target := c.endpoint() + r.Path + "?api-version=" + url.QueryEscape(r.APIVersion)
	resp, err := x.send(r.Method, target, r.Body, r.IfMatch, r.IfNoneMatch)
	if err != nil {
		return nil, err
	}
	if resp.Status >= 300 {
		return nil, x.armError(resp)
	}
	if r.Method != http.MethodGet && (resp.Status == http.StatusCreated || resp.Status == http.StatusAccepted) &&
		(resp.Header.Get("Azure-AsyncOperation") != "" || resp.Header.Get("Location") != "") {
		return x.follow(target, resp)
	}
	return resp, nil
}

// tokenError wraps the token source's failure; it keeps the cause's
// Unavailable() mark (Entra ID down is a 503, a refused credential is not).
type tokenError struct{ err error }

func (e *tokenError) Error() string {
	return "azure: could not get an access token for ARM: " + e.err.Error()
}
func (e *tokenError) Unwrap() error { return e.err }

// exchange is one Do: its token, deadline and what to name in errors.
type exchange struct {
	c        *Client
	base     *url.URL
	token    string
	deadline time.Time
	method   string
	path     string
}

// send sends one request, retrying 429/5xx answers (and transport errors
// of idempotent methods) while the wait fits in the budget.
func (x *exchange) send(method, target string, body []byte, ifMatch, ifNoneMatch string) (*Response, error) {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequest(method, target, rd)
		if err != nil {
			return nil, errors.New("azure: cannot build request " + method + " " + x.path + ": " + x.redact(err.Error()))
		}
		req.Header.Set("Authorization", "Bearer "+x.token)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		hresp, err := x.c.HTTP.Do(req)
		var resp *Response
		if err == nil {
			resp, err = readResponse(hresp)
		}
		if err != nil {
			// A transport error after a PUT or DELETE is safe to repeat
			// (ARM PUT and DELETE are idempotent); a POST might have
			// happened.
			if method != http.MethodPost && x.canWait(backoff, attempt) {
				x.c.Sleep(backoff)
				backoff *= 2
				continue
			}
			return nil, &UnavailableError{Method: method, Path: x.path, Cause: x.redact(err.Error())}
		}
		if resp.Status == http.StatusTooManyRequests || resp.Status == http.StatusInternalServerError ||
			resp.Status == http.StatusBadGateway || resp.Status == http.StatusServiceUnavailable || resp.Status == http.StatusGatewayTimeout {
			wait, ok := retryAfter(resp.Header, x.c.now())
			if !ok {
				wait = backoff
			}
			if x.canWait(wait, attempt) {
				x.c.Sleep(wait)
				backoff *= 2
				continue
			}
		}
		return resp, nil
	}
}

// canWait: a Sleep exists, attempts remain and waiting d still ends
// within the budget.
func (x *exchange) canWait(d time.Duration, attempt int) bool {
	return x.c.Sleep != nil && attempt < maxAttempts && !x.c.now().Add(d).After(x.deadline)
}

// follow polls a long-running operation that answered first (201 or 202)
// until it ends, and returns its final answer.
func (x *exchange) follow(target string, first *Response) (*Response, error) {
	async, err := x.pollURL(first.Header.Get("Azure-AsyncOperation"))
	if err != nil {
		return nil, err
	}
	location, err := x.pollURL(first.Header.Get("Location"))
	if err != nil {
		return nil, err
	}
	last := first
	for polls := 0; ; polls++ {
		if polls >= maxPolls {
			return nil, &UnavailableError{Method: x.method, Path: x.path, Cause: "the long-running operation was still running after " + strconv.Itoa(maxPolls) + " polls; retry later"}
		}
		if err := x.pause(last.Header); err != nil {
			return nil, err
		}
		if async != "" {
			pr, err := x.send(http.MethodGet, async, nil, "", "")
			if err != nil {
				return nil, err
			}
			if pr.Status != http.StatusOK {
				return nil, x.armError(pr)
			}
			v, perr := fastjson.ParseBytes(pr.Body)
			if perr != nil {
				return nil, &Error{Status: pr.Status, Code: "InvalidOperationStatus", Message: "the operation status is not JSON", Method: x.method, Path: x.path}
			}
			switch status := string(v.GetStringBytes("status")); strings.ToLower(status) {
			case "succeeded":
				return x.final(target, location, pr)
			case "failed", "canceled", "cancelled":
				e := &Error{Status: first.Status, Method: x.method, Path: x.path, Operation: status,
					Code: string(v.GetStringBytes("error", "code")), Message: clip(string(v.GetStringBytes("error", "message")), maxErrorText)}
				e.Message = x.redact(e.Message)
				return nil, e
			}
			last = pr // InProgress (or any non-terminal state): poll again
			continue
		}
		// Location polling: 202 while running, then the result.
		pr, err := x.send(http.MethodGet, location, nil, "", "")
		if err != nil {
			return nil, err
		}
		switch {
		case pr.Status == http.StatusAccepted:
			last = pr
		case pr.Status >= 300:
			return nil, x.armError(pr)
		default:
			return pr, nil
		}
	}
}

// final fetches the outcome of an operation whose status said Succeeded:
// the resource after PUT/PATCH, the Location's result after POST, nothing
// after DELETE.
func (x *exchange) final(target, location string, status *Response) (*Response, error) {
	var u string
	switch x.method {
	case http.MethodPut, http.MethodPatch:
		u = target
	case http.MethodPost:
		u = location
	}
	if u == "" {
		return &Response{Status: http.StatusOK, Header: status.Header}, nil
	}
	r, err := x.send(http.MethodGet, u, nil, "", "")
	if err != nil {
		return nil, err
	}
	if r.Status >= 300 {
		return nil, x.armError(r)
	}
	return r, nil
}

// pollURL checks that a polling URL ARM gave points back at the endpoint:
// the bearer token goes with every poll and must not go anywhere else.
func (x *exchange) pollURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := x.base.Parse(raw)
	if err != nil || u.Scheme != x.base.Scheme || !strings.EqualFold(u.Host, x.base.Host) || u.User != nil {
		return "", &Error{Status: http.StatusBadGateway, Code: "InvalidPollingURL", Method: x.method, Path: x.path,
			Message: "ARM answered with a polling URL outside " + x.base.Scheme + "://" + x.base.Host + "; the request was not followed"}
	}
	return u.String(), nil
}

// pause waits before the next poll: Retry-After of the last answer, or
// defaultPollWait; past the budget it gives up.
func (x *exchange) pause(h http.Header) error {
	wait, ok := retryAfter(h, x.c.now())
	if !ok {
		wait = defaultPollWait
	}
	if x.c.now().Add(wait).After(x.deadline) {
		return &UnavailableError{Method: x.method, Path: x.path, Cause: "the long-running operation did not finish within the time budget; retry later (it continues in Azure)"}
	}
	if x.c.Sleep != nil && wait > 0 {
		x.c.Sleep(wait)
	}
	return nil
}

// armError turns a non-2xx answer into an *Error. ARM's envelope is
// {"error":{"code","message"}}; some resource providers answer the inner
// object alone.
func (x *exchange) armError(resp *Response) *Error {
	e := &Error{Status: resp.Status, Method: x.method, Path: x.path}
	if resp.Status == http.StatusTooManyRequests || resp.Status >= 500 {
		e.RetryAfter, _ = retryAfter(resp.Header, x.c.now())
	}
	if v, err := fastjson.ParseBytes(resp.Body); err == nil && v.Type() == fastjson.TypeObject {
		inner := v
		if v.Get("error") != nil && v.Get("error").Type() == fastjson.TypeObject {
			inner = v.Get("error")
		}
		e.Code = string(inner.GetStringBytes("code"))
		e.Message = string(inner.GetStringBytes("message"))
	} else if len(bytes.TrimSpace(resp.Body)) > 0 {
		e.Message = strings.TrimSpace(string(resp.Body))
	}
	if e.Code == "" {
		e.Code = strings.ReplaceAll(http.StatusText(resp.Status), " ", "")
	}
	e.Message = x.redact(clip(e.Message, maxErrorText))
	return e
}

// redact removes the bearer token from text that leaves the package.
func (x *exchange) redact(s string) string {
	if x.token != "" {
		s = strings.ReplaceAll(s, x.token, "[redacted]")
	}
	return s
}

// readResponse reads at most maxBody bytes of the answer.
func readResponse(hresp *http.Response) (*Response, error) {
	defer hresp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(hresp.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, errors.New("the answer is larger than " + strconv.Itoa(maxBody) + " bytes")
	}
	h := hresp.Header
	if h == nil {
		h = http.Header{}
	}
	return &Response{Status: hresp.StatusCode, Header: h, Body: b}, nil
}

// retryAfter reads how long ARM asked to wait: Retry-After in seconds or
// as an HTTP date, or retry-after-ms / x-ms-retry-after-ms (Azure's
// millisecond variants).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	for _, k := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 && n < 1<<31 {
				return time.Duration(n) * time.Millisecond, true
			}
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 1<<31 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
