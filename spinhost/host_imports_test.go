package spinhost

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The import signatures the Spin Go SDK v2.2.0's C bindings declare
// (kv/key-value.c, variables/spin-config.c, http/wasi-outbound-http.c,
// redis/outbound-redis.c): every one takes only i32s and returns nothing.
// A mismatch would make instantiation of a component that uses the
// function fail, so check the functions the test guest does not call too.
var sdkImportArity = map[string]int{
	"key-value.open": 3, "key-value.get": 4, "key-value.set": 6, "key-value.delete": 4,
	"key-value.exists": 4, "key-value.get-keys": 2, "key-value.close": 1,
	"spin-config.get-config":     3,
	"wasi-outbound-http.request": 11,
	"outbound-redis.publish":     7, "outbound-redis.get": 5, "outbound-redis.set": 7,
	"outbound-redis.incr": 5, "outbound-redis.del": 5, "outbound-redis.sadd": 7,
	"outbound-redis.smembers": 5, "outbound-redis.srem": 7, "outbound-redis.execute": 7,
}

func TestHostImportSignatures(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	if err := instantiateHostModules(ctx, rt); err != nil {
		t.Fatal(err)
	}
	provided := 0
	for mod, names := range hostImports {
		m := rt.Module(mod)
		if m == nil {
			t.Errorf("host module %q not registered", mod)
			continue
		}
		defs := m.ExportedFunctionDefinitions()
		for _, name := range names {
			provided++
			def, ok := defs[name]
			if !ok {
				t.Errorf("%s.%s listed but not registered", mod, name)
				continue
			}
			want, known := sdkImportArity[mod+"."+name]
			if !known {
				t.Errorf("%s.%s has no expected signature", mod, name)
				continue
			}
			if len(def.ParamTypes()) != want || len(def.ResultTypes()) != 0 {
				t.Errorf("%s.%s takes %d params and returns %d values; the SDK declares %d i32 params and no result",
					mod, name, len(def.ParamTypes()), len(def.ResultTypes()), want)
			}
			for _, p := range def.ParamTypes() {
				if p != api.ValueTypeI32 {
					t.Errorf("%s.%s has a %s parameter", mod, name, api.ValueTypeName(p))
				}
			}
		}
	}
	if provided != len(sdkImportArity) {
		t.Errorf("host provides %d functions, the SDK imports %d", provided, len(sdkImportArity))
	}
}
