package kv

import (
	"crypto/sha256"
	"encoding/hex"
)

// digestHex is the hex SHA-256 of s: used for secrets (never stored plain)
// and to turn arbitrary strings into fixed, key-safe names.
func digestHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// SecretHash is the form in which token and session secrets are stored.
func SecretHash(secret string) string { return digestHex(secret) }
