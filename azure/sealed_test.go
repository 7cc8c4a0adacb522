package azure

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

const sealSecret = "0123456789abcdef0123456789abcdef"

func TestSealOpen(t *testing.T) {
	tok := Token{Value: "arm-access-token-xyz", Expires: time.Unix(1800000000, 0)}
	rnd := bytes.NewReader(bytes.Repeat([]byte{7}, 64))
	s, err := Seal(sealSecret, "label-a", tok, rnd)
	if err != nil {
		t.Fatal(err)
		return
	}
	if !strings.HasPrefix(s, "v1.") || strings.Contains(s, "arm-access") {
		t.Errorf("sealed = %s", s)
	}
	got, err := Open(sealSecret, "label-a", s)
	if err != nil || got.Value != tok.Value || !got.Expires.Equal(tok.Expires) {
		t.Errorf("Open = %+v, %v", got, err)
	}
	if _, err := Open(sealSecret, "label-b", s); err != ErrSealed {
		t.Errorf("other label: %v", err)
	}
	if _, err := Open(sealSecret+"x", "label-a", s); err != ErrSealed {
		t.Errorf("other secret: %v", err)
	}
	// A later expiry written into the envelope must not open.
	raw, _ := base64.RawURLEncoding.DecodeString(s[3:])
	raw[7]++
	if _, err := Open(sealSecret, "label-a", "v1."+base64.RawURLEncoding.EncodeToString(raw)); err != ErrSealed {
		t.Errorf("altered expiry: %v", err)
	}
	for _, bad := range []string{"", "v1.", "v2." + s[3:], s[:len(s)-2], "v1.!!!!"} {
		if _, err := Open(sealSecret, "label-a", bad); err != ErrSealed {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
	if _, err := Seal("short", "l", tok, rnd); err == nil {
		t.Error("short secret accepted")
	}
	if contains(ErrSealed.Error(), tok.Value) || contains(fmt.Sprintf("%v %+v %#v", tok, tok, tok), tok.Value) {
		t.Error("token value shown")
	}
}

func TestSealedCache(t *testing.T) {
	store := map[string][]byte{}
	c := SealedCache{
		Load:   func(k string) ([]byte, error) { return store[k], nil },
		Store:  func(k string, v []byte) error { store[k] = v; return nil },
		Secret: sealSecret,
		Rand:   bytes.NewReader(bytes.Repeat([]byte{1}, 64)),
	}
	tok := Token{Value: "v", Expires: time.Unix(1800000000, 0)}
	if err := c.Put("k1", tok); err != nil {
		t.Fatal(err)
		return
	}
	if got, ok, err := c.Get("k1"); !ok || err != nil || got.Value != "v" {
		t.Errorf("Get = %v %v %v", got, ok, err)
	}
	// Replayed under another key: a miss.
	store["k2"] = store["k1"]
	if _, ok, _ := c.Get("k2"); ok {
		t.Error("sealed token opened under another key")
	}
	if _, ok, _ := c.Get("absent"); ok {
		t.Error("absent key found")
	}
	if contains(fmt.Sprintf("%v %#v", c, c), sealSecret) {
		t.Error("secret shown")
	}
}
