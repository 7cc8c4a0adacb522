package spinhost

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// The Spin 1 ABI is the pre-component-model "canonical ABI" that
// wit-bindgen 0.2 generated for C: every string or list is a (ptr, len)
// pair of i32s into the guest's linear memory, results are written to a
// return area whose address the guest passes as the last argument, and
// memory the host hands to the guest is allocated by calling the guest's
// exported canonical_abi_realloc. The helpers below are the only place
// that touches guest memory, so every pointer and length the guest gives
// us is bounds-checked here.

// guestFault is what a host function panics with when the guest hands it
// an out-of-range pointer or an otherwise malformed argument. wazero
// recovers panics raised in host functions and returns them as the error
// of the guest call, so the effect is a trap of this one request (HTTP
// 500), never a crash of the host. This mirrors Spin, where the same
// conditions trap the wasmtime instance.
type guestFault struct{ msg string }

func (f guestFault) Error() string { return "guest fault: " + f.msg }

func faultf(format string, args ...any) {
	panic(guestFault{msg: fmt.Sprintf(format, args...)})
}

// guest wraps one module instance for a single host call.
type guest struct {
	ctx context.Context
	mod api.Module
	mem api.Memory
}

func newGuest(ctx context.Context, mod api.Module) *guest {
	mem := mod.Memory()
	if mem == nil {
		faultf("module has no memory")
	}
	return &guest{ctx: ctx, mod: mod, mem: mem}
}

// maxGuestBuffer caps any single string/list the host will copy out of
// the guest. Linear memory is at most 4 GiB anyway; this keeps a corrupt
// length from making the host allocate gigabytes.
const maxGuestBuffer = 256 << 20

// bytes copies len bytes at ptr out of guest memory.
func (g *guest) bytes(ptr, length uint32) []byte {
	if length == 0 {
		return []byte{}
	}
	if length > maxGuestBuffer {
		faultf("buffer of %d bytes at %#x is larger than the host accepts", length, ptr)
	}
	view, ok := g.mem.Read(ptr, length)
	if !ok {
		faultf("buffer [%#x, +%d) is outside linear memory (%d bytes)", ptr, length, g.mem.Size())
	}
	// Read returns a view; copy it because later guest calls (realloc) may
	// grow and move memory.
	out := make([]byte, length)
	copy(out, view)
	return out
}

func (g *guest) string(ptr, length uint32) string { return string(g.bytes(ptr, length)) }

func (g *guest) u8(ptr uint32) uint8 {
	v, ok := g.mem.ReadByte(ptr)
	if !ok {
		faultf("read u8 at %#x outside linear memory", ptr)
	}
	return v
}

func (g *guest) u16(ptr uint32) uint16 {
	v, ok := g.mem.ReadUint16Le(ptr)
	if !ok {
		faultf("read u16 at %#x outside linear memory", ptr)
	}
	return v
}

func (g *guest) u32(ptr uint32) uint32 {
	v, ok := g.mem.ReadUint32Le(ptr)
	if !ok {
		faultf("read u32 at %#x outside linear memory", ptr)
	}
	return v
}

func (g *guest) u64(ptr uint32) uint64 {
	v, ok := g.mem.ReadUint64Le(ptr)
	if !ok {
		faultf("read u64 at %#x outside linear memory", ptr)
	}
	return v
}

func (g *guest) putU8(ptr uint32, v uint8) {
	if !g.mem.WriteByte(ptr, v) {
		faultf("write u8 at %#x outside linear memory", ptr)
	}
}

func (g *guest) putU16(ptr uint32, v uint16) {
	if !g.mem.WriteUint16Le(ptr, v) {
		faultf("write u16 at %#x outside linear memory", ptr)
	}
}

func (g *guest) putU32(ptr uint32, v uint32) {
	if !g.mem.WriteUint32Le(ptr, v) {
		faultf("write u32 at %#x outside linear memory", ptr)
	}
}

func (g *guest) putU64(ptr uint32, v uint64) {
	if !g.mem.WriteUint64Le(ptr, v) {
		faultf("write u64 at %#x outside linear memory", ptr)
	}
}

