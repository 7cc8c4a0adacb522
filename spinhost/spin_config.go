package spinhost

import (
	"context"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Host side of "spin-config".get-config (wit/spin-config.wit), which the
// Go SDK's variables package calls:
//
//	expected<string, error> at ret: u8 tag @0
//	  ok   (ptr @4, len @8)
//	  err  variant tag u8 @4 (provider, invalid-key, invalid-schema,
//	       other), every arm carries a string (ptr @8, len @12)

func registerSpinConfig(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder("spin-config").
		NewFunctionBuilder().WithFunc(getConfig).Export("get-config").
		Instantiate(ctx)
	return err
}

func getConfig(ctx context.Context, m api.Module, keyPtr, keyLen, ret uint32) {
	g := newGuest(ctx, m)
	st := stateFrom(ctx)
	key := g.string(keyPtr, keyLen)
	val, cerr := lookupComponentVariable(st.comp.id, st.comp.variables, key)
	if cerr != nil {
		p, l := g.putString(cerr.msg)
		g.checkRange(ret, 16)
		g.putU8(ret, 1)
		g.putU8(ret+4, cerr.tag)
		g.putU32(ret+8, p)
		g.putU32(ret+12, l)
		return
	}
	p, l := g.putString(val)
	g.checkRange(ret, 12)
	g.putU8(ret, 0)
	g.putU32(ret+4, p)
	g.putU32(ret+8, l)
}
