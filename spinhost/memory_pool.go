//go:build linux

package spinhost

import (
	"context"
	"sync"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memories the way Spin's wasmtime allocates them. Spin enables
// wasmtime's pooling instance allocator (fermyon/spin crates/core/src/lib.rs,
// Config::default: InstanceAllocationStrategy::Pooling when the machine can
// reserve the address space): every instance's memory is a slot of reserved
// virtual address space, memory.grow only makes more of the slot
// accessible (no copy), and a slot is reset for the next instance, the
// first linear_memory_keep_resident bytes by clearing them, the rest by
// discarding the pages (madvise DONTNEED).
//
// wazero's default instead allocates a Go slice and grows it by append: each
// doubling of a TinyGo heap copies the whole memory and clears the new part,
// and the garbage keeps Go's collector busy. That was about 0.9 ms of a
// 2.4 ms static-file request in the test host (pprof of `make bench`'s
// HostLatency), a cost Spin does not have. memoryPool removes it.
//
// Slots stay resident up to memoryKeepResident: on this project's VM a
// page fault costs microseconds, and discarding every page made each
// request fault its 1 MiB back in (the data segment copy alone then took
// longer than the copies it replaced). Clearing 1 MiB costs tens of µs.

// memorySlotBytes is what a slot reserves: the whole wasm32 address space,
// as wasmtime does for 32-bit memories, so no module's maximum is short of
// room. Reserving costs address space, not memory (MAP_NORESERVE): pages
// are backed when first touched. No guard pages are needed: wazero
// bounds-checks against the length it was handed, not the mapping.
const memorySlotBytes = 4 << 30

// memoryKeepResident is how much of a slot is reset by clearing instead
// of discarding its pages.
const memoryKeepResident = 16 << 20

// memoryPoolIdle bounds the slots kept for reuse; more concurrent
// instances than this still work, their slots are unmapped on close.
const memoryPoolIdle = 64

type memoryPool struct {
	mu   sync.Mutex
	free []*memorySlot
}

func newMemoryPool() *memoryPool { return &memoryPool{} }

// Allocate implements experimental.MemoryAllocator. A nil result makes
// instantiation fail with wazero's out-of-memory error, as a pool that
// cannot reserve a slot does in wasmtime.
func (p *memoryPool) Allocate(_, max uint64) experimental.LinearMemory {
	if max > memorySlotBytes {
		return nil
	}
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return s
	}
	p.mu.Unlock()
	b, err := syscall.Mmap(-1, 0, memorySlotBytes, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		// No room to reserve (e.g. vm.overcommit_memory=2 ignores
		// MAP_NORESERVE): a plain Go slice, growing by copying as wazero's
		// own memory does.
		return &sliceMemory{}
	}
	return &memorySlot{pool: p, mem: b}
}

// sliceMemory is wazero's default memory: a Go slice, copied on growth.
type sliceMemory struct{ buf []byte }

func (m *sliceMemory) Reallocate(size uint64) []byte {
	if size > uint64(cap(m.buf)) {
		grown := make([]byte, size)
		copy(grown, m.buf)
		m.buf = grown
	}
	m.buf = m.buf[:size]
	return m.buf
}

func (m *sliceMemory) Free() { m.buf = nil }

// close unmaps the idle slots.
func (p *memoryPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.free {
		_ = syscall.Munmap(s.mem)
	}
	p.free = nil
}

type memorySlot struct {
	pool *memoryPool
	mem  []byte
	used uint64 // the largest length handed out, what Free must reset
}

// Reallocate implements experimental.LinearMemory: growing never moves
// the memory, so nothing is copied.
func (s *memorySlot) Reallocate(size uint64) []byte {
	if size > uint64(len(s.mem)) {
		return nil
	}
	if size > s.used {
		s.used = size
	}
	return s.mem[:size:size]
}

// Free implements experimental.LinearMemory: what the instance used is
// reset to zeros (cleared up to memoryKeepResident, the pages beyond
// discarded), as wasmtime resets a pooled slot, and the slot goes back to
// the pool.
func (s *memorySlot) Free() {
	keep := s.used
	if keep > memoryKeepResident {
		if err := syscall.Madvise(s.mem[memoryKeepResident:s.used], syscall.MADV_DONTNEED); err != nil {
			_ = syscall.Munmap(s.mem)
			return
		}
		keep = memoryKeepResident
	}
	clear(s.mem[:keep])
	s.used = 0
	p := s.pool
	p.mu.Lock()
	if len(p.free) < memoryPoolIdle {
		p.free = append(p.free, s)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	_ = syscall.Munmap(s.mem)
}

// with makes the instances created under ctx take their memory from p.
func (p *memoryPool) with(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, p)
}
