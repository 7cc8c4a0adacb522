package jsonw

// MaxDepth bounds how deeply spinport lets JSON it reads (request bodies,
// documents from identity providers) nest arrays and objects. Its own
// documents nest a few levels; fastjson recurses, and the small
// stack of a TinyGo instance did not survive ~150 levels (a trap, an empty
// 500, not an error).
const MaxDepth = 32

// Shallow reports whether data nests arrays and objects at most max levels
// deep; brackets inside strings do not count. It does not validate the
// JSON (the parser does), it only keeps the recursive parser shallow.
func Shallow(data []byte, max int) bool {
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
