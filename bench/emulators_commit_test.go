//go:build benchbackends

package bench_test

// The emulators' own cost of a commit, for docs/benchmarks-backends.md:
// versitygw's CompleteMultipartUpload and fake-gcs-server's compose,
// called directly with the SDKs (no regkit in between), for 8 MiB parts
// making 8 MiB to 1 GiB. Both copy the bytes, so a final PUT on them
// grows with size however little regkit does:
//
//	go test -tags benchbackends -run 'TestEmulatorCommit' -v ./bench/

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/regkit/regkit/server/storage/emulators"
)

// TestEmulatorCommitS3 times CompleteMultipartUpload on versitygw.
func TestEmulatorCommitS3(t *testing.T) {
	e := emulators.Start(t, emulators.S3)
	u := e.NewBucket(t)
	bucket := strings.TrimPrefix(u, "s3://")
	bucket = bucket[:strings.Index(bucket, "?")]
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + e.Addr), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(emulators.S3AccessKey, emulators.S3SecretKey, "")})
	ctx := context.Background()
	part := bytes.Repeat([]byte{7}, 8<<20)
	for _, n := range []int{1, 32, 128} {
		key := fmt.Sprintf("k%d", n)
		mu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		var parts []types.CompletedPart
		for i := 1; i <= n; i++ {
			r, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: mu.UploadId, PartNumber: aws.Int32(int32(i)), Body: bytes.NewReader(part)})
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, types.CompletedPart{ETag: r.ETag, PartNumber: aws.Int32(int32(i))})
		}
		t0 := time.Now()
		if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: mu.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
			t.Fatal(err)
		}
		t.Logf("versitygw CompleteMultipartUpload of %d x 8 MiB (%d MiB): %v", n, n*8, time.Since(t0))
	}
}

// TestEmulatorCommitGCS times one compose of up to 32 objects on
// fake-gcs-server.
func TestEmulatorCommitGCS(t *testing.T) {
	e := emulators.Start(t, emulators.GCS)
	u := e.NewBucket(t)
	ctx := context.Background()
	c, err := storage.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Bucket(strings.TrimPrefix(u, "gs://"))
	part := bytes.Repeat([]byte{7}, 8<<20)
	for _, n := range []int{1, 32} {
		var srcs []*storage.ObjectHandle
		for i := range n {
			o := b.Object(fmt.Sprintf("p%d-%d", n, i))
			w := o.NewWriter(ctx)
			if _, err := w.Write(part); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			srcs = append(srcs, o)
		}
		t0 := time.Now()
		if _, err := b.Object(fmt.Sprintf("c%d", n)).ComposerFrom(srcs...).Run(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("fake-gcs-server compose of %d x 8 MiB (%d MiB): %v", n, n*8, time.Since(t0))
	}
}