// checkRange faults unless [ptr, ptr+size) lies in linear memory; used for
// return areas before writing several fields into them.
func (g *guest) checkRange(ptr, size uint32) {
	if uint64(ptr)+uint64(size) > uint64(g.mem.Size()) {
		faultf("return area [%#x, +%d) is outside linear memory (%d bytes)", ptr, size, g.mem.Size())
	}
}

// alloc reserves size bytes in the guest through its canonical_abi_realloc
// export, exactly as wit-bindgen hosts do. The guest owns the memory; the
// instance is thrown away after the request, so nothing is freed.
func (g *guest) alloc(size, align uint32) uint32 {
	// One api.Function per instance: wazero builds a new one, with its own
	// call stack, on every ExportedFunction lookup.
	st := stateFrom(g.ctx)
	if st.realloc == nil {
		st.realloc = g.mod.ExportedFunction("canonical_abi_realloc")
	}
	realloc := st.realloc
	if realloc == nil {
		faultf("module does not export canonical_abi_realloc")
	}
	res, err := realloc.Call(g.ctx, 0, 0, uint64(align), uint64(size))
	if err != nil {
		panic(fmt.Errorf("canonical_abi_realloc(%d): %w", size, err))
	}
	ptr := uint32(res[0])
	if size > 0 {
		g.checkRange(ptr, size)
	}
	return ptr
}

// putBytes copies b into freshly allocated guest memory.
func (g *guest) putBytes(b []byte) (ptr, length uint32) {
	ptr = g.alloc(uint32(len(b)), 1)
	if len(b) > 0 && !g.mem.Write(ptr, b) {
		faultf("write of %d bytes at %#x outside linear memory", len(b), ptr)
	}
	return ptr, uint32(len(b))
}

func (g *guest) putString(s string) (ptr, length uint32) { return g.putBytes([]byte(s)) }

// listElems returns the addresses of n elements of elemSize bytes starting
// at ptr, faulting if the list does not fit in memory.
func (g *guest) listElems(ptr, n, elemSize uint32) []uint32 {
	if n == 0 {
		return nil
	}
	total := uint64(n) * uint64(elemSize)
	if total > maxGuestBuffer || uint64(ptr)+total > uint64(g.mem.Size()) {
		faultf("list of %d elements at %#x is outside linear memory", n, ptr)
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = ptr + uint32(i)*elemSize
	}
	return out
}

// stringList reads a list<string>: n (ptr, len) pairs of 8 bytes.
func (g *guest) stringList(ptr, n uint32) []string {
	elems := g.listElems(ptr, n, 8)
	out := make([]string, len(elems))
	for i, e := range elems {
		out[i] = g.string(g.u32(e), g.u32(e+4))
	}
	return out
}

// stringPairs reads a list<tuple<string,string>> (headers, params): 16
// bytes per element.
func (g *guest) stringPairs(ptr, n uint32) [][2]string {
	elems := g.listElems(ptr, n, 16)
	out := make([][2]string, len(elems))
	for i, e := range elems {
		out[i] = [2]string{g.string(g.u32(e), g.u32(e+4)), g.string(g.u32(e+8), g.u32(e+12))}
	}
	return out
}

// putStringList writes a list<string> and returns its (ptr, len).
func (g *guest) putStringList(items []string) (ptr, length uint32) {
	ptr = g.alloc(uint32(len(items))*8, 4)
	for i, s := range items {
		sp, sl := g.putString(s)
		e := ptr + uint32(i)*8
		g.putU32(e, sp)
		g.putU32(e+4, sl)
	}
	return ptr, uint32(len(items))
}

// putStringPairs writes a list<tuple<string,string>>.
func (g *guest) putStringPairs(items [][2]string) (ptr, length uint32) {
	ptr = g.alloc(uint32(len(items))*16, 4)
	for i, kv := range items {
		kp, kl := g.putString(kv[0])
		vp, vl := g.putString(kv[1])
		e := ptr + uint32(i)*16
		g.putU32(e, kp)
		g.putU32(e+4, kl)
		g.putU32(e+8, vp)
		g.putU32(e+12, vl)
	}
	return ptr, uint32(len(items))
}
