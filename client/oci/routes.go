package oci

import ocispec "github.com/regkit/regkit/spec/oci"

// routeMethods maps every route of spec/oci to the Client method that
// sends it. A test checks it against ocispec.Routes() and the method set
// of *Client, so a new route cannot go without a client method.
var routeMethods = map[ocispec.RouteID]string{
	ocispec.RouteBase:              "Ping",
	ocispec.RouteBlob:              "BlobGet", // also BlobHead, BlobGetRange
	ocispec.RouteManifest:          "ManifestGet",
	ocispec.RouteUploadStart:       "UploadStart",
	ocispec.RouteUploadAlgorithm:   "UploadStart", // with UploadOptions.Algorithm
	ocispec.RouteUploadMonolithic:  "BlobPut",
	ocispec.RouteUploadChunk:       "UploadChunk",
	ocispec.RouteUploadFinish:      "UploadFinish",
	ocispec.RouteManifestPut:       "ManifestPut",
	ocispec.RouteManifestPutTags:   "ManifestPut", // with tags
	ocispec.RouteTags:              "TagList",
	ocispec.RouteTagsPaged:         "TagList",
	ocispec.RouteManifestDelete:    "ManifestDelete",
	ocispec.RouteBlobDelete:        "BlobDelete",
	ocispec.RouteBlobMount:         "BlobMount",
	ocispec.RouteReferrers:         "Referrers",
	ocispec.RouteReferrersFiltered: "Referrers",
	ocispec.RouteUploadStatus:      "UploadStatus",
	ocispec.RouteUploadCancel:      "UploadCancel",
	ocispec.RouteCatalog:           "Catalog",
	ocispec.RouteToken:             "Token",
}
