// Command wasmsize prints where the bytes of a WebAssembly core module go:
// the size of every section, the code section's function bodies summed per Go
// package (names from the `name` custom section, which TinyGo keeps even
// with -no-debug) and the data section's total.
//
//	go run ./hack/wasmsize [-top 40] [-funcs 30] [-pkg PREFIX] FILE.wasm
//
// A module without a name section (build/spinport.wasm after hack/wasmstrip)
// only gets the section table. To get names, build the same way as
// hack/tinygo-build.sh but to a file outside the repository and skip the
// strip step, e.g.
//
//	tinygo build -target=wasi -tags purego -gc=leaking -no-debug -o /tmp/spinport-names.wasm ./cmd/spinport
//
// Standard library only: it is a host tool, never compiled by TinyGo.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

func main() {
	top := flag.Int("top", 40, "packages to list (0: all)")
	funcs := flag.Int("funcs", 25, "largest functions to list (0: none)")
	pkg := flag.String("pkg", "", "also list the functions of the packages with this import-path prefix")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: wasmsize [flags] FILE.wasm\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	b, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasmsize:", err)
		os.Exit(1)
	}
	m, err := parse(b)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wasmsize: %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
	report(os.Stdout, m, int64(len(b)), *top, *funcs, *pkg)
}

// section is one section of the module as found in the file.
type section struct {
	id   byte
	name string // custom sections only
	size int    // whole section: id byte, size LEB and contents
}

// function is one function body of the code section.
type function struct {
	index int // in the function index space (imports first)
	name  string
	size  int // its entry in the code section: size LEB and body
}

type module struct {
	sections    []section
	funcImports int
	funcs       []function
	dataSegs    int
	dataBytes   int // bytes of all data segments' contents
	hasNames    bool
}

var sectionNames = map[byte]string{
	0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory",
	6: "global", 7: "export", 8: "start", 9: "element", 10: "code", 11: "data",
	12: "datacount", 13: "tag",
}

func parse(b []byte) (*module, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, errors.New("not a WebAssembly binary")
	}
	if b[4] != 1 || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return nil, fmt.Errorf("not a core module (version/layer %x): components are not supported", b[4:8])
	}
	m := &module{}
	var names map[int]string
	r := &reader{b: b, off: 8}
	for r.off < len(b) {
		start := r.off
		id := r.byte()
		n := int(r.u32())
		if r.err != nil {
			return nil, r.err
		}
		if n > len(b)-r.off {
			return nil, fmt.Errorf("section %d at %d: size %d past the end", id, start, n)
		}
		body := &reader{b: b[:r.off+n], off: r.off}
		r.off += n
		s := section{id: id, size: r.off - start}
		var err error
		switch id {
		case 0:
			s.name = body.name()
			if s.name == "name" && body.err == nil {
				names, err = parseNames(body)
				m.hasNames = names != nil
			}
		case 2:
			m.funcImports, err = parseImports(body)
		case 10:
			m.funcs, err = parseCode(body, m.funcImports)
		case 11:
			m.dataSegs, m.dataBytes, err = parseData(body)
		}
		if err == nil {
			err = body.err
		}
		if err != nil {
			return nil, fmt.Errorf("section %s at %d: %w", sectionName(s), start, err)
		}
		m.sections = append(m.sections, s)
	}
	for i := range m.funcs {
		if n, ok := names[m.funcs[i].index]; ok {
			m.funcs[i].name = n
		}
	}
	return m, nil
}

func sectionName(s section) string {
	if s.id == 0 {
		return fmt.Sprintf("custom %q", s.name)
	}
	if n, ok := sectionNames[s.id]; ok {
		return n
	}
	return fmt.Sprintf("unknown(%d)", s.id)
}

// parseImports returns the number of imported functions (they come first in
// the function index space).
func parseImports(r *reader) (int, error) {
	funcs := 0
	for i, n := 0, int(r.u32()); i < n && r.err == nil; i++ {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0: // func: type index
			r.u32()
			funcs++
		case 1: // table: reftype, limits
			r.byte()
			r.limits()
		case 2: // memory: limits
			r.limits()
		case 3: // global: valtype, mutability
			r.byte()
			r.byte()
		case 4: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			return 0, fmt.Errorf("import %d: unknown kind %d", i, kind)
		}
	}
	return funcs, r.err
}

