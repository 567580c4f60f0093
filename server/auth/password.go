package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// KDF is the cost of the password hash, Argon2id (RFC 9106). The encoded
// hash records the parameters it was made with, so changing them affects
// new hashes only.
type KDF struct {
	// Time is the number of passes.
	Time uint32
	// Memory is the memory cost in KiB.
	Memory uint32
	// Threads is the degree of parallelism.
	Threads uint8
}

// DefaultKDF follows OWASP's Argon2id baseline: 19 MiB, 2 passes, 1 lane
// (about 25 ms on one core of a current server).
var DefaultKDF = KDF{Time: 2, Memory: 19 * 1024, Threads: 1}

// Password length limits, in bytes.
const (
	// MinPasswordLength is the shortest password accepted for an account.
	MinPasswordLength = 8
	// MaxPasswordLength bounds passwords (and is checked before any
	// hashing, so a huge password costs nothing).
	MaxPasswordLength = 1024
)

const (
	saltLen = 16
	keyLen  = 32
	// maxKDFMemory bounds the memory a stored hash may ask for (256 MiB).
	maxKDFMemory = 256 * 1024
	maxKDFTime   = 16
)

// ErrBadHash means a stored password hash could not be parsed.
var ErrBadHash = errors.New("auth: malformed password hash")

// HashPassword returns the PHC-style encoding of an Argon2id hash of
// password with a fresh random salt:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash> (unpadded
// base64).
func HashPassword(password string, k KDF) (string, error) {
	if k.Time == 0 || k.Memory == 0 || k.Threads == 0 {
		k = DefaultKDF
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, k.Time, k.Memory, k.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, k.Memory, k.Time, k.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches encoded, a hash from
// HashPassword, comparing in constant time. A malformed hash is an error
// wrapping ErrBadHash (and never a match).
func VerifyPassword(encoded, password string) (bool, error) {
	k, salt, want, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, k.Time, k.Memory, k.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func parseHash(encoded string) (KDF, []byte, []byte, error) {
	var k KDF
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return k, nil, nil, ErrBadHash
	}
	for _, kv := range strings.Split(parts[3], ",") {
		name, val, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(val, 10, 32)
		if !ok || err != nil {
			return k, nil, nil, ErrBadHash
		}
		switch name {
		case "m":
			k.Memory = uint32(n)
		case "t":
			k.Time = uint32(n)
		case "p":
			if n > 255 {
				return k, nil, nil, ErrBadHash
			}
			k.Threads = uint8(n)
		default:
			return k, nil, nil, ErrBadHash
		}
	}
	if k.Memory == 0 || k.Memory > maxKDFMemory || k.Time == 0 || k.Time > maxKDFTime || k.Threads == 0 {
		return k, nil, nil, fmt.Errorf("%w: parameters out of range", ErrBadHash)
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return k, nil, nil, ErrBadHash
	}
	return k, salt, key, nil
}
