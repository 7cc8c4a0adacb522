// Command wasmstrip removes the custom sections of a WebAssembly core module
// that no runtime needs, keeping every other byte as it is:
//
//	go run ./hack/wasmstrip [-keep name] [-o OUT.wasm] IN.wasm
//
// Without -o it rewrites IN.wasm (through a temporary file and a rename).
// hack/tinygo-build.sh runs it on every TinyGo build of build/spinport.wasm.
//
// Removed: `name` (function names for stack traces; TinyGo keeps it even with
// -no-debug), `producers` (toolchain versions), `target_features` (read only
// by wasm-ld when linking objects), DWARF (`.debug_*`), `sourceMappingURL`
// and `external_debug_info`. Any other custom section is kept, since it may
// mean something to a tool (e.g. `component-type:*`, read by
// wit-component). -keep takes a comma-separated list of names to keep
// anyway. It prints one line: what it removed and the sizes before and after.
//
// Why these are safe for spinport: wasmtime and wazero parse `name` only for
// debug names (trap backtraces show function indexes instead) and skip the
// others; Spin's componentization of Spin-1 modules (spin-componentize:
// ModuleInfo/WasiLibc377Bug) reads `producers` only for a module that exports
// `_start` and no canonical-ABI realloc, and spinport exports
// `canonical_abi_realloc`; `component-type:*` sections are kept.
//
// Standard library only: it is a host tool, never compiled by TinyGo.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// strippable reports whether the custom section called name carries nothing
// a runtime needs.
func strippable(name string) bool {
	switch name {
	case "name", "producers", "target_features", "sourceMappingURL", "external_debug_info":
		return true
	}
	return strings.HasPrefix(name, ".debug_")
}

func main() {
	out := flag.String("o", "", "write the result here (default: rewrite the input)")
	keep := flag.String("keep", "", "comma-separated custom sections to keep although they could be stripped (e.g. name)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: wasmstrip [-keep name,...] [-o OUT.wasm] IN.wasm\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	in := flag.Arg(0)
	if *out == "" {
		*out = in
	}
	kept := map[string]bool{}
	for _, k := range strings.Split(*keep, ",") {
		if k = strings.TrimSpace(k); k != "" {
			kept[k] = true
		}
	}
	b, err := os.ReadFile(in)
	if err != nil {
		fail(err)
	}
	res, removed, err := Strip(b, func(name string) bool { return strippable(name) && !kept[name] })
	if err != nil {
		fail(fmt.Errorf("%s: %w", in, err))
	}
	if err := writeFile(*out, res); err != nil {
		fail(err)
	}
	what := "nothing to strip"
	if len(removed) > 0 {
		parts := make([]string, len(removed))
		for i, r := range removed {
			parts[i] = fmt.Sprintf("%s (%d bytes)", r.Name, r.Size)
		}
		what = "stripped " + strings.Join(parts, ", ")
	}
	fmt.Printf("%s: %d -> %d bytes\n", what, len(b), len(res))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "wasmstrip:", err)
	os.Exit(1)
}

// writeFile writes b to path through a temporary file in the same directory
// and a rename, so a reader never sees half a module; it keeps path's mode if
// path exists.
func writeFile(path string, b []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".strip*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Removed is one custom section Strip dropped.
type Removed struct {
	Name string
	Size int // the whole section: id, size and contents
}

// Strip returns module b without the custom sections for which drop returns
// true; all other sections are copied byte for byte, in order. b must be a
// core module (not a component).
func Strip(b []byte, drop func(name string) bool) ([]byte, []Removed, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, nil, errors.New("not a WebAssembly binary")
	}
	if b[4] != 1 || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return nil, nil, fmt.Errorf("not a core module (version/layer %x): components are not supported", b[4:8])
	}
	res := make([]byte, 0, len(b))
	res = append(res, b[:8]...)
	var removed []Removed
	off := 8
	for off < len(b) {
		start := off
		id := b[off]
		off++
		n, w, err := uleb32(b[off:])
		if err != nil {
			return nil, nil, fmt.Errorf("section at offset %d: %w", start, err)
		}
		off += w
		if int(n) > len(b)-off {
			return nil, nil, fmt.Errorf("section %d at offset %d: size %d goes past the end of the file", id, start, n)
		}
		end := off + int(n)
		if id == 0 {
			l, w, err := uleb32(b[off:end])
			if err != nil || int(l) > end-off-w {
				return nil, nil, fmt.Errorf("custom section at offset %d: bad name", start)
			}
			name := string(b[off+w : off+w+int(l)])
			if drop(name) {
				removed = append(removed, Removed{Name: name, Size: end - start})
				off = end
				continue
			}
		}
		res = append(res, b[start:end]...)
		off = end
	}
	return res, removed, nil
}

// uleb32 decodes an unsigned LEB128 of at most 32 bits; it returns the value
// and the number of bytes read.
func uleb32(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, errors.New("truncated LEB128")
		}
		v |= uint32(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("LEB128 longer than 5 bytes")
}
