package armfake

// Long-running operations, hand-written: the SDK's fakes model LROs only
// for the SDK's own poller (a fake-only header), so Server answers the
// operations a real ARM answers asynchronously the way ARM documents it
// (Azure Resource Manager asynchronous operations): 202 Accepted with
// Azure-AsyncOperation (a status resource: {"status":"InProgress" |
// "Succeeded" | "Failed" | "Canceled"}), Location (202 while running,
// then the result) and Retry-After.

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
)

type operation struct {
	sub       string
	remaining int // InProgress answers left
	done      bool
	result    []byte
}

var opRE = regexp.MustCompile(`^/subscriptions/([^/]+)/providers/Microsoft\.ContainerRegistry/locations/fakeregion/(operationStatuses|operationResults)/([^/]+)$`)

func (s *Server) retryAfter() string {
	if s.RetryAfter > 0 {
		return strconv.Itoa(s.RetryAfter)
	}
	return "1"
}

// startOperation answers 202 for an operation whose result is ready but
// is to be collected by polling.
func (s *Server) startOperation(w http.ResponseWriter, r *http.Request, sub string, result []byte) {
	polls := s.AsyncPolls
	if polls <= 0 {
		polls = 1
	}
	s.mu.Lock()
	id := fmt.Sprintf("op-%d", s.nextID())
	s.ops[id] = &operation{sub: sub, remaining: polls, result: result}
	s.mu.Unlock()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := fmt.Sprintf("%s://%s/subscriptions/%s/providers/Microsoft.ContainerRegistry/locations/fakeregion/", scheme, r.Host, sub)
	w.Header().Set("Azure-AsyncOperation", base+"operationStatuses/"+id+"?api-version="+MinACRAPIVersion)
	w.Header().Set("Location", base+"operationResults/"+id+"?api-version="+MinACRAPIVersion)
	w.Header().Set("Retry-After", s.retryAfter())
	w.WriteHeader(http.StatusAccepted)
}

// serveOperation answers polls of operations startOperation began.
func (s *Server) serveOperation(w http.ResponseWriter, r *http.Request, path string) bool {
	m := opRE.FindStringSubmatch(path)
	if m == nil {
		return false
	}
	if r.Method != http.MethodGet {
		writeFault(w, &Fault{http.StatusMethodNotAllowed, "MethodNotAllowed", "operations are read with GET"})
		return true
	}
	s.mu.Lock()
	op := s.ops[m[3]]
	if op == nil || op.sub != m[1] {
		s.mu.Unlock()
		writeFault(w, &Fault{http.StatusNotFound, "OperationNotFound", "The operation '" + m[3] + "' was not found."})
		return true
	}
	running := !op.done && op.remaining > 0
	if running {
		op.remaining--
	} else {
		op.done = true
	}
	result := op.result
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if m[2] == "operationStatuses" {
		status := "Succeeded"
		if running {
			status = "InProgress"
			w.Header().Set("Retry-After", s.retryAfter())
		}
		fmt.Fprintf(w, `{"id":%q,"name":%q,"status":%q}`, path, m[3], status)
		return true
	}
	if running {
		w.Header().Set("Location", r.URL.String())
		w.Header().Set("Retry-After", s.retryAfter())
		w.WriteHeader(http.StatusAccepted)
		return true
	}
	w.WriteHeader(http.StatusOK)
	w.Write(result)
	return true
}
