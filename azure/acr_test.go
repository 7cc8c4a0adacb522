package azure

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestACRName(t *testing.T) {
	cases := map[string]string{
		"acme":      "spinport-acme",
		"a":         "spinport-a",
		"team-blue": "spinport-team-blue",
	}
	for slug, want := range cases {
		if got := ACRName(slug); got != want {
			t.Errorf("ACRName(%q) = %q, want %q", slug, got, want)
		}
	}
	seen := map[string]string{}
	for _, slug := range []string{"", "Acme", "acme", "ACME", "a_b", "a-b", "über", strings.Repeat("x", 60), strings.Repeat("x", 61), "--", "a..b"} {
		n := ACRName(slug)
		if !ValidACRName(n) || strings.HasSuffix(n, "-") || strings.Contains(n, "--") {
			t.Errorf("ACRName(%q) = %q is not valid", slug, n)
		}
		if other, ok := seen[n]; ok {
			t.Errorf("ACRName(%q) = ACRName(%q) = %q", slug, other, n)
		}
		seen[n] = slug
	}
	for _, bad := range []string{"abcd", strings.Repeat("a", 51), "a_bcd", "abc d"} {
		if ValidACRName(bad) {
			t.Errorf("ValidACRName(%q)", bad)
		}
	}
}

func newRegistry(h http.HandlerFunc) (*Registry, *handlerDoer) {
	c, d := newARM(h, newClock())
	return &Registry{ARM: c, Subscription: "sub-1", ResourceGroup: "rg", Name: "spinportacr"}, d
}

const regPath = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/spinportacr"

func TestEnsureScopeMapAndToken(t *testing.T) {
	reg, d := newRegistry(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.Write([]byte(`{"properties":{"provisioningState":"Succeeded"}}`))
	})
	if err := reg.EnsureScopeMap("spinport-acme", []string{"acme/web", "acme/api"}); err != nil {
		t.Fatal(err)
		return
	}
	if err := reg.EnsureToken("spinport-acme", "spinport-acme"); err != nil {
		t.Fatal(err)
		return
	}
	reqs := d.requests()
	if reqs[0].Method != "PUT" || reqs[0].Path != regPath+"/scopeMaps/spinport-acme" || reqs[0].RawQuery != "api-version=2023-07-01" {
		t.Errorf("scope map request %+v", reqs[0])
	}
	want := `{"properties":{"description":"managed by spinport","actions":["repositories/acme/web/content/read","repositories/acme/web/content/write","repositories/acme/web/metadata/read","repositories/acme/api/content/read","repositories/acme/api/content/write","repositories/acme/api/metadata/read"]}}`
	if reqs[0].Body != want {
		t.Errorf("scope map body %s", reqs[0].Body)
	}
	if reqs[1].Path != regPath+"/tokens/spinport-acme" || reqs[1].Body != `{"properties":{"scopeMapId":"`+regPath+`/scopeMaps/spinport-acme","status":"enabled"}}` {
		t.Errorf("token request %+v", reqs[1])
	}
}

func TestScopeMapRepositoryChecks(t *testing.T) {
	reg, d := newRegistry(func(w http.ResponseWriter, r *http.Request) {})
	for _, repos := range [][]string{nil, {"Acme/web"}, {"acme//web"}, {"acme/*"}, {"*"}, {"acme/web/../x"}, {"-x"}} {
		if err := reg.EnsureScopeMap("spinport-acme", repos); err == nil {
			t.Errorf("accepted %q", repos)
		}
	}
	if err := reg.EnsureScopeMap("bad_name", []string{"acme/web"}); err == nil {
		t.Error("bad scope map name accepted")
	}
	if len(d.requests()) != 0 {
		t.Error("requests sent for invalid input")
	}
	reg.AllowWildcards = true
	reg.Actions = []string{"content/read"}
	acts, err := reg.RepositoryActions([]string{"acme/*"})
	if err != nil || len(acts) != 1 || acts[0] != "repositories/acme/*/content/read" {
		t.Errorf("wildcard actions = %v, %v", acts, err)
	}
}

// generateCredentials answers 202 with Azure-AsyncOperation and Location;
// the result is at the Location once the operation succeeded.
func TestGenerateCredentialsPolls(t *testing.T) {
	polls := 0
	reg, d := newRegistry(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && r.URL.Path == regPath+"/generateCredentials":
			w.Header().Set("Azure-AsyncOperation", "https://management.example/op/gc?api-version=2023-07-01")
			w.Header().Set("Location", "https://management.example/op/gc-result?api-version=2023-07-01")
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(202)
		case r.URL.Path == "/op/gc":
			polls++
			if polls == 1 {
				w.Write([]byte(`{"status":"InProgress"}`))
				return
			}
			w.Write([]byte(`{"status":"Succeeded"}`))
		case r.URL.Path == "/op/gc-result":
			w.Write([]byte(`{"username":"spinport-acme","passwords":[{"name":"password1","value":"pw-one","expiry":"2026-04-01T00:00:00Z"},{"name":"password2","value":"pw-two"}]}`))
		default:
			w.WriteHeader(404)
		}
	})
	exp := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	cr, err := reg.GenerateCredentials("spinport-acme", exp, Password1)
	if err != nil {
		t.Fatal(err)
		return
	}
	if cr.Username != "spinport-acme" || cr.Password != "pw-one" || !cr.Expiry.Equal(exp) || polls != 2 {
		t.Errorf("cr = %+v, polls %d", cr, polls)
	}
	if s := fmt.Sprintf("%v %+v %#v", cr, cr, cr); contains(s, "pw-one") {
		t.Errorf("password shown: %s", s)
	}
	body := d.requests()[0].Body
	if body != `{"tokenId":"`+regPath+`/tokens/spinport-acme","name":"password1","expiry":"2026-04-01T00:00:00Z"}` {
		t.Errorf("body %s", body)
	}
	if _, err := reg.GenerateCredentials("spinport-acme", exp, "password3"); err == nil {
		t.Error("password3 accepted")
	}
}

func TestDeleteTokenAndScopeMap(t *testing.T) {
	reg, d := newRegistry(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/tokens/") {
			w.WriteHeader(404)
			w.Write([]byte(`{"error":{"code":"ResourceNotFound","message":"gone"}}`))
			return
		}
		if r.URL.Path == "/op/del" {
			w.WriteHeader(204)
			return
		}
		w.Header().Set("Location", "https://management.example/op/del")
		w.WriteHeader(202)
	})
	if err := reg.DeleteToken("spinport-acme"); err != nil {
		t.Errorf("absent token: %v", err)
	}
	if err := reg.DeleteScopeMap("spinport-acme"); err != nil {
		t.Errorf("scope map: %v", err)
	}
	reqs := d.requests()
	if len(reqs) != 3 || reqs[1].Method != "DELETE" || reqs[2].Path != "/op/del" {
		t.Errorf("requests %+v", reqs)
	}
}
