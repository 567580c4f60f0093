package gc

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// repoPage is how many repositories one AllRepositories call returns.
const repoPage = 1000

// ManifestReferencer returns the Referencer of manifests: for every
// repository with links or manifests, the References (config, layers,
// child manifests) and Subject of each of its manifests.
func ManifestReferencer(meta metadata.GC) Referencer { return manifestReferencer{meta} }

type manifestReferencer struct{ meta metadata.GC }

// References implements Referencer.
func (m manifestReferencer) References(ctx context.Context, keep func(digest.Digest)) error {
	last := ""
	for {
		repos, more, err := m.meta.AllRepositories(ctx, last, repoPage)
		if err != nil {
			return fmt.Errorf("list repositories: %w", err)
		}
		if b, ok := m.meta.(metadata.BatchGC); ok {
			if err := b.ManifestReferencesMany(ctx, repos, keep); err != nil {
				return fmt.Errorf("manifests of %d repositories after %q: %w", len(repos), last, err)
			}
			if !more || len(repos) == 0 {
				return nil
			}
			last = repos[len(repos)-1]
			continue
		}
		for _, repo := range repos {
			cursor := ""
			for {
				refs, next, err := m.meta.ManifestReferences(ctx, repo, cursor, 0)
				if err != nil {
					return fmt.Errorf("manifests of %s: %w", repo, err)
				}
				for _, d := range refs {
					keep(d)
				}
				if next == "" {
					break
				}
				cursor = next
			}
		}
		if !more || len(repos) == 0 {
			return nil
		}
		last = repos[len(repos)-1]
	}
}

// digestSet is a set of digests kept compact for the mark phase: a
// sha256 digest takes 33 bytes of key (algorithm tag and raw hash), not
// 71, so millions fit comfortably.
type digestSet struct{ m map[string]struct{} }

func newDigestSet() *digestSet { return &digestSet{m: map[string]struct{}{}} }

func (s *digestSet) key(d digest.Digest) string {
	var tag byte
	switch d.Algorithm() {
	case digest.SHA256:
		tag = 1
	case digest.SHA512:
		tag = 2
	default:
		return string(d)
	}
	raw, err := hex.DecodeString(d.Encoded())
	if err != nil {
		return string(d)
	}
	return string(append([]byte{tag}, raw...))
}

func (s *digestSet) add(d digest.Digest)      { s.m[s.key(d)] = struct{}{} }
func (s *digestSet) has(d digest.Digest) bool { _, ok := s.m[s.key(d)]; return ok }
func (s *digestSet) len() int                 { return len(s.m) }
