package oidc

import "github.com/tidwall/gjson"

// maxNesting bounds how deeply a document from an identity provider may
// nest arrays and objects. Real discovery documents, key sets and token
// responses nest a few levels; gjson recurses, and the small stack of a
// TinyGo instance does not survive deep nesting (a trap, not an error).
const maxNesting = 32

// validJSON checks JSON from outside (identity providers) before gjson
// reads it: shallow enough for a TinyGo stack, then well-formed.
func validJSON(b []byte) bool { return nestingOK(b, maxNesting) && gjson.ValidBytes(b) }

// nestingOK reports whether data nests arrays and objects at most max
// levels deep; brackets inside strings do not count. It does not validate
// the JSON (gjson does), it only keeps the recursive parser shallow.
func nestingOK(data []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > max {
				return false
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return true
}
