package emulators

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

var bucketSeq atomic.Int64

func (e *Emulator) createBucket(ctx context.Context, name string) error {
	switch e.Kind {
	case S3:
		c := s3.New(s3.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String("http://" + e.Addr),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(S3AccessKey, S3SecretKey, ""),
		})
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		return err
	case GCS:
		body := strings.NewReader(`{"name":"` + name + `"}`)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.Addr+"/storage/v1/b?project=regkit", body)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%w: %s", errStatus, resp.Status)
		}
		return nil
	case Azure:
		cred, err := azblob.NewSharedKeyCredential(AzureAccount, AzureKey)
		if err != nil {
			return err
		}
		c, err := azblob.NewClientWithSharedKeyCredential("http://"+e.Addr+"/"+AzureAccount, cred, nil)
		if err != nil {
			return err
		}
		_, err = c.CreateContainer(ctx, name, nil)
		return err
	}
	return fmt.Errorf("emulators: unknown kind %q", e.Kind)
}