func parseCode(r *reader, firstIndex int) ([]function, error) {
	n := int(r.u32())
	if r.err != nil || n > len(r.b) {
		return nil, fmt.Errorf("bad function count %d", n)
	}
	fs := make([]function, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		start := r.off
		size := int(r.u32())
		if size > len(r.b)-r.off {
			return nil, fmt.Errorf("function body %d past the end", i)
		}
		r.off += size
		fs = append(fs, function{index: firstIndex + i, size: r.off - start})
	}
	return fs, r.err
}

func parseData(r *reader) (segs, bytes int, err error) {
	n := int(r.u32())
	for i := 0; i < n && r.err == nil; i++ {
		switch flags := r.u32(); flags {
		case 0: // active, memory 0: offset expression
			r.constExpr()
		case 1: // passive
		case 2: // active, explicit memory index
			r.u32()
			r.constExpr()
		default:
			return 0, 0, fmt.Errorf("data segment %d: unknown flags %d", i, flags)
		}
		size := int(r.u32())
		if size > len(r.b)-r.off {
			return 0, 0, fmt.Errorf("data segment %d past the end", i)
		}
		r.off += size
		segs++
		bytes += size
	}
	return segs, bytes, r.err
}

// parseNames reads the function names subsection (id 1) of the name section.
func parseNames(r *reader) (map[int]string, error) {
	for r.off < len(r.b) && r.err == nil {
		id := r.byte()
		size := int(r.u32())
		if r.err != nil || size > len(r.b)-r.off {
			return nil, errors.New("bad name subsection")
		}
		if id != 1 {
			r.off += size
			continue
		}
		sub := &reader{b: r.b[:r.off+size], off: r.off}
		r.off += size
		n := int(sub.u32())
		names := make(map[int]string, n)
		for i := 0; i < n && sub.err == nil; i++ {
			idx := int(sub.u32())
			names[idx] = sub.name()
		}
		return names, sub.err
	}
	return nil, r.err
}

// reader decodes the LEB128 and vector encodings of the binary format; the
// first error sticks and makes every later read return zero.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s at offset %d: %w", what, r.off, io.ErrUnexpectedEOF)
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("byte")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("u32 too long")
	return 0
}

// sleb skips a signed LEB128 of up to 64 bits.
func (r *reader) sleb() {
	for i := 0; i < 10; i++ {
		if r.byte()&0x80 == 0 || r.err != nil {
			return
		}
	}
	r.fail("signed LEB too long")
}

func (r *reader) name() string {
	n := int(r.u32())
	if r.err != nil {
		return ""
	}
	if n > len(r.b)-r.off {
		r.fail("name")
		return ""
	}
	s := string(r.b[r.off : r.off+n])
	r.off += n
	return s
}

func (r *reader) limits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}

// constExpr skips a constant expression up to its `end` (0x0b).
func (r *reader) constExpr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b: // end
			return
		case 0x41, 0x42: // i32.const, i64.const
			r.sleb()
		case 0x23: // global.get
			r.u32()
		case 0x43: // f32.const
			r.off += 4
		case 0x44: // f64.const
			r.off += 8
		default:
			r.err = fmt.Errorf("unsupported opcode 0x%02x in constant expression at offset %d", op, r.off-1)
		}
	}
}

// Package returns the Go package a TinyGo function name belongs to, e.g.
//
//	github.com/spinport/spinport/kv.DB.ListApps  -> github.com/spinport/spinport/kv
//	(*encoding/json.decodeState).object          -> encoding/json
//	(reflect.Value).Call                         -> reflect
//	sync/atomic.(*Int32).Add                     -> sync/atomic
//	slices.Sort[[]github.com/x/y.T]              -> slices
//	main.main$1                                  -> main
//	gopkg.in/yaml.v3.Unmarshal                   -> gopkg.in/yaml.v3
//
// Names that are not Go (wasi-libc, compiler-rt, TinyGo's assembly and
// asyncify helpers such as malloc, memcpy, tinygo_unwind) come back in
// parentheses: "(C: libc, compiler-rt, asm)"; interface method thunks
// ("interface:{...}.M$invoke") as "(interface thunks)"; methods of unnamed
// struct types ("(*struct{io.Reader; ...}).Read") as "(methods of struct
// literals)". binaryen's "byn$mgfn-shared$" prefix is dropped.
func Package(name string) string {
	if name == "" {
		return "(no name)"
	}
	// binaryen's merge-similar-functions pass names the shared body of
	// functions it merged after the first of them.
	name = strings.TrimPrefix(name, "byn$mgfn-shared$")
	if strings.HasPrefix(name, "interface:") {
		return "(interface thunks)"
	}
	s := strings.TrimLeft(name, "(*")
	if strings.HasPrefix(s, "struct{") {
		return "(methods of struct literals)" // promoted through embedding
	}
	// Type arguments, receivers and signatures may contain other packages'
	// paths: only look at the text before the first of these.
	if i := strings.IndexAny(s, "()[{ :"); i >= 0 {
		s = s[:i]
	}
	slash := strings.LastIndexByte(s, '/')
	dot := strings.IndexByte(s[slash+1:], '.')
	if dot < 0 {
		if slash >= 0 {
			return s // a path with no symbol: keep it whole
		}
		return "(C: libc, compiler-rt, asm)"
	}
	pkg := s[:slash+1+dot]
	// A major-version suffix in the last element ("yaml.v3.X").
	rest := s[slash+1+dot+1:]
	if len(rest) > 1 && rest[0] == 'v' {
		j := 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j > 1 && j < len(rest) && rest[j] == '.' {
			pkg += "." + rest[:j]
		}
	}
	if pkg == "" {
		return "(C: libc, compiler-rt, asm)"
	}
	return pkg
}

