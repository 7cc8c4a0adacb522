package doh

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"strings"
)

// Type is a DNS resource record type (RFC 1035 3.2.2, RFC 3596, RFC 6891).
type Type uint16

const (
	TypeA     Type = 1
	TypeNS    Type = 2
	TypeCNAME Type = 5
	TypeSOA   Type = 6
	TypeTXT   Type = 16
	TypeAAAA  Type = 28
	TypeOPT   Type = 41
)

func (t Type) String() string {
	switch t {
	case TypeA:
		return "A"
	case TypeNS:
		return "NS"
	case TypeCNAME:
		return "CNAME"
	case TypeSOA:
		return "SOA"
	case TypeTXT:
		return "TXT"
	case TypeAAAA:
		return "AAAA"
	case TypeOPT:
		return "OPT"
	}
	return "TYPE" + strconv.Itoa(int(t)) // RFC 3597 notation
}

// ClassINET is the Internet class, the only one asked for here.
const ClassINET = 1

// Response codes (RFC 1035 4.1.1, RFC 6895).
const (
	RcodeSuccess  = 0 // NOERROR
	RcodeFormErr  = 1 // FORMERR: the server could not read the query
	RcodeServFail = 2 // SERVFAIL: the server (or the name's servers) failed
	RcodeNXDomain = 3 // NXDOMAIN: the name does not exist
	RcodeNotImp   = 4 // NOTIMP
	RcodeRefused  = 5 // REFUSED: policy
)

// RcodeName names an RCODE for error messages.
func RcodeName(rcode uint16) string {
	switch rcode {
	case RcodeSuccess:
		return "NOERROR"
	case RcodeFormErr:
		return "FORMERR"
	case RcodeServFail:
		return "SERVFAIL"
	case RcodeNXDomain:
		return "NXDOMAIN"
	case RcodeNotImp:
		return "NOTIMP"
	case RcodeRefused:
		return "REFUSED"
	case 16:
		return "BADVERS"
	}
	return "RCODE" + strconv.Itoa(int(rcode))
}

const (
	headerLen = 12

	// maxNameWire is the longest name in wire form (RFC 1035 2.3.4),
	// maxNameText the longest in text without the trailing dot.
	maxNameWire = 255
	maxNameText = 253
	maxLabel    = 63

	// maxPointers bounds compression pointers followed in one name. The
	// backward-only rule in readName already rules out loops; this is a
	// second, independent bound (a name has at most 127 labels).
	maxPointers = 127

	// ednsUDPSize is the payload size advertised in an OPT record: the
	// DNS flag day 2020 value. Over HTTPS there is no datagram limit
	// (RFC 8484 6), so it only matters to servers that look at it.
	ednsUDPSize = 1232

	// paddingBlock: RFC 8467 recommends padding queries to a multiple of
	// 128 octets so their length does not reveal the name asked for.
	paddingBlock = 128
	optPadding   = 12 // EDNS0 Padding option (RFC 7830)
	optEDE       = 15 // Extended DNS Error option (RFC 8914)
)

// Header is the fixed part of a DNS message (RFC 1035 4.1.1).
type Header struct {
	ID                 uint16
	Response           bool // QR
	Opcode             uint8
	Authoritative      bool // AA
	Truncated          bool // TC
	RecursionDesired   bool // RD
	RecursionAvailable bool // RA
	AuthenticData      bool // AD (RFC 4035)
	CheckingDisabled   bool // CD (RFC 4035)
	// Rcode is the response code; with an OPT record it includes the
	// extended bits the OPT record carries (RFC 6891 6.1.3).
	Rcode uint16
}

// Question is one entry of the question section.
type Question struct {
	Name  string // text form, no trailing dot ("." for the root)
	Type  Type
	Class uint16
}

// Record is one resource record of the answer, authority or additional
// section. Addr, Target and TXT are set for the types they belong to;
// Data is the raw RDATA for every type (compression pointers in it are
// not expanded: read Target for a CNAME).
type Record struct {
	Name  string // owner name, text form, no trailing dot
	Type  Type
	Class uint16
	TTL   uint32

	Addr   string   // A, AAAA: the address in text form ("192.0.2.1", "2001:db8::1")
	Target string   // CNAME: the canonical name, text form, no trailing dot
	TXT    []string // TXT: the character-strings in order (RFC 1035 3.3.14)
	Data   []byte   // RDATA, a copy
}

