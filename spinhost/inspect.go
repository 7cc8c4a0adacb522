package spinhost

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// ABIFunction is one imported or exported function of a module.
type ABIFunction struct {
	Module  string // import module ("" for exports)
	Name    string
	Params  []string // "i32", "i64", "f32", "f64"
	Results []string
}

func (f ABIFunction) String() string {
	if f.Module != "" {
		return fmt.Sprintf("%s.%s%v->%v", f.Module, f.Name, f.Params, f.Results)
	}
	return fmt.Sprintf("%s%v->%v", f.Name, f.Params, f.Results)
}

// ModuleABI lists what a module imports and exports, so a test elsewhere
// can assert the Spin ABI surface of a built .wasm (for example that it
// imports nothing beyond key-value, spin-config, wasi-outbound-http,
// outbound-redis and wasi_snapshot_preview1).
type ModuleABI struct {
	Imports []ABIFunction // sorted by module, then name
	Exports []ABIFunction // sorted by name
	// Memories are the exported memory names.
	Memories []string
}

// ImportModules returns the distinct import module names, sorted.
func (a ModuleABI) ImportModules() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range a.Imports {
		if !seen[f.Module] {
			seen[f.Module] = true
			out = append(out, f.Module)
		}
	}
	sort.Strings(out)
	return out
}

// HasImport reports whether module.name is imported.
func (a ModuleABI) HasImport(module, name string) bool {
	for _, f := range a.Imports {
		if f.Module == module && f.Name == name {
			return true
		}
	}
	return false
}

// HasExport reports whether name is an exported function.
func (a ModuleABI) HasExport(name string) bool {
	for _, f := range a.Exports {
		if f.Name == name {
			return true
		}
	}
	return false
}

// InspectModule compiles wasm (without instantiating it) and lists its
// imports and exports via wazero's CompiledModule.
func InspectModule(ctx context.Context, wasm []byte) (ModuleABI, error) {
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return ModuleABI{}, err
	}
	defer cm.Close(ctx)
	var abi ModuleABI
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		abi.Imports = append(abi.Imports, ABIFunction{Module: mod, Name: name, Params: valueTypes(d.ParamTypes()), Results: valueTypes(d.ResultTypes())})
	}
	sort.Slice(abi.Imports, func(i, j int) bool {
		if abi.Imports[i].Module != abi.Imports[j].Module {
			return abi.Imports[i].Module < abi.Imports[j].Module
		}
		return abi.Imports[i].Name < abi.Imports[j].Name
	})
	for name, d := range cm.ExportedFunctions() {
		abi.Exports = append(abi.Exports, ABIFunction{Name: name, Params: valueTypes(d.ParamTypes()), Results: valueTypes(d.ResultTypes())})
	}
	sort.Slice(abi.Exports, func(i, j int) bool { return abi.Exports[i].Name < abi.Exports[j].Name })
	for name := range cm.ExportedMemories() {
		abi.Memories = append(abi.Memories, name)
	}
	sort.Strings(abi.Memories)
	return abi, nil
}

// InspectModuleFile is InspectModule on a file.
func InspectModuleFile(ctx context.Context, path string) (ModuleABI, error) {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return ModuleABI{}, err
	}
	return InspectModule(ctx, wasm)
}

// SupportedImports lists the non-WASI host functions this host provides,
// as "module.name", sorted.
func SupportedImports() []string {
	var out []string
	for mod, names := range hostImports {
		for _, n := range names {
			out = append(out, mod+"."+n)
		}
	}
	sort.Strings(out)
	return out
}

func valueTypes(ts []api.ValueType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = api.ValueTypeName(t)
	}
	return out
}