func report(w io.Writer, m *module, fileSize int64, top, nfuncs int, pkgPrefix string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "section\tbytes\t%%\t\n")
	for _, s := range m.sections {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t\n", sectionName(s), s.size, pct(s.size, fileSize))
	}
	fmt.Fprintf(tw, "header\t8\t\t\n")
	fmt.Fprintf(tw, "total (file)\t%d\t100.0\t\n", fileSize)
	tw.Flush()

	code := 0
	for _, f := range m.funcs {
		code += f.size
	}
	fmt.Fprintf(w, "\ncode: %d function bodies, %d bytes (%d imported functions)\n", len(m.funcs), code, m.funcImports)
	fmt.Fprintf(w, "data: %d segments, %d bytes of contents\n", m.dataSegs, m.dataBytes)
	if !m.hasNames {
		fmt.Fprintln(w, "\nno function names (no `name` section, or no function names subsection): build without stripping to see packages")
		return
	}

	type agg struct {
		pkg   string
		bytes int
		n     int
	}
	byPkg := map[string]*agg{}
	for _, f := range m.funcs {
		p := Package(f.name)
		a := byPkg[p]
		if a == nil {
			a = &agg{pkg: p}
			byPkg[p] = a
		}
		a.bytes += f.size
		a.n++
	}
	pkgs := make([]*agg, 0, len(byPkg))
	for _, a := range byPkg {
		pkgs = append(pkgs, a)
	}
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].bytes != pkgs[j].bytes {
			return pkgs[i].bytes > pkgs[j].bytes
		}
		return pkgs[i].pkg < pkgs[j].pkg
	})
	shown := pkgs
	if top > 0 && len(shown) > top {
		shown = shown[:top]
	}
	fmt.Fprintf(w, "\ncode by package (%d packages; top %d):\n", len(pkgs), len(shown))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  #\tbytes\t%% code\tcum %%\tfuncs\tpackage\n")
	cum := 0
	for i, a := range shown {
		cum += a.bytes
		fmt.Fprintf(tw, "  %d\t%d\t%.1f\t%.1f\t%d\t%s\n", i+1, a.bytes, pct(a.bytes, int64(code)), pct(cum, int64(code)), a.n, a.pkg)
	}
	if rest := len(pkgs) - len(shown); rest > 0 {
		fmt.Fprintf(tw, "  \t%d\t%.1f\t\t\t(%d other packages)\n", code-cum, pct(code-cum, int64(code)), rest)
	}
	tw.Flush()

	fs := append([]function(nil), m.funcs...)
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].size != fs[j].size {
			return fs[i].size > fs[j].size
		}
		return fs[i].index < fs[j].index
	})
	if nfuncs > 0 {
		if len(fs) > nfuncs {
			fs = fs[:nfuncs]
		}
		fmt.Fprintf(w, "\nlargest functions:\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, f := range fs {
			fmt.Fprintf(tw, "  %d\t%s\n", f.size, f.name)
		}
		tw.Flush()
	}
	if pkgPrefix != "" {
		fs = append(fs[:0:0], m.funcs...)
		sort.Slice(fs, func(i, j int) bool { return fs[i].size > fs[j].size })
		fmt.Fprintf(w, "\nfunctions of packages %s*:\n", pkgPrefix)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, f := range fs {
			if strings.HasPrefix(Package(f.name), pkgPrefix) {
				fmt.Fprintf(tw, "  %d\t%s\n", f.size, f.name)
			}
		}
		tw.Flush()
	}
}

func pct(n int, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}