// JoinedTXT is a TXT record's value the way SPF, DKIM and domain
// verification read it: its character-strings concatenated without
// separators (RFC 7208 3.3). A value longer than 255 bytes can only be
// published split into several strings, so a verifier must join them.
func (r *Record) JoinedTXT() string { return strings.Join(r.TXT, "") }

// EDNS is what a message's OPT pseudo-record (RFC 6891) says.
type EDNS struct {
	UDPSize        uint16
	Version        uint8
	DNSSECOK       bool            // DO
	ExtendedErrors []ExtendedError // RFC 8914 options, in order
}

// ExtendedError is an Extended DNS Error (RFC 8914): why a resolver
// failed, e.g. 6 "DNSSEC Bogus", 22 "No Reachable Authority".
type ExtendedError struct {
	Code uint16
	Text string // EXTRA-TEXT, may be empty
}

func (e ExtendedError) String() string {
	s := "EDE " + strconv.Itoa(int(e.Code))
	if e.Text != "" {
		s += " " + strconv.Quote(e.Text)
	}
	return s
}

// Message is a parsed DNS message. The OPT record, if any, is in EDNS,
// not in Additional.
type Message struct {
	Header
	Questions  []Question
	Answers    []Record
	Authority  []Record
	Additional []Record
	EDNS       *EDNS
}

// FormatError says why a byte slice is not a DNS message.
type FormatError struct {
	Offset int // where in the message reading stopped
	Reason string
}

func (e *FormatError) Error() string {
	return "doh: malformed DNS message at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

func formatErr(off int, reason string) error { return &FormatError{Offset: off, Reason: reason} }

// Query is a question to send: one name and type, recursion desired.
type Query struct {
	ID   uint16 // the caller's choice; RandomID() gives one
	Name string // validated and lower-cased by CanonicalName
	Type Type
	// EDNS0 adds an OPT record advertising a 1232-byte payload, padded
	// to a multiple of 128 bytes (RFC 8467): resolvers then also answer
	// with an OPT record, which may carry Extended DNS Errors.
	EDNS0 bool
}

// RandomID returns a random message ID. Over HTTPS the ID does not protect
// against spoofing (TLS does); a random one still catches a proxy or
// cache handing back someone else's answer. If the system has no
// randomness the ID is 0, which RFC 8484 4.1 allows.
func RandomID() uint16 {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0
	}
	return binary.BigEndian.Uint16(b[:])
}

// Pack returns the query in wire format.
func (q Query) Pack() ([]byte, error) {
	name, err := CanonicalName(q.Name)
	if err != nil {
		return nil, err
	}
	b := make([]byte, headerLen, 512)
	binary.BigEndian.PutUint16(b[0:], q.ID)
	binary.BigEndian.PutUint16(b[2:], 0x0100) // RD; opcode QUERY
	binary.BigEndian.PutUint16(b[4:], 1)      // QDCOUNT
	if q.EDNS0 {
		binary.BigEndian.PutUint16(b[10:], 1) // ARCOUNT
	}
	b = appendName(b, name)
	b = binary.BigEndian.AppendUint16(b, uint16(q.Type))
	b = binary.BigEndian.AppendUint16(b, ClassINET)
	if q.EDNS0 {
		// OPT: root owner, class = payload size, TTL = extended RCODE,
		// version and flags (all 0), then one Padding option.
		const optFixed = 1 + 2 + 2 + 4 + 2
		const optionHeader = 4
		pad := (paddingBlock - (len(b)+optFixed+optionHeader)%paddingBlock) % paddingBlock
		b = append(b, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(TypeOPT))
		b = binary.BigEndian.AppendUint16(b, ednsUDPSize)
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(optionHeader+pad))
		b = binary.BigEndian.AppendUint16(b, optPadding)
		b = binary.BigEndian.AppendUint16(b, uint16(pad))
		b = append(b, make([]byte, pad)...)
	}
	return b, nil
}

// appendName writes a name CanonicalName accepted, uncompressed.
func appendName(b []byte, name string) []byte {
	if name != "." {
		for _, label := range strings.Split(name, ".") {
			b = append(b, byte(len(label)))
			b = append(b, label...)
		}
	}
	return append(b, 0)
}

