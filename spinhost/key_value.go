package spinhost

import (
	"context"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Host side of the Spin 1 "key-value" interface (wit/key-value.wit, the
// Go SDK's kv/key-value.c). Results use wit-bindgen 0.2's layout:
//
//	expected<T, error> at ret: u8 tag @0 (0 ok, 1 err)
//	  ok   store u32 @4 | list (ptr @4, len @8) | bool u8 @4 | unit
//	  err  variant tag u8 @4, io(string) payload (ptr @8, len @8+4)
//
// Semantics follow Spin's KeyValueDispatch: a label not listed in the
// component's key_value_stores is access-denied; get of a missing key is
// no-such-key; at most 256 stores are open per instance.

func registerKeyValue(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder("key-value").
		NewFunctionBuilder().WithFunc(kvOpen).Export("open").
		NewFunctionBuilder().WithFunc(kvGet).Export("get").
		NewFunctionBuilder().WithFunc(kvSet).Export("set").
		NewFunctionBuilder().WithFunc(kvDelete).Export("delete").
		NewFunctionBuilder().WithFunc(kvExists).Export("exists").
		NewFunctionBuilder().WithFunc(kvGetKeys).Export("get-keys").
		NewFunctionBuilder().WithFunc(kvClose).Export("close").
		Instantiate(ctx)
	return err
}

// writeKVErr writes the err arm of an expected<_, error>.
func writeKVErr(g *guest, ret uint32, e *kvError) {
	g.checkRange(ret, 16)
	g.putU8(ret, 1)
	g.putU8(ret+4, e.tag)
	if e.tag == kvErrIO {
		p, l := g.putString(e.msg)
		g.putU32(ret+8, p)
		g.putU32(ret+12, l)
	}
}

func writeKVUnit(g *guest, ret uint32, e *kvError) {
	if e != nil {
		writeKVErr(g, ret, e)
		return
	}
	g.checkRange(ret, 1)
	g.putU8(ret, 0)
}

func kvOpen(ctx context.Context, m api.Module, namePtr, nameLen, ret uint32) {
	g := newGuest(ctx, m)
	st := stateFrom(ctx)
	name := g.string(namePtr, nameLen)
	id, e := st.kv.openStore(ctx, name)
	if e != nil {
		writeKVErr(g, ret, e)
		return
	}
	g.checkRange(ret, 8)
	g.putU8(ret, 0)
	g.putU32(ret+4, id)
}

func kvGet(ctx context.Context, m api.Module, store, keyPtr, keyLen, ret uint32) {
	g := newGuest(ctx, m)
	key := g.string(keyPtr, keyLen)
	s, e := stateFrom(ctx).kv.get(store)
	if e != nil {
		writeKVErr(g, ret, e)
		return
	}
	v, ok, err := s.Get(ctx, key)
	if err != nil {
		writeKVErr(g, ret, ioErr(err))
		return
	}
	if !ok {
		writeKVErr(g, ret, &kvError{tag: kvErrNoSuchKey})
		return
	}
	p, l := g.putBytes(v)
	g.checkRange(ret, 12)
	g.putU8(ret, 0)
	g.putU32(ret+4, p)
	g.putU32(ret+8, l)
}

func kvSet(ctx context.Context, m api.Module, store, keyPtr, keyLen, valPtr, valLen, ret uint32) {
	g := newGuest(ctx, m)
	key := g.string(keyPtr, keyLen)
	val := g.bytes(valPtr, valLen)
	s, e := stateFrom(ctx).kv.get(store)
	if e == nil {
		e = ioErr(s.Set(ctx, key, val))
	}
	writeKVUnit(g, ret, e)
}

func kvDelete(ctx context.Context, m api.Module, store, keyPtr, keyLen, ret uint32) {
	g := newGuest(ctx, m)
	key := g.string(keyPtr, keyLen)
	s, e := stateFrom(ctx).kv.get(store)
	if e == nil {
		e = ioErr(s.Delete(ctx, key))
	}
	writeKVUnit(g, ret, e)
}

func kvExists(ctx context.Context, m api.Module, store, keyPtr, keyLen, ret uint32) {
	g := newGuest(ctx, m)
	key := g.string(keyPtr, keyLen)
	s, e := stateFrom(ctx).kv.get(store)
	if e != nil {
		writeKVErr(g, ret, e)
		return
	}
	ok, err := s.Exists(ctx, key)
	if err != nil {
		writeKVErr(g, ret, ioErr(err))
		return
	}
	g.checkRange(ret, 5)
	g.putU8(ret, 0)
	b := uint8(0)
	if ok {
		b = 1
	}
	g.putU8(ret+4, b)
}

func kvGetKeys(ctx context.Context, m api.Module, store, ret uint32) {
	g := newGuest(ctx, m)
	s, e := stateFrom(ctx).kv.get(store)
	if e != nil {
		writeKVErr(g, ret, e)
		return
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		writeKVErr(g, ret, ioErr(err))
		return
	}
	p, l := g.putStringList(keys)
	g.checkRange(ret, 12)
	g.putU8(ret, 0)
	g.putU32(ret+4, p)
	g.putU32(ret+8, l)
}

// kvClose drops the handle; closing an unknown handle is a no-op, as the
// WIT documents.
func kvClose(ctx context.Context, m api.Module, store uint32) {
	delete(stateFrom(ctx).kv.open, store)
}
