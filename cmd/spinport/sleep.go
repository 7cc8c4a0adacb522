//go:build tinygo

package main

import (
	"time"
	"unsafe"
)

// wasiSleep blocks the instance for d with WASI poll_oneoff on a relative
// monotonic-clock subscription. The deployer waits with it while a new
// tenant's ResourceQuota is being computed. time.Sleep cannot be used: in
// TinyGo it parks the current goroutine, and Spin calls the handler from an
// exported function with no goroutine to park (the instance panics with a
// nil pointer dereference).
func wasiSleep(d time.Duration) {
	if d <= 0 {
		return
	}
	sub := wasiSubscriptionClock{id: 1 /* monotonic */, timeout: uint64(d)}
	var ev wasiEvent
	var n uint32
	wasiPollOneoff(unsafe.Pointer(&sub), unsafe.Pointer(&ev), 1, unsafe.Pointer(&n))
}

//go:wasmimport wasi_snapshot_preview1 poll_oneoff
func wasiPollOneoff(in, out unsafe.Pointer, nsubscriptions uint32, nevents unsafe.Pointer) uint32

// wasiSubscriptionClock is a WASI preview 1 subscription (48 bytes) with
// the clock variant: userdata @0, tag @8 (0 = clock), id @16, timeout @24
// (ns), precision @32, flags @40 (0 = relative).
type wasiSubscriptionClock struct {
	userdata  uint64
	tag       uint8
	_         [7]uint8
	id        uint32
	_         uint32
	timeout   uint64
	precision uint64
	flags     uint16
	_         [6]uint8
}

// wasiEvent is a WASI preview 1 event (32 bytes).
type wasiEvent struct {
	userdata uint64
	errno    uint16
	typ      uint8
	_        [5]uint8
	rw       [16]uint8
}