// CanonicalName validates a host or record name and returns it
// lower-cased without a trailing dot. It accepts letters, digits, '-' and
// '_' (for names like _spinport-challenge.example.com); at most 253 bytes
// and labels of 1 to 63 bytes, the limits of the wire format (RFC 1035
// 2.3.4). Anything else is refused rather than escaped: these names come
// from tenants and must mean exactly one DNS name.
func CanonicalName(name string) (string, error) {
	n := strings.TrimSuffix(name, ".")
	if n == "" {
		return "", nameErr(name, "is empty")
	}
	if len(n) > maxNameText {
		return "", nameErr(name, "is "+strconv.Itoa(len(n))+" bytes long; DNS names have at most 253")
	}
	labelStart := 0
	for i := 0; i <= len(n); i++ {
		if i == len(n) || n[i] == '.' {
			switch l := i - labelStart; {
			case l == 0:
				return "", nameErr(name, "has an empty label (two dots in a row, or a leading dot)")
			case l > maxLabel:
				return "", nameErr(name, "has the label "+strconv.Quote(clip(n[labelStart:i], 20))+" of "+strconv.Itoa(l)+" bytes; labels have at most 63")
			}
			labelStart = i + 1
			continue
		}
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			reason := "holds " + strconv.QuoteRune(rune(c)) + ": only letters, digits, '-' and '_' are allowed"
			if c >= 0x80 {
				reason = "holds non-ASCII characters: write an internationalized name in its punycode form (xn--...)"
			}
			return "", nameErr(name, reason)
		}
	}
	return strings.ToLower(n), nil
}

// NameError is a name CanonicalName refused.
type NameError struct {
	Name   string
	Reason string
}

func (e *NameError) Error() string {
	return "doh: invalid DNS name " + strconv.Quote(clip(e.Name, 80)) + ": it " + e.Reason
}

func nameErr(name, reason string) error { return &NameError{Name: name, Reason: reason} }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Parse reads a DNS message in wire format. Any input gives a message or
// an error (*FormatError), never a panic: every length and pointer is
// checked against the slice, compression pointers may only point
// backwards (so they cannot loop), and records of types it does not know
// are kept as raw Data. Bytes after the last section are ignored.
func Parse(msg []byte) (*Message, error) {
	if len(msg) < headerLen {
		return nil, formatErr(len(msg), "shorter than the 12-byte header")
	}
	flags := binary.BigEndian.Uint16(msg[2:])
	m := &Message{Header: Header{
		ID:                 binary.BigEndian.Uint16(msg[0:]),
		Response:           flags&0x8000 != 0,
		Opcode:             uint8(flags>>11) & 0xF,
		Authoritative:      flags&0x0400 != 0,
		Truncated:          flags&0x0200 != 0,
		RecursionDesired:   flags&0x0100 != 0,
		RecursionAvailable: flags&0x0080 != 0,
		AuthenticData:      flags&0x0020 != 0,
		CheckingDisabled:   flags&0x0010 != 0,
		Rcode:              flags & 0xF,
	}}
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	an := int(binary.BigEndian.Uint16(msg[6:]))
	ns := int(binary.BigEndian.Uint16(msg[8:]))
	ar := int(binary.BigEndian.Uint16(msg[10:]))

	// Counts come from the message: slices grow as records are actually
	// read, never by a count that a 12-byte message could claim.
	off := headerLen
	for i := 0; i < qd; i++ {
		name, next, err := readName(msg, off)
		if err != nil {
			return nil, err
		}
		if next+4 > len(msg) {
			return nil, formatErr(next, "question "+strconv.Itoa(i+1)+" of "+strconv.Itoa(qd)+" ends before its type and class")
		}
		m.Questions = append(m.Questions, Question{
			Name:  name,
			Type:  Type(binary.BigEndian.Uint16(msg[next:])),
			Class: binary.BigEndian.Uint16(msg[next+2:]),
		})
		off = next + 4
	}
	var err error
	if m.Answers, off, err = readSection(msg, off, an, "answer", m); err != nil {
		return nil, err
	}
	if m.Authority, off, err = readSection(msg, off, ns, "authority", m); err != nil {
		return nil, err
	}
	if m.Additional, _, err = readSection(msg, off, ar, "additional", m); err != nil {
		return nil, err
	}
	return m, nil
}

