package spinport

import "strconv"

// Kind says what went wrong, in terms a caller can act on. The HTTP API
// maps each kind to one status (api.toProblem); nothing else decides
// statuses.
type Kind int

const (
	Invalid      Kind = iota + 1 // the request is wrong; Field names the part (400)
	Unauthorized                 // no or bad credentials (401)
	Forbidden                    // not allowed for this caller (403)
	NotFound                     // no such thing, or not one the caller may see (404)
	Conflict                     // clashes with what exists (409)
	Refused                      // a dependency refused the change, e.g. a webhook (422)
	Failed                       // a dependency answered with an unexpected failure (502)
	Unavailable                  // a dependency is down or busy; retry (503)
)

// Error is spinport's error: a kind, the field at fault and a detail that
// says what is wrong and how to fix it. Title optionally names the problem
// more precisely than the kind ("Kubernetes unavailable").
type Error struct {
	Kind   Kind
	Title  string
	Field  string
	Detail string
}

func (e *Error) Error() string { return e.Detail }

// IsUnavailable marks the error as retryable (api.IsUnavailable).
func (e *Error) Unavailable() bool { return e.Kind == Unavailable }

func invalid(field, detail string) *Error {
	return &Error{Kind: Invalid, Field: field, Detail: detail}
}

// QuotaError names the tenant quota an operation would exceed.
type QuotaError struct {
	Quota string // maxApps, maxReplicasPerApp, maxTotalReplicas
	Limit int64
}

func (e *QuotaError) Error() string {
	return "quota " + e.Quota + " (" + strconv.FormatInt(e.Limit, 10) + ") would be exceeded"
}

// ErrNoCluster is what the record-only deployer answers for anything that
// needs Kubernetes: no cluster is configured, revisions are recorded only.
var ErrNoCluster = &Error{Kind: Unavailable, Detail: "no Kubernetes cluster is configured (set kube_api_url and kube_token)"}
