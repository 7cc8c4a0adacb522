package doh

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestPackQuery(t *testing.T) {
	got, err := Query{ID: 0xBEEF, Name: "Www.Example.COM.", Type: TypeTXT}.Pack()
	if err != nil {
		t.Fatal(err)
		return
	}
	want := newWire(0xBEEF, 0x0100, 1, 0, 0, 0).question("www.example.com", TypeTXT).b
	if !bytes.Equal(got, want) {
		t.Errorf("Pack:\n got % x\nwant % x", got, want)
	}
}

func TestPackQueryEDNS0Padded(t *testing.T) {
	for _, name := range []string{"a.b", "_spinport-challenge.example.com", strings.Repeat("x", 63) + "." + strings.Repeat("y", 63)} {
		b, err := Query{ID: 7, Name: name, Type: TypeAAAA, EDNS0: true}.Pack()
		if err != nil {
			t.Fatal(err)
			return
		}
		if len(b)%128 != 0 {
			t.Errorf("%s: query of %d bytes is not padded to a multiple of 128", name, len(b))
		}
		m, err := Parse(b)
		if err != nil {
			t.Errorf("%s: Parse(Pack()): %v", name, err)
			continue
		}
		if m.ID != 7 || m.Response || !m.RecursionDesired || len(m.Questions) != 1 ||
			m.Questions[0] != (Question{Name: name, Type: TypeAAAA, Class: ClassINET}) {
			t.Errorf("%s: round trip gave %+v", name, m)
		}
		if m.EDNS == nil || m.EDNS.UDPSize != 1232 || m.EDNS.Version != 0 || m.EDNS.DNSSECOK || len(m.Additional) != 0 {
			t.Errorf("%s: OPT record not as sent: %+v, additional %+v", name, m.EDNS, m.Additional)
		}
	}
}

func TestPackQueryRefusesBadNames(t *testing.T) {
	if _, err := (Query{Name: "a..b", Type: TypeA}).Pack(); err == nil {
		t.Error("Pack accepted an empty label")
	}
}