// readSection reads count records; an OPT record (only allowed in the
// additional section, at most once) goes to m.EDNS.
func readSection(msg []byte, off, count int, section string, m *Message) ([]Record, int, error) {
	var out []Record
	for i := 0; i < count; i++ {
		start := off
		r, next, err := readRecord(msg, off)
		if err != nil {
			if fe, ok := err.(*FormatError); ok {
				fe.Reason = section + " record " + strconv.Itoa(i+1) + " of " + strconv.Itoa(count) + ": " + fe.Reason
			}
			return nil, 0, err
		}
		off = next
		if r.Type != TypeOPT {
			out = append(out, r)
			continue
		}
		if section != "additional" {
			return nil, 0, formatErr(start, "OPT record in the "+section+" section")
		}
		if m.EDNS != nil {
			return nil, 0, formatErr(start, "more than one OPT record") // RFC 6891 6.1.1
		}
		if r.Name != "." {
			return nil, 0, formatErr(start, "OPT record with owner "+strconv.Quote(r.Name)+" instead of the root")
		}
		e, err := readOPT(r, start)
		if err != nil {
			return nil, 0, err
		}
		m.EDNS = e
		m.Rcode |= uint16(r.TTL>>24) << 4
	}
	return out, off, nil
}

func readOPT(r Record, at int) (*EDNS, error) {
	e := &EDNS{UDPSize: r.Class, Version: uint8(r.TTL >> 16), DNSSECOK: r.TTL&0x8000 != 0}
	d := r.Data
	for len(d) > 0 {
		if len(d) < 4 {
			return nil, formatErr(at, "OPT option header cut short")
		}
		code, n := binary.BigEndian.Uint16(d), int(binary.BigEndian.Uint16(d[2:]))
		if 4+n > len(d) {
			return nil, formatErr(at, "OPT option "+strconv.Itoa(int(code))+" longer than the record")
		}
		if code == optEDE {
			if n < 2 {
				return nil, formatErr(at, "Extended DNS Error option shorter than its info-code")
			}
			text := strings.TrimRight(string(d[6:4+n]), "\x00") // RFC 8914 4: may be NUL-terminated
			e.ExtendedErrors = append(e.ExtendedErrors, ExtendedError{Code: binary.BigEndian.Uint16(d[4:]), Text: text})
		}
		d = d[4+n:]
	}
	return e, nil
}

func readRecord(msg []byte, off int) (Record, int, error) {
	name, off, err := readName(msg, off)
	if err != nil {
		return Record{}, 0, err
	}
	if off+10 > len(msg) {
		return Record{}, 0, formatErr(off, "record of "+strconv.Quote(name)+" ends before its type, class, TTL and length")
	}
	r := Record{
		Name:  name,
		Type:  Type(binary.BigEndian.Uint16(msg[off:])),
		Class: binary.BigEndian.Uint16(msg[off+2:]),
		TTL:   binary.BigEndian.Uint32(msg[off+4:]),
	}
	rdStart := off + 10
	rdEnd := rdStart + int(binary.BigEndian.Uint16(msg[off+8:]))
	if rdEnd > len(msg) {
		return Record{}, 0, formatErr(rdStart, r.Type.String()+" record of "+strconv.Quote(name)+" has RDATA past the end of the message")
	}
	rd := msg[rdStart:rdEnd]
	r.Data = append([]byte(nil), rd...)
	switch r.Type {
	case TypeA:
		if len(rd) != 4 {
			return Record{}, 0, formatErr(rdStart, "A record with "+strconv.Itoa(len(rd))+" bytes of RDATA instead of 4")
		}
		r.Addr = formatIPv4(rd)
	case TypeAAAA:
		if len(rd) != 16 {
			return Record{}, 0, formatErr(rdStart, "AAAA record with "+strconv.Itoa(len(rd))+" bytes of RDATA instead of 16")
		}
		r.Addr = formatIPv6(rd)
	case TypeCNAME:
		// The target may use compression pointers into the whole message
		// (RFC 1035 4.1.4), so read it from msg, not from rd; its own
		// bytes must end exactly at the end of the RDATA.
		target, end, err := readName(msg, rdStart)
		if err != nil {
			return Record{}, 0, err
		}
		if end != rdEnd {
			return Record{}, 0, formatErr(rdStart, "CNAME RDATA length does not match its name")
		}
		r.Target = target
	case TypeTXT:
		for i := 0; i < len(rd); {
			n := int(rd[i])
			if i+1+n > len(rd) {
				return Record{}, 0, formatErr(rdStart+i, "TXT character-string longer than the record")
			}
			r.TXT = append(r.TXT, string(rd[i+1:i+1+n]))
			i += 1 + n
		}
		if r.TXT == nil {
			r.TXT = []string{} // an empty TXT RDATA: no strings, still a TXT record
		}
	}
	return r, rdEnd, nil
}

