package oidc

// Sealed cookie values: encrypted (AES-256-GCM) and authenticated
// (HMAC-SHA256) with keys derived from a secret, so a value spinport handed
// to a browser comes back unread and unaltered, or is refused. spinport
// keeps its OIDC sign-in in flight this way (login.go) instead of in the KV
// store, which has no expiry: anonymous requests must not write keys.
//
// Only the standard library's crypto/aes, crypto/cipher, crypto/hmac and
// crypto/sha256, which TinyGo 0.30 compiles (with -tags purego).

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
)

const (
	sealVersion  = 1
	sealNonceLen = 12 // GCM's standard nonce
	sealMACLen   = sha256.Size
	maxSealed    = 4096 // longest sealed value opened (characters): a browser keeps no longer cookie
)

// sealKeys are the encryption and authentication keys for one purpose.
type sealKeys struct {
	enc, mac []byte
}

// deriveSealKeys derives two independent 256-bit keys from secret with
// HKDF-SHA256 (RFC 5869, one output block each): extract with label as the
// salt, then expand with label and the key's use as the info. A different
// label (purpose or format version) gives unrelated keys.
func deriveSealKeys(secret, label string) sealKeys {
	ext := hmac.New(sha256.New, []byte(label))
	ext.Write([]byte(secret))
	prk := ext.Sum(nil)
	expand := func(use string) []byte {
		m := hmac.New(sha256.New, prk)
		m.Write([]byte(label + "\x00" + use))
		m.Write([]byte{1})
		return m.Sum(nil)
	}
	return sealKeys{enc: expand("aes-256-gcm"), mac: expand("hmac-sha256")}
}

// seal encrypts and authenticates plaintext for context (e.g. the cookie
// name, bound in as associated data) and returns a cookie-safe string:
// base64url(version ‖ nonce ‖ AES-GCM ciphertext ‖ HMAC-SHA256 of all that
// and context).
func (k sealKeys) seal(rand io.Reader, context string, plaintext []byte) (string, error) {
	aead, err := k.aead()
	if err != nil {
		return "", err
	}
	out := make([]byte, 1+sealNonceLen, 1+sealNonceLen+len(plaintext)+aead.Overhead()+sealMACLen)
	out[0] = sealVersion
	if _, err := io.ReadFull(rand, out[1:]); err != nil {
		return "", err
	}
	out = aead.Seal(out, out[1:1+sealNonceLen], plaintext, k.associated(context))
	out = append(out, k.tag(context, out)...)
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// open returns the plaintext of a value seal made with the same keys and
// context, or false for anything else (altered, truncated, another secret
// or label, another context, not base64url).
func (k sealKeys) open(context, value string) ([]byte, bool) {
	if len(value) > maxSealed {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) < 1+sealNonceLen+16+sealMACLen || b[0] != sealVersion {
		return nil, false
	}
	body, tag := b[:len(b)-sealMACLen], b[len(b)-sealMACLen:]
	if !hmac.Equal(tag, k.tag(context, body)) { // constant time
		return nil, false
	}
	aead, err := k.aead()
	if err != nil {
		return nil, false
	}
	pt, err := aead.Open(nil, body[1:1+sealNonceLen], body[1+sealNonceLen:], k.associated(context))
	if err != nil {
		return nil, false
	}
	return pt, true
}

func (k sealKeys) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.enc)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// associated is GCM's associated data: the format version and the context.
func (k sealKeys) associated(context string) []byte {
	return append([]byte{sealVersion}, context...)
}

// tag is the HMAC over the context (length-prefixed) and the sealed body.
func (k sealKeys) tag(context string, body []byte) []byte {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte{byte(len(context) >> 8), byte(len(context))})
	m.Write([]byte(context))
	m.Write(body)
	return m.Sum(nil)
}
