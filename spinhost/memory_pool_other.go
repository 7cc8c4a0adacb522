//go:build !linux

package spinhost

import "context"

// memoryPool is Linux-only (memory_pool.go); elsewhere instances use
// wazero's default memory, which copies on growth.
type memoryPool struct{}

func newMemoryPool() *memoryPool                               { return nil }
func (p *memoryPool) close()                                   {}
func (p *memoryPool) with(ctx context.Context) context.Context { return ctx }
