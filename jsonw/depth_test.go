package jsonw

import (
	"strings"
	"testing"
)

// Pure tests: they also run compiled by TinyGo (make test-tinygo).

func TestShallow(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want bool
	}{
		{`{"a":[1,{"b":2}]}`, 3, true},
		{`{"a":[1,{"b":[2]}]}`, 3, false},
		{`{"a":"[[[[[[[[[[{{{{{{"}`, 1, true}, // brackets in strings do not count
		{`{"a":"\"[[[[","b":[[1]]}`, 3, true}, // nor after an escaped quote
		{`{"a":"\\","b":[[[1]]]}`, 3, false},  // an escaped backslash ends the escape
		{strings.Repeat("[", 33) + strings.Repeat("]", 33), 32, false},
		{strings.Repeat("[", 32) + strings.Repeat("]", 32), 32, true},
		{strings.Repeat("[", 5000), MaxDepth, false},
		{`]]]]{`, 1, true}, // malformed, left to the parser
	} {
		if got := Shallow([]byte(c.in), c.max); got != c.want {
			t.Errorf("Shallow(%.40q, %d) = %v, want %v", c.in, c.max, got, c.want)
		}
	}
}
