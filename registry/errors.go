package registry

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// NotFoundError means the registry has no such manifest, tag, repository
// or blob (404). Ref names what was asked for, e.g. ghcr.io/acme/web:v1.
type NotFoundError struct {
	Ref  string // the reference, or repo@digest for a blob
	What string // "manifest", "blob"
	Code string // the registry's error code, e.g. MANIFEST_UNKNOWN, NAME_UNKNOWN ("" if none)
}

func (e *NotFoundError) Error() string {
	s := "registry: " + e.Ref + " not found"
	if e.What == "blob" {
		s = "registry: blob " + e.Ref + " not found"
	}
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.What != "blob" {
		s += ": check the repository and tag, and that it was pushed (`spin registry push " + e.Ref + "`)"
	}
	return s
}

// AuthError means the registry refused access: 401 or 403 after the
// authentication this package could do (an anonymous token, or the
// caller's credentials), or the token service refused them. It is not
// retryable: the credentials or the registry's permissions must change.
type AuthError struct {
	Registry        string
	Repository      string
	Status          int  // 401 or 403 (from the registry or its token service)
	WithCredentials bool // whether credentials were sent (false: anonymous)
	Detail          string
}

func (e *AuthError) Error() string {
	var b strings.Builder
	b.WriteString("registry: ")
	if e.WithCredentials {
		b.WriteString("registry refused credentials for ")
	} else {
		b.WriteString("registry refused anonymous access to ")
	}
	b.WriteString(e.Registry)
	b.WriteByte('/')
	b.WriteString(e.Repository)
	b.WriteString(" (")
	b.WriteString(strconv.Itoa(e.Status))
	b.WriteByte(')')
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.WithCredentials {
		b.WriteString(": check the username, the password or token, and that it may pull this repository")
	} else {
		b.WriteString(": the repository is private or missing; give pull credentials for " + e.Registry)
	}
	return b.String()
}

// UnavailableError means the registry (or its token service) could not be
// reached, answered 5xx or 429, or its answer could not be read. The API
// layer answers 503 for it (api.IsUnavailable).
type UnavailableError struct {
	Registry   string
	Op         string // e.g. "HEAD /v2/acme/web/manifests/v1", "token"
	Status     int    // 0 for transport errors
	RetryAfter string // the Retry-After header, if any
	Cause      string // what failed; never credentials or tokens
}

func (e *UnavailableError) Error() string {
	s := "registry: " + e.Registry + " unavailable: " + e.Op + ": "
	if e.Status != 0 {
		s += "answered " + strconv.Itoa(e.Status)
		if e.Cause != "" {
			s += ": "
		}
	}
	s += e.Cause
	if e.RetryAfter != "" {
		s += " (retry after " + e.RetryAfter + ")"
	}
	return s
}

// Unavailable marks the error as retryable (api.IsUnavailable).
func (e *UnavailableError) Unavailable() bool { return true }

// ProtocolError means the registry answered something this package cannot
// use: a status it should not send, a malformed manifest, content whose
// digest does not match, content larger than the bound. Not retryable.
type ProtocolError struct {
	Registry string
	Op       string
	Reason   string
}

func (e *ProtocolError) Error() string {
	return "registry: " + e.Registry + ": " + e.Op + ": " + e.Reason
}

// NotSpinAppError is a refusal: the reference exists but is not a Spin
// application (a container image, a multi-platform index without a wasm
// entry, another kind of OCI artifact). Error() tells the tenant what to
// push instead.
type NotSpinAppError struct {
	Ref    string
	Reason string // e.g. "is a container image (layers application/vnd.oci.image.layer.v1.tar+gzip)"
}

func (e *NotSpinAppError) Error() string {
	return e.Ref + " " + e.Reason + ", not a Spin app: push it with `spin registry push`"
}

// InvalidAppError is a refusal: the artifact looks like a Spin app but
// cannot be used as one (unreadable locked app, a component whose Wasm is
// not in the artifact, a trigger naming a missing component, too large).
type InvalidAppError struct {
	Ref    string
	Reason string
}

func (e *InvalidAppError) Error() string {
	return e.Ref + " is not a usable Spin app: " + e.Reason + " (rebuild and push it again with `spin registry push`)"
}

// IsNotFound reports whether err is (or wraps) a *NotFoundError. Concrete
// errors.As targets only: under TinyGo 0.30 an interface-typed target
// matches any error.
func IsNotFound(err error) bool {
	var e *NotFoundError
	return errors.As(err, &e)
}

// IsRefusal reports whether err says the artifact is not a usable Spin
// app (*NotSpinAppError or *InvalidAppError): the tenant must push
// something else, retrying will not help.
func IsRefusal(err error) bool {
	var a *NotSpinAppError
	var b *InvalidAppError
	return errors.As(err, &a) || errors.As(err, &b)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
