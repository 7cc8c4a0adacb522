package spinhost

import (
	"strings"
	"testing"
)

func TestValidateVariableName(t *testing.T) {
	// The good and bad keys of spin-expressions' own tests.
	for _, good := range []string{"a", "abc", "a1b2c3", "a_1", "a_1_b_3"} {
		if err := ValidateVariableName(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	for _, bad := range []string{"", "aX", "1bc", "_x", "x.y", "x_", "a__b", "x-y"} {
		if err := ValidateVariableName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTemplates(t *testing.T) {
	values := map[string]string{"host": "example.com", "port": "8443"}
	cases := map[string]string{
		"plain":                         "plain",
		"{{ host }}":                    "example.com",
		"https://{{host}}:{{ port }}/x": "https://example.com:8443/x",
		"{{ host }}{{ port }}":          "example.com8443",
		"prefix-{{   host   }}-suffix":  "prefix-example.com-suffix",
		"":                              "",
		"a } b { c":                     "a } b { c",
	}
	for in, want := range cases {
		tpl, err := ParseTemplate(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		got, err := tpl.Render(values)
		if err != nil || got != want {
			t.Errorf("%q rendered %q, %v; want %q", in, got, err, want)
		}
	}
	if tpl, _ := ParseTemplate("hello"); !tpl.IsLiteral() {
		t.Error("literal template not literal")
	}
	if tpl, _ := ParseTemplate("hello {{ world }}"); tpl.IsLiteral() {
		t.Error("template with a variable is literal")
	}
	for _, bad := range []string{"{{ host", "{{ Host }}", "{{}}"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func testManifest(t *testing.T) *Manifest {
	t.Helper()
	m, err := ParseManifest([]byte(`spin_manifest_version = 2
[application]
name = "v"
[variables]
token   = { required = true, secret = true }
backend = { default = "spin" }
region  = { default = "eu" }
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "c.wasm"
[component.c.variables]
token   = "{{ token }}"
backend = "{{ backend }}"
where   = "{{ backend }}@{{ region }}"
fixed   = "literal"
`), "/app")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestResolveVariablesPriority(t *testing.T) {
	m := testManifest(t)
	values, err := ResolveVariables(m, VariableSources{
		Overrides: map[string]string{"token": "from-flag"},
		LookupEnv: env(map[string]string{
			"SPIN_VARIABLE_TOKEN":   "from-env", // loses to the flag
			"SPIN_VARIABLE_BACKEND": "redis",    // beats the default
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"token": "from-flag", "backend": "redis", "region": "eu"}
	for k, v := range want {
		if values[k] != v {
			t.Errorf("%s = %q, want %q", k, values[k], v)
		}
	}

	cv, err := ComponentVariables(m.Components["c"], m, values)
	if err != nil {
		t.Fatal(err)
	}
	if cv["where"] != "redis@eu" || cv["fixed"] != "literal" || cv["token"] != "from-flag" {
		t.Errorf("component variables = %v", cv)
	}
}

func TestResolveVariablesRequiredMissing(t *testing.T) {
	m := testManifest(t)
	_, err := ResolveVariables(m, VariableSources{LookupEnv: env(nil)})
	if err == nil {
		t.Fatal("missing required variable accepted")
	}
	for _, want := range []string{`"token"`, "SPIN_VARIABLE_TOKEN", "--variable token="} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	// An empty value is a value.
	if _, err := ResolveVariables(m, VariableSources{LookupEnv: env(map[string]string{"SPIN_VARIABLE_TOKEN": ""})}); err != nil {
		t.Errorf("empty env value rejected: %v", err)
	}
}

func TestComponentVariableUnknownAppVariable(t *testing.T) {
	m := testManifest(t)
	m.Components["c"].Variables["bad"] = "{{ nope }}"
	_, err := ComponentVariables(m.Components["c"], m, map[string]string{"token": "t", "backend": "b", "region": "r"})
	if err == nil || !strings.Contains(err.Error(), `unknown variable "nope"`) {
		t.Fatalf("error = %v", err)
	}
}

func TestLookupComponentVariable(t *testing.T) {
	vals := map[string]string{"backend": "spin"}
	if v, err := lookupComponentVariable("c", vals, "backend"); err != nil || v != "spin" {
		t.Errorf("backend = %q, %v", v, err)
	}
	if _, err := lookupComponentVariable("c", vals, "missing"); err == nil || err.tag != configErrProvider {
		t.Errorf("missing: %+v, want provider error", err)
	}
	if _, err := lookupComponentVariable("c", vals, "Bad-Name"); err == nil || err.tag != configErrInvalidKey {
		t.Errorf("Bad-Name: %+v, want invalid-key error", err)
	}
}

func TestVariableEnvName(t *testing.T) {
	if got := VariableEnvName("admin_token"); got != "SPIN_VARIABLE_ADMIN_TOKEN" {
		t.Errorf("got %q", got)
	}
}
