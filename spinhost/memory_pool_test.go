//go:build linux

package spinhost

import (
	"testing"
	"unsafe"
)

// TestMemoryPoolSlots checks what wazero and the guest rely on: growing
// keeps the memory in place with its contents, and a slot handed to the
// next instance reads zeros everywhere the last one wrote, both in the part
// that is cleared and in the part whose pages are discarded.
func TestMemoryPoolSlots(t *testing.T) {
	p := newMemoryPool()
	defer p.close()
	const page = 64 << 10
	m := p.Allocate(page, memorySlotBytes)
	if m == nil {
		t.Fatal("no slot")
	}
	b := m.Reallocate(page)
	b[0], b[page-1] = 1, 2
	grown := m.Reallocate(memoryKeepResident + 2*page)
	if unsafe.SliceData(grown) != unsafe.SliceData(b) || grown[0] != 1 || grown[page-1] != 2 {
		t.Fatal("growing moved the memory or lost its contents")
	}
	if len(grown) != memoryKeepResident+2*page || cap(grown) != len(grown) {
		t.Fatalf("len %d cap %d", len(grown), cap(grown))
	}
	grown[memoryKeepResident+page] = 3 // beyond what is kept resident
	m.Free()

	again := p.Allocate(page, memorySlotBytes)
	if again != m {
		t.Fatal("the freed slot was not reused")
	}
	c := again.Reallocate(memoryKeepResident + 2*page)
	if c[0] != 0 || c[page-1] != 0 || c[memoryKeepResident+page] != 0 {
		t.Fatal("a reused slot shows the last instance's bytes")
	}
	if again.Reallocate(memorySlotBytes+page) != nil {
		t.Fatal("grew past the slot")
	}
	again.Free()
	if p.Allocate(page, memorySlotBytes+page) != nil {
		t.Fatal("accepted a maximum larger than a slot")
	}
}

// TestSliceMemoryGrows: the fallback when no slot can be reserved keeps
// the contents across growth, like wazero's own memory.
func TestSliceMemoryGrows(t *testing.T) {
	m := &sliceMemory{}
	b := m.Reallocate(16)
	b[3] = 7
	if g := m.Reallocate(1 << 16); len(g) != 1<<16 || g[3] != 7 {
		t.Fatalf("len %d, byte %d", len(g), g[3])
	}
	if g := m.Reallocate(8); len(g) != 8 || g[3] != 7 {
		t.Fatal("shrinking the view lost the contents")
	}
}