// richResponse is a response using compression everywhere a server may:
// owner names, a CNAME target that ends in a pointer, an SOA in the
// authority section, an OPT record with an Extended DNS Error.
func richResponse() (*wire, int) {
	w := newWire(0x1234, 0x8180|0x0020, 1, 6, 1, 1) // QR RD RA AD, NOERROR
	w.question("www.Example.com", TypeTXT)          // name at 12, "example.com" at 16
	w.ptr(12)
	end := w.rr(TypeCNAME, ClassINET, 300)
	target := w.off()
	w.labels("edge").ptr(16) // edge.example.com
	end()

	w.ptr(target)
	end = w.rr(TypeTXT, ClassINET, 60)
	w.txt("v=spinport1 ", "token=abc", "")
	end()

	w.ptr(target)
	end = w.rr(TypeTXT, ClassINET, 60)
	w.txt("second")
	end()

	w.ptr(target)
	end = w.rr(TypeA, ClassINET, 30)
	w.raw(192, 0, 2, 1)
	end()

	w.ptr(target)
	end = w.rr(TypeAAAA, ClassINET, 30)
	w.raw(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
	end()

	w.ptr(12)
	end = w.rr(Type(99), ClassINET, 5) // unknown type: kept raw
	w.raw(1, 2, 3)
	end()

	w.ptr(16)
	end = w.rr(TypeSOA, ClassINET, 3600)
	w.labels("ns1").ptr(16).labels("hostmaster").ptr(16).u32(2024010101).u32(7200).u32(900).u32(1209600).u32(300)
	end()

	w.u8(0) // OPT
	end = w.rr(TypeOPT, 1232, 0x00008000)
	w.u16(optEDE).u16(2 + 22).u16(22).raw([]byte("No Reachable Authority")...)
	w.u16(optPadding).u16(3).raw(0, 0, 0)
	end()
	return w, target
}

func TestParseCompressedResponse(t *testing.T) {
	w, _ := richResponse()
	m, err := Parse(w.b)
	if err != nil {
		t.Fatal(err)
		return
	}
	h := m.Header
	if h.ID != 0x1234 || !h.Response || !h.RecursionDesired || !h.RecursionAvailable || !h.AuthenticData ||
		h.Authoritative || h.Truncated || h.CheckingDisabled || h.Opcode != 0 || h.Rcode != RcodeSuccess {
		t.Errorf("header: %+v", h)
	}
	if len(m.Questions) != 1 || m.Questions[0] != (Question{"www.Example.com", TypeTXT, ClassINET}) {
		t.Errorf("questions: %+v", m.Questions)
	}
	if len(m.Answers) != 6 {
		t.Fatalf("answers: %d, want 6: %+v", len(m.Answers), m.Answers)
		return
	}
	a := m.Answers
	if a[0].Name != "www.Example.com" || a[0].Type != TypeCNAME || a[0].TTL != 300 || a[0].Target != "edge.Example.com" {
		t.Errorf("CNAME: %+v", a[0])
	}
	if a[1].Name != "edge.Example.com" || a[1].Type != TypeTXT || len(a[1].TXT) != 3 ||
		a[1].TXT[0] != "v=spinport1 " || a[1].TXT[1] != "token=abc" || a[1].TXT[2] != "" {
		t.Errorf("TXT: %+v", a[1])
	}
	if got := a[1].JoinedTXT(); got != "v=spinport1 token=abc" {
		t.Errorf("JoinedTXT = %q", got)
	}
	if a[2].JoinedTXT() != "second" {
		t.Errorf("second TXT: %+v", a[2])
	}
	if a[3].Type != TypeA || a[3].Addr != "192.0.2.1" || a[3].Name != "edge.Example.com" {
		t.Errorf("A: %+v", a[3])
	}
	if a[4].Type != TypeAAAA || a[4].Addr != "2001:db8::1" {
		t.Errorf("AAAA: %+v", a[4])
	}
	if a[5].Type != Type(99) || a[5].Type.String() != "TYPE99" || !bytes.Equal(a[5].Data, []byte{1, 2, 3}) || a[5].Addr != "" || a[5].TXT != nil {
		t.Errorf("unknown type: %+v", a[5])
	}
	if len(m.Authority) != 1 || m.Authority[0].Type != TypeSOA || m.Authority[0].Name != "Example.com" || len(m.Authority[0].Data) != 1+3+2+1+10+2+20 {
		t.Errorf("authority: %+v", m.Authority)
	}
	if len(m.Additional) != 0 || m.EDNS == nil || m.EDNS.UDPSize != 1232 || !m.EDNS.DNSSECOK ||
		len(m.EDNS.ExtendedErrors) != 1 || m.EDNS.ExtendedErrors[0] != (ExtendedError{22, "No Reachable Authority"}) {
		t.Errorf("EDNS: %+v, additional %+v", m.EDNS, m.Additional)
	}

	// Data is a copy: changing the message afterwards changes nothing.
	for i := range w.b {
		w.b[i] = 0xFF
	}
	if !bytes.Equal(a[5].Data, []byte{1, 2, 3}) {
		t.Error("Record.Data aliases the message")
	}
}

func TestParseExtendedRcode(t *testing.T) {
	w := newWire(1, 0x8000, 0, 0, 0, 1)
	w.u8(0)
	end := w.rr(TypeOPT, 512, 0x01000000) // extended RCODE 1 -> 16
	end()
	m, err := Parse(w.b)
	if err != nil {
		t.Fatal(err)
		return
	}
	if m.Rcode != 16 || RcodeName(m.Rcode) != "BADVERS" {
		t.Errorf("Rcode = %d (%s), want 16", m.Rcode, RcodeName(m.Rcode))
	}
}

func TestParseEscapesOddLabels(t *testing.T) {
	w := newWire(1, 0x8000, 1, 0, 0, 0)
	w.u8(5).raw('a', '.', 'b', ' ', 0xC3).u8(2).raw('\\', 'Z').u8(0).u16(1).u16(1)
	m, err := Parse(w.b)
	if err != nil {
		t.Fatal(err)
		return
	}
	if got, want := m.Questions[0].Name, `a\.b\032\195.\\Z`; got != want {
		t.Errorf("name = %q, want %q", got, want)
	}
}

func TestParseRootAndEmptyTXT(t *testing.T) {
	w := newWire(1, 0x8000, 1, 1, 0, 0)
	w.question(".", TypeNS)
	w.u8(0)
	end := w.rr(TypeTXT, ClassINET, 1)
	end()
	m, err := Parse(w.b)
	if err != nil {
		t.Fatal(err)
		return
	}
	if m.Questions[0].Name != "." || m.Answers[0].Name != "." || m.Answers[0].TXT == nil || len(m.Answers[0].TXT) != 0 {
		t.Errorf("got %+v", m)
	}
}

func TestParseMaxLengthName(t *testing.T) {
	// 4 labels of 63 bytes = 4*64 + 1 = 257 bytes: too long; 3 of 63 and
	// one of 61 = 255: the longest allowed.
	l63, l61 := strings.Repeat("a", 63), strings.Repeat("b", 61)
	ok := l63 + "." + l63 + "." + l63 + "." + l61
	w := newWire(1, 0x8000, 1, 0, 0, 0).question(ok, TypeA)
	if m, err := Parse(w.b); err != nil || m.Questions[0].Name != ok {
		t.Errorf("255-byte name: %v", err)
	}
	w = newWire(1, 0x8000, 1, 0, 0, 0).question(ok+"c", TypeA)
	if _, err := Parse(w.b); err == nil || !strings.Contains(err.Error(), "longer than 255") {
		t.Errorf("256-byte name: %v", err)
	}
	// The same limit through pointers: a name that reuses itself grows.
	w = newWire(1, 0x8000, 2, 0, 0, 0).question(l63+"."+l63+"."+l63, TypeA)
	w.labels(l63).ptr(12).u16(1).u16(1)
	if _, err := Parse(w.b); err == nil || !strings.Contains(err.Error(), "longer than 255") {
		t.Errorf("256-byte name through a pointer: %v", err)
	}
}

func TestParseMalformed(t *testing.T) {
	q := func() *wire { return newWire(1, 0x8000, 1, 1, 0, 0).question("example.com", TypeA) }
	cases := []struct {
		name  string
		build func() []byte
		want  string
	}{
		{"empty", func() []byte { return nil }, "header"},
		{"short header", func() []byte { return []byte{1, 2, 3} }, "header"},
		{"question missing", func() []byte { return newWire(1, 0x8000, 1, 0, 0, 0).b }, "past the end"},
		{"question without type", func() []byte { return newWire(1, 0x8000, 1, 0, 0, 0).name("a").u8(0).b }, "type and class"},
		{"more answers claimed than present", func() []byte { return newWire(1, 0x8000, 0, 65535, 0, 0).b }, "answer record 1 of 65535"},
		{"pointer to itself", func() []byte {
			w := q()
			w.ptr(w.off())
			return w.b
		}, "backwards"},
		{"pointer forward", func() []byte {
			w := q()
			w.ptr(w.off() + 2).u8(0)
			return w.b
		}, "backwards"},
		{"pointer loop", func() []byte {
			// A name at x: label "a" then a pointer to y > x; the name at y
			// points back to x. Following from x would loop.
			w := q()
			x := w.off()
			w.labels("a").ptr(x + 4)
			w.ptr(x)
			return w.b
		}, "backwards"},
		{"pointer into the header", func() []byte { return q().ptr(4).b }, "header"},
		{"pointer cut short", func() []byte { return q().u8(0xC0).b }, "cut short"},
		{"label past the end", func() []byte { return q().u8(10).raw('a', 'b').b }, "past the end"},
		{"extended label type", func() []byte { return q().u8(0x41).b }, "label type 0x40"},
		{"label type 0x80", func() []byte { return q().u8(0x81).b }, "label type 0x80"},
		{"record without fixed part", func() []byte { return q().ptr(12).u16(1).b }, "type, class, TTL"},
		{"RDATA past the end", func() []byte {
			w := q().ptr(12)
			w.u16(1).u16(1).u32(1).u16(4).raw(1, 2)
			return w.b
		}, "past the end"},
		{"A of 5 bytes", func() []byte {
			w := q().ptr(12)
			end := w.rr(TypeA, ClassINET, 1)
			w.raw(1, 2, 3, 4, 5)
			end()
			return w.b
		}, "instead of 4"},
		{"AAAA of 4 bytes", func() []byte {
			w := q().ptr(12)
			end := w.rr(TypeAAAA, ClassINET, 1)
			w.raw(1, 2, 3, 4)
			end()
			return w.b
		}, "instead of 16"},
		{"TXT string longer than RDATA", func() []byte {
			w := q().ptr(12)
			end := w.rr(TypeTXT, ClassINET, 1)
			w.u8(9).raw('a', 'b')
			end()
			w.raw(0, 0, 0, 0, 0, 0, 0) // bytes after the RDATA must not be read as the string
			return w.b
		}, "TXT character-string"},
		{"CNAME longer than RDATA", func() []byte {
			w := q().ptr(12)
			end := w.rr(TypeCNAME, ClassINET, 1)
			w.labels("a")
			end()
			w.labels("b").u8(0)
			return w.b
		}, "CNAME RDATA length"},
		{"CNAME shorter than RDATA", func() []byte {
			w := q().ptr(12)
			end := w.rr(TypeCNAME, ClassINET, 1)
			w.ptr(12).u8(0)
			end()
			return w.b
		}, "CNAME RDATA length"},
		{"OPT in the answer section", func() []byte {
			w := q().u8(0)
			w.rr(TypeOPT, 512, 0)()
			return w.b
		}, "OPT record in the answer"},
		{"two OPT records", func() []byte {
			w := newWire(1, 0x8000, 0, 0, 0, 2)
			w.u8(0)
			w.rr(TypeOPT, 512, 0)()
			w.u8(0)
			w.rr(TypeOPT, 512, 0)()
			return w.b
		}, "more than one OPT"},
		{"OPT not at the root", func() []byte {
			w := newWire(1, 0x8000, 0, 0, 0, 1)
			w.name("a")
			w.rr(TypeOPT, 512, 0)()
			return w.b
		}, "instead of the root"},
		{"OPT option cut short", func() []byte {
			w := newWire(1, 0x8000, 0, 0, 0, 1)
			w.u8(0)
			end := w.rr(TypeOPT, 512, 0)
			w.u16(optEDE).u16(10).u16(1)
			end()
			return w.b
		}, "longer than the record"},
		{"EDE without info-code", func() []byte {
			w := newWire(1, 0x8000, 0, 0, 0, 1)
			w.u8(0)
			end := w.rr(TypeOPT, 512, 0)
			w.u16(optEDE).u16(1).u8(0)
			end()
			return w.b
		}, "info-code"},
	}
	for _, c := range cases {
		m, err := Parse(c.build())
		if err == nil {
			t.Errorf("%s: parsed: %+v", c.name, m)
			continue
		}
		if _, ok := err.(*FormatError); !ok {
			t.Errorf("%s: error %T, want *FormatError", c.name, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not say %q", c.name, err, c.want)
		}
	}
}

// Every strict prefix of a valid message lacks bytes the header promises:
// each must be an error, none a panic.
func TestParseTruncated(t *testing.T) {
	w, _ := richResponse()
	for n := 0; n < len(w.b); n++ {
		if m, err := parseNoPanic(w.b[:n]); err == nil {
			t.Errorf("prefix of %d bytes parsed: %+v", n, m)
		}
	}
}

// Mutated and random messages: any outcome but a panic is fine.
func TestParseGarbage(t *testing.T) {
	w, _ := richResponse()
	q, _ := Query{ID: 1, Name: "a.example.com", Type: TypeA, EDNS0: true}.Pack()
	seeds := [][]byte{w.b, q}
	rng := xorshift(0x9E3779B97F4A7C15)
	buf := make([]byte, 0, 600)
	for i := 0; i < 20000; i++ {
		buf = append(buf[:0], seeds[i%len(seeds)]...)
		switch i % 4 {
		case 0: // flip a few bytes
			for k := 0; k <= rng.intn(4); k++ {
				buf[rng.intn(len(buf))] = byte(rng.next())
			}
		case 1: // cut, then flip one byte
			buf = buf[:rng.intn(len(buf))+1]
			buf[rng.intn(len(buf))] ^= byte(1 << rng.intn(8))
		case 2: // counts and pointers are where parsers break: aim there
			binary.BigEndian.PutUint16(buf[4+2*rng.intn(4):], uint16(rng.next()))
			buf[12+rng.intn(len(buf)-12)] |= 0xC0
		case 3: // pure noise
			buf = buf[:rng.intn(cap(buf))]
			for k := range buf {
				buf[k] = byte(rng.next())
			}
		}
		if _, err := parseNoPanic(buf); err != nil {
			if _, ok := err.(*panicError); ok {
				t.Fatalf("Parse panicked on % x: %v", buf, err)
				return
			}
		}
	}
}

type panicError struct{ v interface{} }

func (p *panicError) Error() string { return "panic" }

func parseNoPanic(b []byte) (m *Message, err error) {
	defer func() {
		if v := recover(); v != nil {
			m, err = nil, &panicError{v}
		}
	}()
	return Parse(b)
}

func TestCanonicalName(t *testing.T) {
	ok := map[string]string{
		"Example.COM":                     "example.com",
		"example.com.":                    "example.com",
		"_spinport-challenge.App.Example": "_spinport-challenge.app.example",
		"a":                               "a",
		"xn--bcher-kva.example":           "xn--bcher-kva.example",
		strings.Repeat("a", 63) + ".b":    strings.Repeat("a", 63) + ".b",
		strings.Repeat("a.", 126) + "b":   strings.Repeat("a.", 126) + "b", // 253 bytes
	}
	for in, want := range ok {
		if got, err := CanonicalName(in); err != nil || got != want {
			t.Errorf("CanonicalName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                               "empty",
		".":                              "empty",
		"a..b":                           "empty label",
		".a":                             "empty label",
		"a.b..":                          "empty label",
		strings.Repeat("a", 64) + ".b":   "at most 63",
		strings.Repeat("a.", 126) + "bc": "at most 253",
		"a b.com":                        "only letters",
		"a/b":                            "only letters",
		`a\.b`:                           "only letters",
		"bücher.example":                 "punycode",
		"a*.example":                     "only letters",
	}
	for in, want := range bad {
		_, err := CanonicalName(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CanonicalName(%q): %v, want an error saying %q", in, err, want)
		}
		if _, ok := err.(*NameError); err != nil && !ok {
			t.Errorf("CanonicalName(%q): %T, want *NameError", in, err)
		}
	}
}

func TestFormatIPv6(t *testing.T) {
	cases := map[string][16]byte{
		"::":                   {},
		"::1":                  {15: 1},
		"1::":                  {1: 1},
		"2001:db8::1":          {0x20, 0x01, 0x0d, 0xb8, 15: 1},
		"2001:db8:0:1:1:1:1:1": {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1},
		"2001:0:0:1::1":        {0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1},
		"1:0:0:2::":            {0, 1, 0, 0, 0, 0, 0, 2},
		"ff02::1:ff00:1":       {0xff, 0x02, 11: 1, 12: 0xff, 15: 1},
		"::ffff:192.0.2.1":     {10: 0xff, 11: 0xff, 12: 192, 13: 0, 14: 2, 15: 1},
		"abcd:ef01:2345:6789:abcd:ef01:2345:6789": {0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89},
	}
	for want, b := range cases {
		if got := formatIPv6(b[:]); got != want {
			t.Errorf("formatIPv6(% x) = %q, want %q", b, got, want)
		}
	}
}
