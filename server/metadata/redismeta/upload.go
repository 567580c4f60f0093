package redismeta

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/regkit/regkit/server/metadata"
)

var errEmptyToken = errors.New("empty lease token")

// expiredRepairRounds bounds how often ExpiredUploads rescans after
// repairing stale index entries.
const expiredRepairRounds = 5

// Times are stored as decimal Unix nanoseconds; "" is the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: %w", s, err)
	}
	return time.Unix(0, n).UTC(), nil
}

// indexTime renders a stored time so that index members sort by it: the
// Unix nanoseconds with the sign bit flipped, as 20 decimal digits.
func indexTime(stored string) string {
	n, _ := strconv.ParseInt(stored, 10, 64)
	return fmt.Sprintf("%020d", uint64(n)^(1<<63))
}

// indexMember is the expiry index member of a session updated at stored.
func indexMember(stored, id string) string { return indexTime(stored) + ":" + id }

func parseIndexMember(m string) (stored, id string, ok bool) {
	ts, id, ok := strings.Cut(m, ":")
	if !ok || len(ts) != 20 {
		return "", "", false
	}
	u, err := strconv.ParseUint(ts, 10, 64)
	if err != nil {
		return "", "", false
	}
	return strconv.FormatInt(int64(u^(1<<63)), 10), id, true
}

func parseUpload(f map[string]string) (metadata.Upload, error) {
	u := metadata.Upload{ID: f["id"], Repo: f["repo"]}
	var err, e error
	if u.Offset, e = strconv.ParseInt(f["offset"], 10, 64); e != nil {
		err = errors.Join(err, fmt.Errorf("bad offset %q", f["offset"]))
	}
	if s := f["state"]; s != "" {
		u.State = []byte(s)
	}
	u.Started, e = parseTime(f["started"])
	err = errors.Join(err, e)
	u.Updated, e = parseTime(f["updated"])
	err = errors.Join(err, e)
	if v := f["epoch"]; v != "" {
		if u.Epoch, e = strconv.ParseUint(v, 10, 64); e != nil {
			err = errors.Join(err, fmt.Errorf("bad epoch %q", v))
		}
	}
	return u, err
}

// scriptUpload parses the session array the upload scripts return, in
// uploadFields order, starting at vals[from].
func scriptUpload(vals []any, from int) (metadata.Upload, error) {
	if len(vals) < from+len(uploadFields) {
		return metadata.Upload{}, fmt.Errorf("short script reply %v", vals)
	}
	f := make(map[string]string, len(uploadFields))
	for i, name := range uploadFields {
		s, _ := vals[from+i].(string)
		f[name] = s
	}
	return parseUpload(f)
}

