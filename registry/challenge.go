package registry

import "strings"

// Challenge is one WWW-Authenticate challenge (RFC 9110 section 11.6.1),
// e.g. Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/web:pull".
type Challenge struct {
	Scheme string            // lowercase: "bearer", "basic"
	Params map[string]string // keys lowercase: "realm", "service", "scope"
}

// ParseChallenges parses WWW-Authenticate header values. One value may
// hold several challenges (`Bearer realm="a", Basic realm="b"`), and a
// quoted value may hold commas (scope="repository:a:pull,push"). Malformed
// parts are skipped, never fatal: the caller falls back to "no usable
// challenge".
func ParseChallenges(values []string) []Challenge {
	var out []Challenge
	for _, v := range values {
		out = append(out, parseChallengeValue(v)...)
	}
	return out
}

func parseChallengeValue(s string) []Challenge {
	var out []Challenge
	p := &lexer{s: s}
	for {
		p.skip(" \t,")
		if p.done() {
			return out
		}
		scheme := p.token()
		if scheme == "" {
			p.i++ // not a token character: skip it and resynchronise
			continue
		}
		c := Challenge{Scheme: strings.ToLower(scheme), Params: map[string]string{}}
		for {
			p.skip(" \t")
			save := p.i
			name := p.token()
			p.skip(" \t")
			if name == "" || p.done() || p.s[p.i] != '=' {
				// Not name=value: the start of the next challenge (or
				// a token68, which registries do not send: skipped).
				p.i = save
				break
			}
			p.i++ // '='
			p.skip(" \t")
			var val string
			if !p.done() && p.s[p.i] == '"' {
				val = p.quoted()
			} else {
				// RFC 9110 wants a token here; servers do send bare
				// URLs (realm=https://...), so read up to , or space.
				start := p.i
				for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ' ' && p.s[p.i] != '\t' {
					p.i++
				}
				val = p.s[start:p.i]
			}
			c.Params[strings.ToLower(name)] = val
			p.skip(" \t")
			if p.done() {
				break
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			break
		}
		out = append(out, c)
	}
}

type lexer struct {
	s string
	i int
}

func (p *lexer) done() bool { return p.i >= len(p.s) }

func (p *lexer) skip(chars string) {
	for p.i < len(p.s) && strings.IndexByte(chars, p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *lexer) token() string {
	start := p.i
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string (at p.s[p.i] == '"'), undoing \ escapes.
// An unterminated string ends at the end of the value.
func (p *lexer) quoted() string {
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return b.String()
		case c == '\\' && p.i < len(p.s):
			b.WriteByte(p.s[p.i])
			p.i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isTokenChar: RFC 9110 tchar.
func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
