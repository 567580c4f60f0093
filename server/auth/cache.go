package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/regkit/regkit/server/metadata"
)

// The decision cache: with an identity store that keeps an identity
// version (metadata.IdentityVersioner), a request reads the version once
// and, while it is unchanged, reuses the principals and owner rights
// derived from records read after seeing it. Every identity write
// (revoking a token, deleting a user, changing a password, a visibility
// or a membership) changes the version in its own transaction, so a
// revocation takes effect at the next request on every replica: the
// cache saves round trips, never checks. A manifest GET with a bearer or
// personal token then costs two metadata round trips: the version and
// the manifest.

// cacheLimit bounds the entries of each map; a full map is emptied.
const cacheLimit = 8192

// decisionCache holds the entries valid at one identity version.
type decisionCache struct {
	mu         sync.Mutex
	ver        int64
	principals map[string]Principal
	actions    map[string]Actions
}

// at makes c hold the entries of version v (emptying it when v is newer)
// and reports whether entries of v may be used or stored.
func (c *decisionCache) at(v int64) bool {
	if v > c.ver || c.principals == nil {
		c.ver = v
		c.principals = map[string]Principal{}
		c.actions = map[string]Actions{}
	}
	return v == c.ver
}

func (c *decisionCache) principal(v int64, key string) (Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at(v) {
		return Principal{}, false
	}
	p, ok := c.principals[key]
	return p.clone(), ok
}

func (c *decisionCache) putPrincipal(v int64, key string, p Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at(v) {
		return
	}
	if len(c.principals) >= cacheLimit {
		clear(c.principals)
	}
	c.principals[key] = p.clone()
}

func (c *decisionCache) rights(v int64, key string) (Actions, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at(v) {
		return 0, false
	}
	a, ok := c.actions[key]
	return a, ok
}

func (c *decisionCache) putRights(v int64, key string, a Actions) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at(v) {
		return
	}
	if len(c.actions) >= cacheLimit {
		clear(c.actions)
	}
	c.actions[key] = a
}

// clone copies p's records so that cached principals are never shared.
func (p Principal) clone() Principal {
	if p.User != nil {
		u := *p.User
		p.User = &u
	}
	if p.Token != nil {
		t := *p.Token
		p.Token = &t
	}
	return p
}

// version reads the identity version; ok is false when the store keeps
// none (nothing is cached then).
func (s *Service) version(ctx context.Context) (v int64, ok bool, err error) {
	iv, isV := s.id.(metadata.IdentityVersioner)
	if !isV {
		return 0, false, nil
	}
	v, err = iv.IdentityVersion(ctx)
	if errors.Is(err, errors.ErrUnsupported) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("auth: identity version: %w", err)
	}
	return v, true, nil
}

// credentialKey is the cache key of a token secret's hash or a bearer
// token (hashed, so the cache holds no usable credential).
func credentialKey(kind, s string) string {
	sum := sha256.Sum256([]byte(s))
	return kind + hex.EncodeToString(sum[:16])
}

// rightsKey is the cache key of p's rights on owner for pkgType. It
// names everything Actions reads of p besides identity records.
func rightsKey(p Principal, owner, pkgType string) string {
	k := ""
	if p.User != nil {
		k = "u" + metadata.NameKey(p.User.Name)
	}
	if p.Token != nil {
		k += "/t" + strconv.FormatInt(p.Token.ID, 10)
	}
	return k + "\x00" + metadata.NameKey(owner) + "\x00" + pkgType
}