// CreateUpload implements metadata.Uploads. The session is added to the
// expiry index first, so that a crash cannot leave it unexpirable.
func (s *Store) CreateUpload(ctx context.Context, u metadata.Upload) error {
	if u.Started.IsZero() {
		u.Started = nowUTC()
	}
	if u.Updated.IsZero() {
		u.Updated = u.Started
	}
	updated := fmtTime(u.Updated)
	member := indexMember(updated, u.ID)
	err := s.c.ZAddNX(ctx, s.uploadIndexKey(), redisZ(member)).Err()
	var vals []any
	if err == nil {
		vals, err = createUploadScript.Run(ctx, s.c, []string{s.uploadKey(u.ID)},
			u.ID, u.Repo, u.Offset, u.State, fmtTime(u.Started), updated).Slice()
	}
	if err == nil && len(vals) > 0 && vals[0] == int64(0) {
		err = metadata.ErrExists
		if other, _ := vals[1].(string); other != updated {
			// Undo the index entry added for this failed create.
			if zerr := s.c.ZRem(ctx, s.uploadIndexKey(), member).Err(); zerr != nil {
				err = errors.Join(err, zerr)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("redismeta: create upload %s: %w", u.ID, err)
	}
	return nil
}

// GetUpload implements metadata.Uploads.
func (s *Store) GetUpload(ctx context.Context, id string) (metadata.Upload, error) {
	f, err := s.c.HGetAll(ctx, s.uploadKey(id)).Result()
	if err == nil && len(f) == 0 {
		err = metadata.ErrNotFound
	}
	var u metadata.Upload
	if err == nil {
		u, err = parseUpload(f)
	}
	if err != nil {
		return metadata.Upload{}, fmt.Errorf("redismeta: upload %s: %w", id, err)
	}
	return u, nil
}

// AcquireUpload implements metadata.Uploads in one script. The lease
// expires by the Redis server's clock.
func (s *Store) AcquireUpload(ctx context.Context, id string, offset int64, token string, ttl time.Duration) (metadata.Upload, error) {
	if token == "" {
		return metadata.Upload{}, fmt.Errorf("redismeta: acquire upload %s: %w", id, errEmptyToken)
	}
	want := ""
	if offset >= 0 {
		want = strconv.FormatInt(offset, 10)
	}
	vals, err := acquireUploadScript.Run(ctx, s.c, []string{s.uploadKey(id)}, want, token, ttl.Milliseconds()).Slice()
	if err != nil {
		return metadata.Upload{}, fmt.Errorf("redismeta: acquire upload %s: %w", id, err)
	}
	if len(vals) == 0 || vals[0] == "notfound" {
		return metadata.Upload{}, fmt.Errorf("redismeta: acquire upload %s: %w", id, metadata.ErrNotFound)
	}
	u, err := scriptUpload(vals, 1)
	if err != nil {
		return metadata.Upload{}, fmt.Errorf("redismeta: acquire upload %s: %w", id, err)
	}
	switch vals[0] {
	case "ok":
		return u, nil
	case "leased":
		return u, fmt.Errorf("redismeta: acquire upload %s: leased by another writer: %w", id, metadata.ErrConflict)
	default:
		return u, fmt.Errorf("redismeta: acquire upload %s: offset is %d, not %d: %w", id, u.Offset, offset, metadata.ErrConflict)
	}
}

// ReleaseUpload implements metadata.Uploads: one script stores the session
// and drops the lease, then the expiry index entry moves.
func (s *Store) ReleaseUpload(ctx context.Context, u metadata.Upload, token string) error {
	if token == "" {
		return fmt.Errorf("redismeta: release upload %s: %w", u.ID, errEmptyToken)
	}
	if u.Updated.IsZero() {
		u.Updated = nowUTC()
	}
	updated := fmtTime(u.Updated)
	vals, err := releaseUploadScript.Run(ctx, s.c, []string{s.uploadKey(u.ID)}, token, u.Offset, u.State, updated).Slice()
	if err == nil {
		switch {
		case len(vals) == 0 || vals[0] == "notfound":
			err = metadata.ErrNotFound
		case vals[0] == "conflict":
			err = fmt.Errorf("lease not held: %w", metadata.ErrConflict)
		case len(vals) > 1:
			if old, _ := vals[1].(string); old != updated {
				err = s.moveIndex(ctx, u.ID, old, updated)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("redismeta: release upload %s: %w", u.ID, err)
	}
	return nil
}

// moveIndex moves id's expiry index entry from time old to time updated.
func (s *Store) moveIndex(ctx context.Context, id, old, updated string) error {
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, s.uploadIndexKey(), indexMember(old, id))
		p.ZAdd(ctx, s.uploadIndexKey(), redisZ(indexMember(updated, id)))
		return nil
	})
	return err
}

// DeleteUpload implements metadata.Uploads; the package upload record of
// the same ID (metadata.Packages) goes in the same script.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	old, err := deleteUploadScript.Run(ctx, s.c, []string{s.uploadKey(id), s.pkgUploadKey(id)}).Text()
	if err == nil {
		err = s.c.ZRem(ctx, s.uploadIndexKey(), indexMember(old, id)).Err()
	}
	if err != nil {
		return fmt.Errorf("redismeta: delete upload %s: %w", id, notFound(err))
	}
	return nil
}

// ExpiredUploads implements metadata.Uploads. It reads the expiry index,
// then the sessions; index entries that a crash left stale (session gone,
// or updated since) are repaired and the scan repeated.
func (s *Store) ExpiredUploads(ctx context.Context, before time.Time, n int) ([]metadata.Upload, error) {
	out := []metadata.Upload{}
	if n == 0 || before.IsZero() {
		return out, nil
	}
	by := &redis.ZRangeBy{Min: "-", Max: "(" + indexTime(fmtTime(before))}
	if n > 0 {
		by.Count = int64(n)
	}
	for range expiredRepairRounds {
		out = out[:0]
		members, err := s.c.ZRangeByLex(ctx, s.uploadIndexKey(), by).Result()
		if err != nil {
			return nil, fmt.Errorf("redismeta: expired uploads: %w", err)
		}
		cmds := make([]*redis.MapStringStringCmd, len(members))
		if len(members) > 0 {
			_, err = s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, m := range members {
					_, id, _ := parseIndexMember(m)
					cmds[i] = p.HGetAll(ctx, s.uploadKey(id))
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("redismeta: expired uploads: %w", err)
			}
		}
		repaired := false
		for i, m := range members {
			stored, id, ok := parseIndexMember(m)
			f := cmds[i].Val()
			switch {
			case !ok || len(f) == 0:
				err = s.c.ZRem(ctx, s.uploadIndexKey(), m).Err()
				repaired = true
			case f["updated"] != stored:
				err = s.moveIndex(ctx, id, stored, f["updated"])
				repaired = true
			default:
				var u metadata.Upload
				if u, err = parseUpload(f); err == nil {
					out = append(out, u)
				}
			}
			if err != nil {
				return nil, fmt.Errorf("redismeta: expired uploads: %w", err)
			}
		}
		if !repaired {
			break
		}
	}
	return out, nil
}
