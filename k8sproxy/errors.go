package k8sproxy

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// APIError is a non-2xx answer of the Kubernetes API server. Reason and
// Message come from the metav1.Status object the server sent (Message is the
// server's own text); when the body was not a Status, Reason is derived from
// the HTTP status and Message holds the start of the body.
type APIError struct {
	Status  int    // HTTP status code, e.g. 404
	Reason  string // Kubernetes reason, e.g. "NotFound", "Conflict", "Forbidden", "Invalid"
	Message string // the API server's message
	Kind    string // kind of the object the request was about, e.g. "Secret"
	Name    string // name of that object ("" for lists)
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("k8sproxy: kubernetes API answered ")
	b.WriteString(strconv.Itoa(e.Status))
	if e.Reason != "" {
		b.WriteByte(' ')
		b.WriteString(e.Reason)
	}
	if e.Kind != "" {
		b.WriteString(" for ")
		b.WriteString(e.Kind)
		if e.Name != "" {
			b.WriteString(" ")
			b.WriteString(strconv.Quote(e.Name))
		}
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// UnavailableError means the API server could not be reached, or its answer
// could not be read (transport error). The API layer answers 503 for it.
type UnavailableError struct {
	Method string // HTTP method of the failed request
	Path   string // REST path (no host, no query)
	Cause  string // the transport's error text, with the token redacted
}

func (e *UnavailableError) Error() string {
	return "k8sproxy: kubernetes API unavailable: " + e.Method + " " + e.Path + ": " + e.Cause
}

// Unavailable marks the error as retryable for callers that only know the
// method (api.IsUnavailable), without importing this package.
func (e *UnavailableError) Unavailable() bool { return true }

// PolicyError means k8sproxy refused the operation itself: the kind, the
// operation or the namespace is outside what spinport may touch. The
// refused request was not sent. The API layer answers 403 (or 400) for it.
type PolicyError struct {
	Op        string // "apply", "get", "list", "delete", "read logs of"
	Kind      string
	Namespace string
	Name      string
	Reason    string // why it was refused
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	b.WriteString("k8sproxy: refused to ")
	b.WriteString(e.Op)
	b.WriteByte(' ')
	if e.Kind != "" {
		b.WriteString(e.Kind)
	} else {
		b.WriteString("object")
	}
	if e.Name != "" {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(e.Name))
	}
	if e.Namespace != "" {
		b.WriteString(" in namespace ")
		b.WriteString(strconv.Quote(e.Namespace))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// IsNotFound reports whether err is an APIError with status 404.
func IsNotFound(err error) bool { return apiStatus(err) == http.StatusNotFound }

// IsConflict reports whether err is an APIError with status 409 (Conflict or
// AlreadyExists).
func IsConflict(err error) bool { return apiStatus(err) == http.StatusConflict }

// IsUnavailable reports whether the API server could not be reached
// (*UnavailableError) or answered 502, 503 or 504.
func IsUnavailable(err error) bool {
	var u *UnavailableError
	if errors.As(err, &u) {
		return true
	}
	switch apiStatus(err) {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// IsPolicy reports whether err is a *PolicyError (the request was refused
// by k8sproxy and never sent).
func IsPolicy(err error) bool {
	var p *PolicyError
	return errors.As(err, &p)
}

func apiStatus(err error) int {
	var a *APIError
	if errors.As(err, &a) {
		return a.Status
	}
	return 0
}

// maxErrorBody bounds how much of a non-Status error body ends up in Message.
const maxErrorBody = 512

// parseAPIError turns a non-2xx answer into an *APIError. kind and name say
// what the request was about; redact removes the token from any text.
func parseAPIError(status int, body []byte, kind, name string, redact func(string) string) *APIError {
	e := &APIError{Status: status, Kind: kind, Name: name}
	if v, err := fastjson.ParseBytes(body); err == nil && string(v.GetStringBytes("kind")) == "Status" {
		e.Reason = string(v.GetStringBytes("reason"))
		e.Message = string(v.GetStringBytes("message"))
		if e.Name == "" {
			e.Name = string(v.GetStringBytes("details", "name"))
		}
	} else if len(body) > 0 {
		e.Message = clip(strings.TrimSpace(string(body)), maxErrorBody)
	}
	if e.Reason == "" {
		e.Reason = reasonFor(status)
	}
	e.Message = redact(e.Message)
	return e
}

// reasonFor maps an HTTP status to the metav1.StatusReason Kubernetes uses
// for it.
func reasonFor(status int) string {
	switch status {
	case 400:
		return "BadRequest"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "NotFound"
	case 405:
		return "MethodNotAllowed"
	case 406:
		return "NotAcceptable"
	case 409:
		return "Conflict"
	case 410:
		return "Expired"
	case 413:
		return "RequestEntityTooLarge"
	case 415:
		return "UnsupportedMediaType"
	case 422:
		return "Invalid"
	case 429:
		return "TooManyRequests"
	case 500:
		return "InternalError"
	case 503:
		return "ServiceUnavailable"
	case 504:
		return "Timeout"
	}
	if t := http.StatusText(status); t != "" {
		return strings.ReplaceAll(t, " ", "")
	}
	return "Unknown"
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
