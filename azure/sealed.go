package azure

// Sealed tokens: an access token stored at rest (spinport's KV store,
// which other apps on a shared Redis database could read) is encrypted and
// authenticated with AES-256-GCM, the expiry bound in as additional data,
// so a stored token is unreadable and cannot be moved to another purpose
// or given a later expiry.
//
// Only crypto/aes, crypto/cipher, crypto/hmac and crypto/sha256, which
// TinyGo 0.30 compiles with -tags purego (oidc/seal.go uses the same and
// its tests run under TinyGo; so do this file's).

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"time"
)

const (
	sealPrefix   = "v1."
	sealNonceLen = 12   // GCM's standard nonce
	maxSealedLen = 8192 // characters: an ARM token is ~2 KiB
)

// ErrSealed is what Open answers for any value it cannot open: altered,
// truncated, another secret or label, another format. It says nothing
// more on purpose.
var ErrSealed = errors.New("azure: the sealed token cannot be opened (wrong secret or label, or altered); get a new token")

// sealKey derives the AES-256 key for one label (purpose) from secret:
// HMAC-SHA256 keyed with the secret over a fixed, versioned context and
// the label. Another label or format version gives an unrelated key.
func sealKey(secret, label string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("spinport/azure/sealed-token/v1\x00"))
	m.Write([]byte(label))
	return m.Sum(nil)
}

// sealAD is the additional data: the format, the label and the expiry.
func sealAD(label string, expiry []byte) []byte {
	ad := make([]byte, 0, len(sealPrefix)+len(label)+1+len(expiry))
	ad = append(ad, sealPrefix...)
	ad = append(ad, label...)
	ad = append(ad, 0)
	return append(ad, expiry...)
}

// Seal encrypts t for storage: "v1." + base64url(expiry ‖ nonce ‖
// AES-256-GCM ciphertext), the expiry (Unix seconds, 8 bytes big-endian)
// authenticated as additional data along with label. secret must be long
// and random (at least 16 bytes); label names the purpose (e.g. the cache
// key). rand is crypto/rand.Reader in production.
func Seal(secret, label string, t Token, rand io.Reader) (string, error) {
	if len(secret) < 16 {
		return "", errors.New("azure: Seal needs a secret of at least 16 bytes")
	}
	if t.Value == "" {
		return "", errors.New("azure: Seal: the token is empty")
	}
	aead, err := newGCM(sealKey(secret, label))
	if err != nil {
		return "", err
	}
	out := make([]byte, 8+sealNonceLen, 8+sealNonceLen+len(t.Value)+aead.Overhead())
	binary.BigEndian.PutUint64(out[:8], uint64(t.Expires.Unix()))
	if _, err := io.ReadFull(rand, out[8:8+sealNonceLen]); err != nil {
		return "", errors.New("azure: Seal: no randomness for the nonce")
	}
	out = aead.Seal(out, out[8:8+sealNonceLen], []byte(t.Value), sealAD(label, out[:8]))
	return sealPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open returns the token Seal sealed with the same secret and label, or
// ErrSealed. It does not check the expiry: the caller compares Expires
// with its clock (TokenClient does, with RefreshBefore).
func Open(secret, label, sealed string) (Token, error) {
	if len(sealed) > maxSealedLen || !strings.HasPrefix(sealed, sealPrefix) {
		return Token{}, ErrSealed
	}
	b, err := base64.RawURLEncoding.DecodeString(sealed[len(sealPrefix):])
	if err != nil || len(b) < 8+sealNonceLen+16 {
		return Token{}, ErrSealed
	}
	aead, err := newGCM(sealKey(secret, label))
	if err != nil {
		return Token{}, ErrSealed
	}
	plain, err := aead.Open(nil, b[8:8+sealNonceLen], b[8+sealNonceLen:], sealAD(label, b[:8]))
	if err != nil || len(plain) == 0 {
		return Token{}, ErrSealed
	}
	return Token{Value: string(plain), Expires: time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SealedCache is a Cache over a plain key-value store that seals tokens
// before they are stored: Load and Store are the store (nil, nil for a
// missing key); Secret is the sealing secret. The label is the cache key,
// so a sealed token cannot be replayed under another identity's key.
type SealedCache struct {
	Load   func(key string) ([]byte, error)
	Store  func(key string, value []byte) error
	Secret string
	Rand   io.Reader
}

// String keeps the secret out of %v output.
func (c SealedCache) String() string { return "azure.SealedCache" }

// GoString keeps the secret out of %#v output.
func (c SealedCache) GoString() string { return c.String() }

// Get opens the stored token; a value that does not open is a miss.
func (c SealedCache) Get(key string) (Token, bool, error) {
	b, err := c.Load(key)
	if err != nil || b == nil {
		return Token{}, false, err
	}
	t, err := Open(c.Secret, key, string(b))
	if err != nil {
		return Token{}, false, nil
	}
	return t, true, nil
}

// Put seals t and stores it.
func (c SealedCache) Put(key string, t Token) error {
	s, err := Seal(c.Secret, key, t, c.Rand)
	if err != nil {
		return err
	}
	return c.Store(key, []byte(s))
}
