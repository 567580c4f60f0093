package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
)

// SecretLength is the length of a token secret: 40 lowercase hex digits
// (160 random bits), the shape of Gitea's tokens.
const SecretLength = 40

// NewSecret returns a fresh token secret.
func NewSecret() (string, error) {
	b := make([]byte, SecretLength/2)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: token secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// HashSecret returns the lookup key stored for a secret: lowercase hex of
// its SHA-256. A 160-bit random secret needs no salt or slow hash.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// LooksLikeSecret reports whether s has the shape of a token secret.
func LooksLikeSecret(s string) bool {
	if len(s) != SecretLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func hmacEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
