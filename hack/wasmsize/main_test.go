package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestPackage(t *testing.T) {
	for name, want := range map[string]string{
		"github.com/spinport/spinport/kv.DB.ListApps": "github.com/spinport/spinport/kv",
		"runtime.alloc":                                        "runtime",
		"(*encoding/json.decodeState).object":                  "encoding/json",
		"(reflect.Value).Call":                                 "reflect",
		"sync/atomic.(*Int32).Add":                             "sync/atomic",
		"slices.Sort[[]github.com/x/y.T]":                      "slices",
		"(github.com/a/b.T[github.com/c/d.U]).M":               "github.com/a/b",
		"main.main$1":                                          "main",
		"(*net/http.http2ClientConn).readLoop$gowrapper":       "net/http",
		"gopkg.in/yaml.v3.Unmarshal":                           "gopkg.in/yaml.v3",
		"vendor/golang.org/x/net/idna.ToASCII":                 "vendor/golang.org/x/net/idna",
		"byn$mgfn-shared$github.com/spinport/spinport/kv.f":    "github.com/spinport/spinport/kv",
		"github.com/fermyon/spin/sdk/go/v2/http.send":          "github.com/fermyon/spin/sdk/go/v2/http",
		"interface:{Error:func:{}{basic:string}}.Error$invoke": "(interface thunks)",
		"(*struct{io.Reader; io.Closer}).Read":                 "(methods of struct literals)",
		"malloc":                                               "(C: libc, compiler-rt, asm)",
		"":                                                     "(no name)",
	} {
		if got := Package(name); got != want {
			t.Errorf("Package(%q) = %q, want %q", name, got, want)
		}
	}
}

func leb(n int) []byte {
	var b []byte
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func sec(id byte, contents ...[]byte) []byte {
	c := bytes.Join(contents, nil)
	return append(append([]byte{id}, leb(len(c))...), c...)
}

func str(s string) []byte { return append(leb(len(s)), s...) }

func TestParseAndReport(t *testing.T) {
	body := func(n int) []byte { // a function body of n bytes after its size
		b := make([]byte, n)
		b[0] = 0 // no locals
		for i := 1; i < n-1; i++ {
			b[i] = 0x01 // nop
		}
		b[n-1] = 0x0b
		return append(leb(n), b...)
	}
	m := bytes.Join([][]byte{
		[]byte("\x00asm\x01\x00\x00\x00"),
		sec(1, []byte{1, 0x60, 0, 0}),
		sec(2, []byte{2}, str("env"), str("f"), []byte{0, 0}, str("env"), str("mem"), []byte{2, 0, 1}),
		sec(3, []byte{3, 0, 0, 0}),
		sec(10, []byte{3}, body(200), body(10), body(30)),
		sec(11, []byte{1, 0, 0x41, 0, 0x0b}, str("hello")),
		sec(0, str("name"), []byte{1}, leb(len(bytes.Join([][]byte{{3}, {1}, str("a/b.F"), {2}, str("a/b.G"), {3}, str("runtime.alloc")}, nil))),
			[]byte{3}, []byte{1}, str("a/b.F"), []byte{2}, str("a/b.G"), []byte{3}, str("runtime.alloc")),
	}, nil)
	mod, err := parse(m)
	if err != nil {
		t.Fatal(err)
	}
	if mod.funcImports != 1 || len(mod.funcs) != 3 || !mod.hasNames {
		t.Fatalf("imports %d, funcs %d, names %v", mod.funcImports, len(mod.funcs), mod.hasNames)
	}
	if mod.funcs[0].name != "a/b.F" || mod.funcs[0].size != 202 || mod.funcs[2].name != "runtime.alloc" {
		t.Errorf("funcs %+v", mod.funcs)
	}
	if mod.dataSegs != 1 || mod.dataBytes != 5 {
		t.Errorf("data %d segments %d bytes", mod.dataSegs, mod.dataBytes)
	}
	var out bytes.Buffer
	report(&out, mod, int64(len(m)), 40, 5, "a/")
	for _, want := range []string{"1  213", "a/b\n", "2  31", "runtime\n", `custom "name"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}

	if _, err := parse(m[:len(m)-3]); err == nil {
		t.Error("truncated module: no error")
	}
}
