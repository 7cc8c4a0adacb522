package main

import (
	"bytes"
	"testing"
)

// section encodes a section (contents shorter than 128 bytes).
func section(id byte, contents []byte) []byte {
	return append([]byte{id, byte(len(contents))}, contents...)
}

func custom(name string, data string) []byte {
	return section(0, append(append([]byte{byte(len(name))}, name...), data...))
}

func TestStrip(t *testing.T) {
	header := []byte("\x00asm\x01\x00\x00\x00")
	typ := section(1, []byte{1, 0x60, 0, 0}) // one type: func() -> ()
	fn := section(3, []byte{1, 0})
	code := section(10, []byte{1, 2, 0, 0x0b})
	keep := custom("component-type:x", "abc")
	in := bytes.Join([][]byte{
		header, typ, custom("producers", "p"), fn, code,
		custom("name", "\x01\x04\x01\x00\x01f"), keep, custom("target_features", "+x"),
		custom(".debug_info", "dwarf"),
	}, nil)

	out, removed, err := Strip(in, strippable)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Join([][]byte{header, typ, fn, code, keep}, nil)
	if !bytes.Equal(out, want) {
		t.Errorf("Strip =\n%x\nwant\n%x", out, want)
	}
	var names []string
	total := 0
	for _, r := range removed {
		names = append(names, r.Name)
		total += r.Size
	}
	if got := len(in) - len(out); got != total {
		t.Errorf("removed sizes add up to %d, file shrank by %d", total, got)
	}
	if len(names) != 4 || names[0] != "producers" || names[1] != "name" || names[2] != "target_features" || names[3] != ".debug_info" {
		t.Errorf("removed %v", names)
	}

	// Stripping again changes nothing.
	again, removed, err := Strip(out, strippable)
	if err != nil || !bytes.Equal(again, out) || len(removed) != 0 {
		t.Errorf("second Strip: err %v, removed %v, changed %v", err, removed, !bytes.Equal(again, out))
	}
}

func TestStripRejects(t *testing.T) {
	for name, in := range map[string][]byte{
		"not wasm":       []byte("hello world"),
		"component":      []byte("\x00asm\x0d\x00\x01\x00"),
		"truncated":      append([]byte("\x00asm\x01\x00\x00\x00"), 1, 10, 0),
		"bad custom":     append([]byte("\x00asm\x01\x00\x00\x00"), 0, 1, 5),
		"unterminated":   append([]byte("\x00asm\x01\x00\x00\x00"), 1, 0x80),
		"overlong count": append([]byte("\x00asm\x01\x00\x00\x00"), 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0),
	} {
		if _, _, err := Strip(in, strippable); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