// readName reads a possibly compressed name at off and returns it in text
// form (no trailing dot, "." for the root; bytes outside letters, digits,
// '-' and '_' escaped as \DDD, '.' and '\' as \. and \\ per RFC 1035 5.1,
// so one text form means one wire name) and the offset after it.
//
// A compression pointer must point before itself: each jump then lands
// strictly earlier than the previous one, so no sequence of pointers can
// loop, whatever the input. Compressors only ever point back to names
// already written, so this refuses no real message.
func readName(msg []byte, off int) (string, int, error) {
	var b []byte
	next := -1 // offset after the name where it started (before the first pointer)
	wire := 0
	pointers := 0
	for {
		if off >= len(msg) {
			return "", 0, formatErr(off, "name runs past the end of the message")
		}
		c := int(msg[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				if len(b) == 0 {
					return ".", next, nil
				}
				return string(b[:len(b)-1]), next, nil
			}
			if off+1+c > len(msg) {
				return "", 0, formatErr(off, "label runs past the end of the message")
			}
			wire += 1 + c
			if wire+1 > maxNameWire {
				return "", 0, formatErr(off, "name longer than 255 bytes")
			}
			b = appendLabel(b, msg[off+1:off+1+c])
			b = append(b, '.')
			off += 1 + c
		case 0xC0:
			if off+2 > len(msg) {
				return "", 0, formatErr(off, "compression pointer cut short")
			}
			ptr := int(binary.BigEndian.Uint16(msg[off:]) & 0x3FFF)
			if ptr >= off {
				return "", 0, formatErr(off, "compression pointer to "+strconv.Itoa(ptr)+" does not point backwards")
			}
			if ptr < headerLen {
				return "", 0, formatErr(off, "compression pointer into the header")
			}
			if pointers++; pointers > maxPointers {
				return "", 0, formatErr(off, "too many compression pointers")
			}
			if next < 0 {
				next = off + 2
			}
			off = ptr
		default:
			// 0x40 (extended labels, RFC 6891 obsoleted them) and 0x80.
			return "", 0, formatErr(off, "unsupported label type 0x"+strconv.FormatInt(int64(c&0xC0), 16))
		}
	}
}

func appendLabel(b, label []byte) []byte {
	for _, c := range label {
		switch {
		case c == '.' || c == '\\':
			b = append(b, '\\', c)
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b = append(b, c)
		default:
			b = append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		}
	}
	return b
}

func formatIPv4(b []byte) string {
	return strconv.Itoa(int(b[0])) + "." + strconv.Itoa(int(b[1])) + "." + strconv.Itoa(int(b[2])) + "." + strconv.Itoa(int(b[3]))
}

// formatIPv6 writes RFC 5952 text (the form net/netip prints): lower-case
// hex, the longest run of two or more zero groups (the first of equal
// runs) as "::", and IPv4-mapped addresses as ::ffff:a.b.c.d.
// Hand-written to keep net and net/netip out of the TinyGo build.
func formatIPv6(b []byte) string {
	isMapped := true
	for i := 0; i < 10; i++ {
		if b[i] != 0 {
			isMapped = false
		}
	}
	if isMapped && b[10] == 0xff && b[11] == 0xff {
		return "::ffff:" + formatIPv4(b[12:])
	}
	var g [8]uint16
	for i := range g {
		g[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	bestStart, bestLen := -1, 1
	for i := 0; i < 8; {
		if g[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && g[j] == 0 {
			j++
		}
		if j-i > bestLen {
			bestStart, bestLen = i, j-i
		}
		i = j
	}
	var s strings.Builder
	for i := 0; i < 8; i++ {
		if i == bestStart {
			s.WriteString("::")
			i += bestLen - 1
			continue
		}
		if i > 0 && i != bestStart+bestLen {
			s.WriteByte(':')
		}
		s.WriteString(strconv.FormatUint(uint64(g[i]), 16))
	}
	return s.String()
}
