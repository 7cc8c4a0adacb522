package oidc

// Reading JSON from outside (identity providers, tokens) with fastjson. The
// package read it with gjson before; these helpers keep what gjson made of
// a document, so that moving to fastjson changed no token's fate:
//   - a document is checked before it is parsed: nesting depth (jsonw.Shallow,
//     for a TinyGo stack) and strict JSON (fastjson's parser alone accepts
//     NaN, 1.2.3, bad escapes and control characters in strings, which
//     gjson.Valid refused);
//   - a repeated member name finds the first member, as gjson's Get did;
//   - escaped lone UTF-16 surrogates decode to U+FFFD, as gjson decoded them
//     (checkStrings, which also refuses what fastjson's validation misses);
//   - numbers are strconv.ParseFloat of their literal, as gjson's Num was.
// Values point into their Parser's buffer until it parses again: every
// document gets its own Parser, and strings leave as copies.

import (
	"strconv"
	"strings"

	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

// parseJSON parses a document from outside with p; nil when it nests too
// deeply or is not strictly valid JSON.
func parseJSON(p *fastjson.Parser, b []byte) *fastjson.Value {
	if !jsonw.Shallow(b, jsonw.MaxDepth) || fastjson.ValidateBytes(b) != nil {
		return nil
	}
	b, ok := checkStrings(b)
	if !ok {
		return nil
	}
	v, err := p.ParseBytes(b)
	if err != nil {
		return nil
	}
	return v
}

// parseObject is parseJSON for documents that must be a JSON object.
func parseObject(p *fastjson.Parser, b []byte) *fastjson.Value {
	if v := parseJSON(p, b); v != nil && v.Type() == fastjson.TypeObject {
		return v
	}
	return nil
}

// checkStrings finishes the validation of the strings of b, which
// fastjson.ValidateBytes accepted, as gjson.Valid did it, and makes
// fastjson decode them as gjson did:
//   - a control character is refused: fastjson checks a string only after
//     its last escape sequence (a 0x01 byte before a \n escape passes);
//   - a \uD800-\uDFFF escape that no other \u escape follows is not a
//     character: gjson decoded it to U+FFFD, fastjson keeps the escape's six
//     characters, so it is rewritten \ufffd. (Followed by a \u escape,
//     both decode the two as a pair, U+FFFD when they are not one.)
//
// b itself is never changed (callers keep it, e.g. a JWKS for the cache).
func checkStrings(b []byte) ([]byte, bool) {
	out, copied, inString := b, false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c < 0x20:
			return nil, false
		case c != '\\':
		case i+1 < len(b) && b[i+1] != 'u':
			i++ // the escaped character, which may be a backslash or a quote
		case i+6 > len(b):
			return nil, false // validated: four hex digits follow \u
		case !isSurrogate(b[i+2], b[i+3]):
			i += 5
		case i+8 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u':
			i += 11 // a pair, decoded alike by both parsers
		default:
			if !copied {
				out, copied = append([]byte(nil), b...), true
			}
			copy(out[i+2:i+6], "fffd")
			i += 5
		}
	}
	return out, true
}

// isSurrogate: hex digits c, d start a code unit in D800-DFFF.
func isSurrogate(c, d byte) bool {
	return (c == 'd' || c == 'D') && (d >= '8' && d <= '9' || d >= 'a' && d <= 'f' || d >= 'A' && d <= 'F')
}

// member is the member name of object v; nil when v is not an object or has
// no such member. With a repeated name the first member counts, as with
// gjson: fastjson's Object.Get compares the still-escaped names first and
// can return a later member ("iss" after "i\u0073s").
func member(v *fastjson.Value, name string) *fastjson.Value {
	if v == nil || v.Type() != fastjson.TypeObject {
		return nil
	}
	o, err := v.Object()
	if err != nil {
		return nil
	}
	var found *fastjson.Value
	o.Visit(func(k []byte, m *fastjson.Value) {
		if found == nil && bytesAre(k, name) {
			found = m
		}
	})
	return found
}

// isType reports whether v exists and has type t.
func isType(v *fastjson.Value, t fastjson.Type) bool { return v != nil && v.Type() == t }

// str is v's string, copied out of the parser's buffer, and whether v is a
// string.
func str(v *fastjson.Value) (string, bool) {
	b, ok := strBytes(v)
	return string(b), ok
}

// strBytes is v's string in the parser's buffer (valid until it parses
// again) and whether v is a string.
func strBytes(v *fastjson.Value) ([]byte, bool) {
	if v == nil {
		return nil, false
	}
	b, err := v.StringBytes()
	return b, err == nil
}

// strIs reports whether v is the string want.
func strIs(v *fastjson.Value, want string) bool {
	b, ok := strBytes(v)
	return ok && bytesAre(b, want)
}

// bytesAre compares without converting b (a conversion may allocate under
// TinyGo, whose instances here never free).
func bytesAre(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if b[i] != s[i] {
			return false
		}
	}
	return true
}

// num is v's value, strconv.ParseFloat of its literal (a literal out of
// range is ±Inf or 0, as gjson had it), and whether v is a number.
func num(v *fastjson.Value) (float64, bool) {
	if !isType(v, fastjson.TypeNumber) {
		return 0, false
	}
	f, _ := strconv.ParseFloat(v.String(), 64)
	return f, true
}

// text is v rendered as gjson's String() rendered it, for the members read
// that way: a string as is, an integer literal as written, other numbers
// reformatted, true and false, "" when absent or null, and an object or
// array as JSON (compact: gjson kept the document's spacing).
func text(v *fastjson.Value) string {
	if v == nil {
		return ""
	}
	switch v.Type() {
	case fastjson.TypeString:
		s, _ := str(v)
		return s
	case fastjson.TypeNumber:
		raw := v.String()
		if !isIntLiteral(raw) {
			f, _ := strconv.ParseFloat(raw, 64)
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		return raw
	case fastjson.TypeTrue:
		return "true"
	case fastjson.TypeFalse:
		return "false"
	case fastjson.TypeObject, fastjson.TypeArray:
		return v.String()
	}
	return ""
}

// isIntLiteral: an optional minus and digits only.
func isIntLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// containsString reports whether v holds the string want among its values:
// an array's elements. As gjson's ForEach did, a lone string counts as a
// one-element array and an object's member values count too (key_ops is
// read with it; the other callers pass arrays only).
func containsString(v *fastjson.Value, want string) bool {
	if v == nil {
		return false
	}
	switch v.Type() {
	case fastjson.TypeString:
		return strIs(v, want)
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, e := range a {
			if strIs(e, want) {
				return true
			}
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		found := false
		o.Visit(func(_ []byte, m *fastjson.Value) { found = found || strIs(m, want) })
		return found
	}
	return false
}
