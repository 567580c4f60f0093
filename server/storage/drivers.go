package storage

// The object-storage drivers, registered on blob.DefaultURLMux so that
// Open accepts s3://, gs:// and azblob:// URLs. Each opens its bucket with
// its SDK's standard credential chain (see NOTES for the URL forms,
// emulator endpoints included).
import (
	_ "gocloud.dev/blob/azureblob" // azblob://
	_ "gocloud.dev/blob/gcsblob"   // gs://
	_ "gocloud.dev/blob/s3blob"    // s3://
)
