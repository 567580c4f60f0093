package storage_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/storage"
)

func s3Env(t *testing.T) (*env, *s3.Client, string) {
	t.Helper()
	e := newEnv(t, "s3")
	var c *s3.Client
	if !e.replica(t).Bucket().As(&c) {
		t.Fatal("s3 bucket As(*s3.Client) failed")
	}
	return e, c, ""
}

// bucketOf returns the bucket name of e's URL.
func bucketOf(t *testing.T, e *env) string {
	t.Helper()
	return strings.TrimPrefix(strings.SplitN(e.url, "?", 2)[0], "s3://")
}

// TestS3MultipartParts: 1 MiB PATCHes alternate between two replicas;
// before the final PUT (on the other replica) the multipart upload holds
// only parts of at least 5 MiB, nothing is visible at the session's key,
// and after it the blob reads back byte-exact from both replicas from
// the session's key — the commit copied nothing.
func TestS3MultipartParts(t *testing.T) {
	e, c, _ := s3Env(t)
	ctx := context.Background()
	a, b := e.replica(t), e.replica(t)
	data := randBytes(13<<20 + 12345)
	u, err := a.StartUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 1 << 20
	var off int64
	for i := 0; off+chunk < int64(len(data)); i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		if _, err := s.AppendUpload(ctx, "", u.ID, off, bytes.NewReader(data[off:off+chunk])); err != nil {
			t.Fatalf("AppendUpload at %d: %v", off, err)
		}
		off += chunk
	}
	bucket := bucketOf(t, e)
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String("objects/" + u.ID)})
	if err != nil || len(ups.Uploads) != 1 {
		t.Fatalf("multipart uploads of the session: %v, %v; want exactly one", ups, err)
	}
	parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: ups.Uploads[0].Key, UploadId: ups.Uploads[0].UploadId})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts.Parts) == 0 {
		t.Fatalf("no part uploaded after %d bytes of PATCHes", off)
	}
	for _, p := range parts.Parts {
		if aws.ToInt64(p.Size) < storage.S3MinPartSize {
			t.Fatalf("part %d has %d bytes, under S3's minimum of %d", aws.ToInt32(p.PartNumber), aws.ToInt64(p.Size), storage.S3MinPartSize)
		}
	}
	if exists(t, a, "objects/"+u.ID) {
		t.Fatalf("the session's object is visible before the final PUT")
	}
	blob, err := b.FinishUpload(ctx, "", u.ID, bytes.NewReader(data[off:]), digest.FromBytes(data))
	if err != nil {
		t.Fatalf("FinishUpload: %v", err)
	}
	if blob.Key != "objects/"+u.ID {
		t.Fatalf("blob key = %q, want the session's objects/%s", blob.Key, u.ID)
	}
	for _, s := range []*storage.Store{a, b} {
		if got := readAll(t, s, blob, 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, want %d (or content differs)", len(got), len(data))
		}
	}
	left, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(left.Uploads) != 0 {
		t.Fatalf("multipart uploads left: %v, %v", left, err)
	}
	checkNoStaged(t, e, a)
}

// TestS3EnforcesMinPartSize: the S3 implementation the tests run on
// refuses a multipart upload whose non-final part is under 5 MiB, as AWS
// does — otherwise the tests above could not catch a storage layer that
// sends such parts.
func TestS3EnforcesMinPartSize(t *testing.T) {
	e, c, _ := s3Env(t)
	ctx := context.Background()
	bucket := bucketOf(t, e)
	key := aws.String("objects/small-parts")
	mpu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	done := &types.CompletedMultipartUpload{}
	for n := int32(1); n <= 2; n++ {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: key, UploadId: mpu.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(randBytes(1 << 20)), ContentLength: aws.Int64(1 << 20)})
		if err != nil {
			t.Fatal(err)
		}
		done.Parts = append(done.Parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: key, UploadId: mpu.UploadId, MultipartUpload: done})
	if err == nil {
		t.Fatalf("CompleteMultipartUpload with a 1 MiB non-final part succeeded: this S3 implementation does not enforce the 5 MiB minimum")
	}
	t.Logf("refused as on AWS: %v", err)
}

// TestS3FinishOtherDigest: an upload of several parts finished with a
// digest algorithm the session did not hash is completed once to be
// hashed, then recorded without completing again.
func TestS3FinishOtherDigest(t *testing.T) {
	e, _, _ := s3Env(t)
	ctx := context.Background()
	s := e.replica(t)
	data := randBytes(11<<20 + 3)
	u, err := s.StartUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, "", u.ID, 0, bytes.NewReader(data[:9<<20])); err != nil {
		t.Fatal(err)
	}
	want := digest.SHA512.FromBytes(data)
	b, err := e.replica(t).FinishUpload(ctx, "", u.ID, bytes.NewReader(data[9<<20:]), want)
	if err != nil {
		t.Fatalf("FinishUpload(sha512): %v", err)
	}
	if b.Digest != want {
		t.Fatalf("digest %s, want %s", b.Digest, want)
	}
	if got := readAll(t, s, b, 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(data))
	}
}
