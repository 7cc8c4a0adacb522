// Package jsonw builds JSON by appending to a byte slice. spinport uses it
// instead of encoding/json on request paths: under TinyGo reflection-based
// encoding is slow and large, and our documents are small and known.
package jsonw

import (
	"strconv"
	"unicode/utf8"
)

// W writes one JSON value. The zero value is ready to use.
type W struct {
	b        []byte
	comma    []bool // per open container: a member was written, the next needs a comma
	closers  []byte
	afterKey bool // a key was just written: its value takes no separator
}

// Bytes returns the document written so far.
func (w *W) Bytes() []byte { return w.b }

// value writes the separator a new value needs in its container.
func (w *W) value() {
	if w.afterKey {
		w.afterKey = false
		return
	}
	if n := len(w.comma); n > 0 {
		if w.comma[n-1] {
			w.b = append(w.b, ',')
		}
		w.comma[n-1] = true
	}
}

// Key starts a member of the current object; the next call writes its value.
func (w *W) Key(k string) *W {
	w.value()
	w.b = AppendString(w.b, k)
	w.b = append(w.b, ':')
	w.afterKey = true
	return w
}

// Object and Array open containers; End closes the innermost one.
func (w *W) Object() *W { return w.open('{', '}') }
func (w *W) Array() *W  { return w.open('[', ']') }

func (w *W) open(c, closer byte) *W {
	w.value()
	w.b = append(w.b, c)
	w.comma = append(w.comma, false)
	w.closers = append(w.closers, closer)
	return w
}

func (w *W) End() *W {
	n := len(w.closers) - 1
	w.b = append(w.b, w.closers[n])
	w.comma = w.comma[:n]
	w.closers = w.closers[:n]
	return w
}

func (w *W) String(v string) *W { w.value(); w.b = AppendString(w.b, v); return w }
func (w *W) Int(v int64) *W     { w.value(); w.b = strconv.AppendInt(w.b, v, 10); return w }
func (w *W) Bool(v bool) *W     { w.value(); w.b = strconv.AppendBool(w.b, v); return w }
func (w *W) Null() *W           { w.value(); w.b = append(w.b, "null"...); return w }

// Raw writes v, which must already be valid JSON (empty means null).
func (w *W) Raw(v []byte) *W {
	w.value()
	if len(v) == 0 {
		v = []byte("null")
	}
	w.b = append(w.b, v...)
	return w
}

// Convenience members for objects.
func (w *W) Str(k, v string) *W       { return w.Key(k).String(v) }
func (w *W) Num(k string, v int64) *W { return w.Key(k).Int(v) }
func (w *W) Flag(k string, v bool) *W { return w.Key(k).Bool(v) }

// OptStr writes the member only when v is not empty.
func (w *W) OptStr(k, v string) *W {
	if v == "" {
		return w
	}
	return w.Str(k, v)
}

// Strings writes member k as an array of strings (never null).
func (w *W) Strings(k string, vs []string) *W {
	w.Key(k).Array()
	for _, v := range vs {
		w.String(v)
	}
	return w.End()
}

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string literal. Invalid UTF-8 becomes U+FFFD.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				// Control characters, and <>& so JSON is safe inside HTML.
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\\ufffd"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
