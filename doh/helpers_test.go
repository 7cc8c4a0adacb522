package doh

// Test helpers: standard library only and no sockets, so the tests also
// run compiled by TinyGo under WASI (hack/tinygo-test.sh ./doh). TinyGo's
// t.Fatal does not stop the test: every Fatal is followed by a return.

import (
	"encoding/binary"
	"strings"
)

// wire builds DNS messages byte by byte, independently of Query.Pack, so
// the tests check the codec against the RFC layout rather than itself.
type wire struct{ b []byte }

func newWire(id, flags uint16, qd, an, ns, ar int) *wire {
	w := &wire{}
	w.u16(id)
	w.u16(flags)
	w.u16(uint16(qd))
	w.u16(uint16(an))
	w.u16(uint16(ns))
	w.u16(uint16(ar))
	return w
}

func (w *wire) off() int           { return len(w.b) }
func (w *wire) u8(v byte) *wire    { w.b = append(w.b, v); return w }
func (w *wire) u16(v uint16) *wire { w.b = binary.BigEndian.AppendUint16(w.b, v); return w }
func (w *wire) u32(v uint32) *wire { w.b = binary.BigEndian.AppendUint32(w.b, v); return w }
func (w *wire) raw(p ...byte) *wire {
	w.b = append(w.b, p...)
	return w
}

// name writes labels uncompressed and ends with the root label.
func (w *wire) name(n string) *wire {
	w.labels(n)
	return w.u8(0)
}

// labels writes labels without the terminating root (follow with ptr).
func (w *wire) labels(n string) *wire {
	if n == "" || n == "." {
		return w
	}
	for _, l := range strings.Split(n, ".") {
		w.u8(byte(len(l)))
		w.b = append(w.b, l...)
	}
	return w
}

// ptr writes a compression pointer to offset.
func (w *wire) ptr(offset int) *wire { return w.u16(0xC000 | uint16(offset)) }

func (w *wire) question(n string, t Type) *wire {
	return w.name(n).u16(uint16(t)).u16(ClassINET)
}

// rr writes the fixed part of a record after its owner name and returns
// a function that writes the RDATA length once the RDATA is written.
func (w *wire) rr(t Type, class uint16, ttl uint32) func() {
	w.u16(uint16(t)).u16(class).u32(ttl)
	at := w.off()
	w.u16(0)
	return func() { binary.BigEndian.PutUint16(w.b[at:], uint16(w.off()-at-2)) }
}

func (w *wire) txt(strs ...string) *wire {
	for _, s := range strs {
		w.u8(byte(len(s)))
		w.b = append(w.b, s...)
	}
	return w
}

// xorshift is a tiny deterministic generator: the same sequence natively
// and under TinyGo, no math/rand seeding differences.
type xorshift uint64

func (x *xorshift) next() uint64 {
	v := uint64(*x)
	v ^= v << 13
	v ^= v >> 7
	v ^= v << 17
	*x = xorshift(v)
	return v
}

func (x *xorshift) intn(n int) int { return int(x.next() % uint64(n)) }
