package oidc

// Pure tests of how documents from outside are read (json.go): what gjson
// made of a document before the package moved to fastjson. They also run
// compiled by TinyGo; every failure returns explicitly.

import (
	"strings"
	"testing"

	"github.com/spinport/spinport/oidc/oidctest"
	"github.com/valyala/fastjson"
)

func TestParseJSONStrict(t *testing.T) {
	for _, doc := range []string{`{"a":"` + "\x01" + `\n"}`, `{"a` + "\x01" + `\u0062":1}`, `{"a":"` + "\t" + `"}`, `{"a":NaN}`, `{"a":1.2.3}`,
		`{"a":01}`, `{"a":"\q"}`, `{"a":"\u12"}`, `{"a":inf}`, `{"a":1,}`, `{"a":1} x`, ``, `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`} {
		var p fastjson.Parser
		if parseJSON(&p, []byte(doc)) != nil {
			t.Errorf("parseJSON(%q) accepted", doc)
		}
	}
	for _, doc := range []string{`{"a":"\u0041\n\"\\\/"}`, ` [1, -0.5e+3, true, null] `, `"x"`, `{"a":` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `}`} {
		var p fastjson.Parser
		if parseJSON(&p, []byte(doc)) == nil {
			t.Errorf("parseJSON(%q) refused", doc)
		}
	}
}

func TestJSONStrings(t *testing.T) {
	for doc, want := range map[string]string{
		`{"s":"\ud800"}`:        "\uFFFD", // a lone surrogate, as gjson decoded it
		`{"s":"a\uDC00b"}`:      "a\uFFFDb",
		`{"s":"\ud800\u0041"}`:  "\uFFFD", // not a pair: both escapes go
		`{"s":"\ud83d\ude00"}`:  "\U0001F600",
		`{"s":"\\ud800"}`:       `\ud800`, // an escaped backslash, then text
		`{"s":"\\\ud800"}`:      `\` + "\uFFFD",
		`{"s":"\ud800","t":1}`:  "\uFFFD",
		`{"i\u0073":1,"s":"x"}`: "x",
	} {
		in := []byte(doc)
		var p fastjson.Parser
		got, ok := str(member(parseJSON(&p, in), "s"))
		if !ok || got != want {
			t.Errorf("%s: s is %q, %v; want %q", doc, got, ok, want)
		}
		if string(in) != doc {
			t.Errorf("%s: the document was changed to %s", doc, in)
		}
	}
}

// A repeated member name finds the first member, escaped or not (gjson's
// Get; fastjson's Object.Get would find an unescaped later one first).
func TestJSONFirstMemberWins(t *testing.T) {
	for doc, want := range map[string]string{
		`{"i\u0073s":"a","iss":"b"}`:  "a",
		`{"iss":"a","i\u0073s":"b"}`:  "a",
		`{"iss":"a","iss":"b"}`:       "a",
		`{"x":{"iss":"b"},"iss":"a"}`: "a",
	} {
		var p fastjson.Parser
		if got, _ := str(member(parseJSON(&p, []byte(doc)), "iss")); got != want {
			t.Errorf("%s: iss is %q, want %q", doc, got, want)
		}
	}
	keys := jwtTestKeys(t)
	evil := strings.Replace(oidctest.GoodClaims().JSON(), "{", `{"i\u0073s":"https://evil.example.test",`, 1)
	if _, err := verifyIDToken(oidctest.SignJWT(oidctest.RSHeader("rsa-1"), evil, oidctest.RSAKey(0)), keys, jwtCheck()); err == nil || !strings.Contains(err.Error(), "issuer (iss)") {
		t.Errorf("a first, escaped iss of another issuer: %v", err)
	}
}

func TestJSONText(t *testing.T) {
	doc := `{"s":"x","i":-12,"f":1e2,"g":1.50,"t":true,"n":null,"o":{"a": [1, 2]}}`
	var p fastjson.Parser
	v := parseJSON(&p, []byte(doc))
	for name, want := range map[string]string{"s": "x", "i": "-12", "f": "100", "g": "1.5", "t": "true", "n": "", "o": `{"a":[1,2]}`, "absent": ""} {
		if got := text(member(v, name)); got != want {
			t.Errorf("text(%s) = %q, want %q", name, got, want)
		}
	}
	// Claims.String keeps number literals as written, and has no text for
	// objects and arrays.
	c := Claims{v}
	for name, want := range map[string]string{"s": "x", "i": "-12", "f": "1e2", "g": "1.50", "t": "true", "n": "", "o": "", "absent": ""} {
		if got := c.String(name); got != want {
			t.Errorf("Claims.String(%s) = %q, want %q", name, got, want)
		}
	}
	if (Claims{}).String("sub") != "" {
		t.Errorf("the zero Claims has a sub")
	}
}

func TestJSONContainsString(t *testing.T) {
	var p fastjson.Parser
	v := parseJSON(&p, []byte(`{"a":["x","verify"],"s":"verify","o":{"k":"verify"},"n":1,"b":[1,{"verify":1}]}`))
	for name, want := range map[string]bool{"a": true, "s": true, "o": true, "n": false, "b": false, "absent": false} {
		if got := containsString(member(v, name), "verify"); got != want {
			t.Errorf("containsString(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestLoginStateNumbers(t *testing.T) {
	var p fastjson.Parser
	v := parseJSON(&p, []byte(`{"i":1700000600,"f":1700000600.9,"s":"42","t":true,"x":"4x","h":1e400,"b":"TRUE","z":0}`))
	for name, want := range map[string]int64{"i": 1700000600, "f": 1700000600, "s": 42, "t": 1, "x": 0, "h": 0, "absent": 0} {
		if got := intOf(member(v, name)); got != want {
			t.Errorf("intOf(%s) = %d, want %d", name, got, want)
		}
	}
	for name, want := range map[string]bool{"t": true, "b": true, "i": true, "z": false, "s": false, "absent": false} {
		if got := boolOf(member(v, name)); got != want {
			t.Errorf("boolOf(%s) = %v, want %v", name, got, want)
		}
	}
}
