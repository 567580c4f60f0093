package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
)

// The retry policy of azblob:// buckets. The Azure SDK's default waits
// 0.8 s, 2.4 s and 5.6 s (±20%) between its four tries, so an unreachable
// account answers after ~9 s per call and ~30 s for a request that makes
// several; regkit's default answers within ~1.5 s per call, like its GCS
// bound (4 attempts, 0.1–2 s backoff). The URL query parameters below
// (regkit's, removed before the gocloud opener sees the URL) change it:
//
//	retry_max        retries after the first try (default 3; 0: none)
//	retry_delay      first backoff, doubled per retry (default 100ms)
//	retry_max_delay  longest backoff (default 2s); a throttling answer
//	                 whose Retry-After asks for longer is not retried
//	                 (the client gets 503 with Retry-After instead)
//	try_timeout      bound of one try, body transfer included (default:
//	                 the SDK's, 1 minute)
//
// Durations are Go durations ("250ms", "5s").
const (
	azureRetryMax      = "retry_max"
	azureRetryDelay    = "retry_delay"
	azureRetryMaxDelay = "retry_max_delay"
	azureTryTimeout    = "try_timeout"
)

// defaultAzureRetry is regkit's retry policy on Azure unless the URL says
// otherwise.
var defaultAzureRetry = policy.RetryOptions{
	MaxRetries:    3,
	RetryDelay:    100 * time.Millisecond,
	MaxRetryDelay: 2 * time.Second,
}

// azureRetry returns the retry options of u's query and u without them.
func azureRetry(u *url.URL) (policy.RetryOptions, *url.URL, error) {
	o := defaultAzureRetry
	q := u.Query()
	duration := func(name string, dst *time.Duration) error {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("storage: azblob URL: %s=%q: want a duration such as 250ms or 5s", name, v)
		}
		*dst = d
		return nil
	}
	if v := q.Get(azureRetryMax); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			return o, nil, fmt.Errorf("storage: azblob URL: %s=%q: want a number of retries (0 or more)", azureRetryMax, v)
		}
		o.MaxRetries = int32(n)
		if n == 0 {
			o.MaxRetries = -1 // the SDK's "no retries"; 0 means its default
		}
	}
	for name, dst := range map[string]*time.Duration{azureRetryDelay: &o.RetryDelay, azureRetryMaxDelay: &o.MaxRetryDelay, azureTryTimeout: &o.TryTimeout} {
		if err := duration(name, dst); err != nil {
			return o, nil, err
		}
	}
	for _, name := range []string{azureRetryMax, azureRetryDelay, azureRetryMaxDelay, azureTryTimeout} {
		q.Del(name)
	}
	rest := *u
	rest.RawQuery = q.Encode()
	return o, &rest, nil
}

// openAzure opens an azblob:// URL as gocloud's default opener does (the
// same query parameters and credential chain, see azureblob's package
// documentation), with the client's retry policy set by azureRetry.
func openAzure(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	retry, rest, err := azureRetry(u)
	if err != nil {
		return nil, err
	}
	defaults := azureblob.NewDefaultServiceURLOptions()
	opener := &azureblob.URLOpener{
		ServiceURLOptions: *defaults,
		MakeClient: func(svc azureblob.ServiceURL, name azureblob.ContainerName) (*container.Client, error) {
			if defaults.SASToken != "" {
				// The SAS token is part of the service URL: the bucket URL
				// must not send it to another origin (gocloud's opener
				// refuses that too).
				want, err := azureblob.NewServiceURL(defaults)
				if err != nil {
					return nil, err
				}
				if !sameOrigin(string(want), string(svc)) {
					return nil, errors.New("storage: an azblob URL cannot change the service endpoint when AZURE_STORAGE_SAS_TOKEN is set")
				}
			}
			return newAzureClient(svc, name, &container.ClientOptions{ClientOptions: policy.ClientOptions{Retry: retry}})
		},
	}
	return opener.OpenBucketURL(ctx, rest)
}

func sameOrigin(a, b string) bool {
	ua, err := url.Parse(a)
	if err != nil {
		return false
	}
	ub, err := url.Parse(b)
	if err != nil {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host)
}

// newAzureClient makes the container client with the credentials of the
// environment, in gocloud's order: AZURE_STORAGE_ACCOUNT with
// AZURE_STORAGE_KEY (shared key), AZURE_STORAGE_SAS_TOKEN (in the service
// URL), AZURE_STORAGE_CONNECTION_STRING (or
// AZURE_STORAGEBLOB_CONNECTIONSTRING), else the default Azure credential
// chain (environment, workload and managed identity, Azure CLI).
func newAzureClient(svc azureblob.ServiceURL, name azureblob.ContainerName, opts *container.ClientOptions) (*container.Client, error) {
	containerURL, err := url.JoinPath(string(svc), string(name))
	if err != nil {
		return nil, err
	}
	account, key := os.Getenv("AZURE_STORAGE_ACCOUNT"), os.Getenv("AZURE_STORAGE_KEY")
	conn := os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	if conn == "" {
		conn = os.Getenv("AZURE_STORAGEBLOB_CONNECTIONSTRING")
	}
	switch {
	case account != "" && key != "":
		cred, err := azblob.NewSharedKeyCredential(account, key)
		if err != nil {
			return nil, fmt.Errorf("storage: azure shared key: %w", err)
		}
		return container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
	case os.Getenv("AZURE_STORAGE_SAS_TOKEN") != "":
		return container.NewClientWithNoCredential(containerURL, opts)
	case conn != "":
		return container.NewClientFromConnectionString(conn, string(name), opts)
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("storage: azure default credential: %w", err)
	}
	return container.NewClient(containerURL, cred, opts)
}
