package azure

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const testPath = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Network/dnsZones/example.com/A/www"

func TestDoSendsBearerAndAPIVersion(t *testing.T) {
	c, d := newARM(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"id":"x"}`))
	}, nil)
	resp, err := c.Do(Request{Method: "GET", Path: testPath, APIVersion: "2018-05-01"})
	if err != nil {
		t.Fatal(err)
		return
	}
	if resp.Status != 200 || string(resp.Body) != `{"id":"x"}` {
		t.Errorf("resp = %d %s", resp.Status, resp.Body)
	}
	r := d.requests()[0]
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
	}
	if r.RawQuery != "api-version=2018-05-01" || r.Path != testPath || r.Host != "management.example" {
		t.Errorf("request = %+v", r)
	}
}

func TestDoARMErrorKeepsCodeAndMessage(t *testing.T) {
	c, _ := newARM(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		w.Write([]byte(`{"error":{"code":"AuthorizationFailed","message":"The client 'abc' does not have authorization to perform action 'Microsoft.Network/dnszones/A/write'."}}`))
	}, nil)
	_, err := c.Do(Request{Method: "PUT", Path: testPath, APIVersion: "2018-05-01", Body: []byte(`{}`)})
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("err = %T %v", err, err)
		return
	}
	if e.Status != 403 || e.Code != "AuthorizationFailed" || !contains(e.Message, "does not have authorization") {
		t.Errorf("e = %+v", e)
	}
	if e.Unavailable() {
		t.Error("403 must not be unavailable")
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v %#v", c, c, c)} {
		if contains(s, "secret-arm-token") {
			t.Errorf("token leaked: %s", s)
		}
	}
	if !contains(err.Error(), "AuthorizationFailed") || !contains(err.Error(), "403") {
		t.Errorf("Error() = %s", err)
	}
}

func TestDoRetriesWithinBudget(t *testing.T) {
	clk := newClock()
	n := 0
	c, _ := newARM(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n < 3 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(429)
			w.Write([]byte(`{"error":{"code":"TooManyRequests","message":"slow down"}}`))
			return
		}
		w.Write([]byte(`{}`))
	}, clk)
	if _, err := c.Do(Request{Method: "GET", Path: testPath, APIVersion: "v"}); err != nil {
		t.Fatal(err)
		return
	}
	if n != 3 || clk.asleep != 4*time.Second {
		t.Errorf("n = %d, slept %v", n, clk.slept)
	}
}

func TestDoRetryAfterBeyondBudgetIsUnavailable(t *testing.T) {
	clk := newClock()
	n := 0
	c, _ := newARM(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Header().Set("Retry-After", clk.Now().Add(time.Minute).Format(http.TimeFormat))
		w.WriteHeader(503)
		w.Write([]byte(`{"error":{"code":"ServerBusy","message":"try later"}}`))
	}, clk)
	_, err := c.Do(Request{Method: "GET", Path: testPath, APIVersion: "v"})
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("err = %T %v", err, err)
		return
	}
	if n != 1 || e.Status != 503 || e.RetryAfter != time.Minute || !e.Unavailable() || e.Code != "ServerBusy" {
		t.Errorf("n = %d, e = %+v", n, e)
	}
	var u interface{ Unavailable() bool } = e
	if !u.Unavailable() {
		t.Error("not unavailable")
	}
}

func TestDoNilSleepDoesNotRetry(t *testing.T) {
	n := 0
	c, _ := newARM(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(500)
	}, nil)
	_, err := c.Do(Request{Method: "GET", Path: testPath, APIVersion: "v"})
	e, ok := err.(*Error)
	if !ok || n != 1 || !e.Unavailable() || e.Code != "InternalServerError" {
		t.Errorf("n = %d, err = %v", n, err)
	}
}

func TestDoTransportErrorIsUnavailable(t *testing.T) {
	clk := newClock()
	d := &errDoer{}
	c := &Client{Endpoint: "https://management.example", Token: staticToken, HTTP: d, Sleep: clk.Sleep, Now: clk.Now, Budget: 5 * time.Second}
	_, err := c.Do(Request{Method: "PUT", Path: testPath, APIVersion: "v", Body: []byte("{}")})
	u, ok := err.(*UnavailableError)
	if !ok || !u.Unavailable() || contains(err.Error(), "secret-arm-token") {
		t.Fatalf("err = %T %v", err, err)
		return
	}
	if d.n < 2 {
		t.Errorf("PUT was not retried: %d attempts", d.n)
	}
	d2 := &errDoer{}
	c.HTTP = d2
	c.Do(Request{Method: "POST", Path: testPath, APIVersion: "v", Body: []byte("{}")})
	if d2.n != 1 {
		t.Errorf("POST was retried after a transport error: %d attempts", d2.n)
	}
}

func TestDoTokenSourceError(t *testing.T) {
	c, d := newARM(func(w http.ResponseWriter, r *http.Request) {}, nil)
	c.Token = func() (string, error) { return "", &EntraError{Status: 503, Code: "temporarily_unavailable"} }
	_, err := c.Do(Request{Method: "GET", Path: testPath, APIVersion: "v"})
	if err == nil || len(d.requests()) != 0 || !contains(err.Error(), "temporarily_unavailable") {
		t.Fatalf("err = %v", err)
		return
	}
	if !unavailableChain(err) {
		t.Error("Entra 503 behind the token source is not unavailable")
	}
}

// unavailableChain walks like api.IsUnavailable.
func unavailableChain(err error) bool {
	for err != nil {
		if u, ok := err.(interface{ Unavailable() bool }); ok && u.Unavailable() {
			return true
		}
		w, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = w.Unwrap()
	}
	return false
}

func TestDoAsyncOperationPolling(t *testing.T) {
	clk := newClock()
	polls := 0
	c, d := newARM(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "PUT":
			w.Header().Set("Azure-AsyncOperation", "https://management.example/subscriptions/sub-1/providers/op/1?api-version=v")
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(201)
			w.Write([]byte(`{"properties":{"provisioningState":"Creating"}}`))
		case strings.HasSuffix(r.URL.Path, "/op/1"):
			polls++
			if polls < 3 {
				w.Header().Set("Retry-After", "1")
				w.Write([]byte(`{"status":"InProgress"}`))
				return
			}
			w.Write([]byte(`{"status":"Succeeded"}`))
		case r.Method == "GET" && r.URL.Path == testPath:
			w.Write([]byte(`{"properties":{"provisioningState":"Succeeded"}}`))
		default:
			w.WriteHeader(404)
		}
	}, clk)
	resp, err := c.Do(Request{Method: "PUT", Path: testPath, APIVersion: "v", Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
		return
	}
	if !contains(string(resp.Body), `"Succeeded"`) || polls != 3 {
		t.Errorf("resp = %s, polls = %d", resp.Body, polls)
	}
	if clk.asleep != 5*time.Second {
		t.Errorf("slept %v, want 3s+1s+1s", clk.slept)
	}
	for _, r := range d.requests() {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("%s %s without bearer", r.Method, r.Path)
		}
	}
}

func TestDoAsyncOperationFailed(t *testing.T) {
	c, _ := newARM(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			w.Header().Set("Azure-AsyncOperation", "/op/2")
			w.WriteHeader(202)
			return
		}
		w.Write([]byte(`{"status":"Failed","error":{"code":"TokenNotFound","message":"The token does not exist."}}`))
	}, newClock())
	_, err := c.Do(Request{Method: "POST", Path: testPath, APIVersion: "v", Body: []byte(`{}`)})
	e, ok := err.(*Error)
	if !ok || e.Operation != "Failed" || e.Code != "TokenNotFound" || e.Unavailable() {
		t.Fatalf("err = %T %v", err, err)
		return
	}
	if !contains(e.Error(), "ended Failed: TokenNotFound: The token does not exist.") {
		t.Errorf("Error() = %s", e)
	}
}

func TestDoLocationPolling(t *testing.T) {
	polls := 0
	c, _ := newARM(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "DELETE" {
			w.Header().Set("Location", "https://management.example/op/3")
			w.WriteHeader(202)
			return
		}
		polls++
		if polls < 2 {
			w.WriteHeader(202)
			return
		}
		w.WriteHeader(204)
	}, newClock())
	resp, err := c.Do(Request{Method: "DELETE", Path: testPath, APIVersion: "v"})
	if err != nil || resp.Status != 204 || polls != 2 {
		t.Errorf("resp = %+v, err = %v, polls = %d", resp, err, polls)
	}
}

func TestDoPollingBeyondBudget(t *testing.T) {
	clk := newClock()
	c, _ := newARM(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "10")
		if r.Method == "PUT" {
			w.Header().Set("Azure-AsyncOperation", "/op/4")
			w.WriteHeader(201)
			return
		}
		w.Write([]byte(`{"status":"InProgress"}`))
	}, clk)
	c.Budget = 25 * time.Second
	_, err := c.Do(Request{Method: "PUT", Path: testPath, APIVersion: "v", Body: []byte("{}")})
	if _, ok := err.(*UnavailableError); !ok || !contains(err.Error(), "budget") {
		t.Errorf("err = %T %v", err, err)
	}
	if clk.asleep != 20*time.Second {
		t.Errorf("slept %v", clk.slept)
	}
}

func TestDoRefusesForeignPollingURL(t *testing.T) {
	c, d := newARM(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Azure-AsyncOperation", "https://attacker.example/op")
		w.WriteHeader(201)
	}, newClock())
	_, err := c.Do(Request{Method: "PUT", Path: testPath, APIVersion: "v", Body: []byte("{}")})
	if e, ok := err.(*Error); !ok || e.Code != "InvalidPollingURL" {
		t.Errorf("err = %v", err)
	}
	for _, r := range d.requests() {
		if r.Host != "management.example" {
			t.Errorf("request went to %s", r.Host)
		}
	}
}

func TestDoRejectsBadInput(t *testing.T) {
	c, _ := newARM(func(w http.ResponseWriter, r *http.Request) {}, nil)
	if _, err := c.Do(Request{Method: "GET", Path: "/x?y", APIVersion: "v"}); err == nil {
		t.Error("query in path accepted")
	}
	if _, err := c.Do(Request{Method: "GET", Path: "/x"}); err == nil {
		t.Error("missing api-version accepted")
	}
	c.Endpoint = "https://management.example/some/path"
	if _, err := c.Do(Request{Method: "GET", Path: "/x", APIVersion: "v"}); err == nil {
		t.Error("endpoint with a path accepted")
	}
	if _, err := ResourcePath("subscriptions", "a/../b"); err == nil {
		t.Error("slash in a segment accepted")
	}
	if p, err := ResourcePath("a", "b c", "@"); err != nil || p != "/a/b%20c/@" {
		t.Errorf("ResourcePath = %q, %v", p, err)
	}
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		k, v string
		d    time.Duration
		ok   bool
	}{
		{"Retry-After", "7", 7 * time.Second, true},
		{"Retry-After", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Retry-After", "soon", 0, false},
		{"Retry-After-Ms", "250", 250 * time.Millisecond, true},
		{"X-Ms-Retry-After-Ms", "1500", 1500 * time.Millisecond, true},
	}
	for _, tc := range cases {
		h := http.Header{}
		h.Set(tc.k, tc.v)
		d, ok := retryAfter(h, now)
		if d != tc.d || ok != tc.ok {
			t.Errorf("%s: %s = %v %v", tc.k, tc.v, d, ok)
		}
	}
}
