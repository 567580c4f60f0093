package oci

import "strings"

// OCI image-spec media types.
const (
	// MediaTypeImageManifest is the OCI image manifest.
	MediaTypeImageManifest = "application/vnd.oci.image.manifest.v1+json"
	// MediaTypeImageIndex is the OCI image index.
	MediaTypeImageIndex = "application/vnd.oci.image.index.v1+json"
	// MediaTypeImageConfig is the OCI image configuration.
	MediaTypeImageConfig = "application/vnd.oci.image.config.v1+json"
	// MediaTypeEmptyJSON is the empty descriptor's media type; its content
	// is "{}".
	MediaTypeEmptyJSON = "application/vnd.oci.empty.v1+json"
	// MediaTypeImageLayer is an uncompressed tar layer.
	MediaTypeImageLayer = "application/vnd.oci.image.layer.v1.tar"
	// MediaTypeImageLayerGzip is a gzip-compressed tar layer.
	MediaTypeImageLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
	// MediaTypeImageLayerZstd is a zstd-compressed tar layer.
	MediaTypeImageLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
	// MediaTypeImageLayerNonDistributable is an uncompressed
	// non-distributable layer (deprecated by image-spec, still accepted).
	MediaTypeImageLayerNonDistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar"
	// MediaTypeImageLayerNonDistributableGzip is a gzip-compressed
	// non-distributable layer.
	MediaTypeImageLayerNonDistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
	// MediaTypeImageLayerNonDistributableZstd is a zstd-compressed
	// non-distributable layer.
	MediaTypeImageLayerNonDistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
)

// Docker Registry v2 (image manifest v2, schema 2) media types.
const (
	// MediaTypeDockerManifest is the Docker v2 schema 2 image manifest.
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	// MediaTypeDockerManifestList is the Docker manifest list.
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	// MediaTypeDockerConfig is the Docker container configuration.
	MediaTypeDockerConfig = "application/vnd.docker.container.image.v1+json"
	// MediaTypeDockerLayer is a gzip-compressed Docker layer.
	MediaTypeDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	// MediaTypeDockerForeignLayer is a Docker foreign (non-distributable)
	// layer.
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// baseMediaType returns mt without parameters, trimmed and lowercased.
func baseMediaType(mt string) string {
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

// ManifestMediaTypes returns the manifest media types a registry accepts
// and serves (IsManifest): the OCI image manifest and index, and the
// Docker v2 schema 2 manifest and manifest list.
func ManifestMediaTypes() []string {
	return []string{MediaTypeImageManifest, MediaTypeImageIndex, MediaTypeDockerManifest, MediaTypeDockerManifestList}
}

// IsManifest reports whether mt (parameters ignored, case-insensitive) is
// one of the four manifest types: OCI image manifest or index, Docker
// manifest or manifest list.
func IsManifest(mt string) bool {
	switch baseMediaType(mt) {
	case MediaTypeImageManifest, MediaTypeImageIndex, MediaTypeDockerManifest, MediaTypeDockerManifestList:
		return true
	}
	return false
}

// IsIndex reports whether mt (parameters ignored, case-insensitive) is an
// OCI image index or a Docker manifest list.
func IsIndex(mt string) bool {
	switch baseMediaType(mt) {
	case MediaTypeImageIndex, MediaTypeDockerManifestList:
		return true
	}
	return false
}

// IsNonDistributable reports whether mt (parameters ignored,
// case-insensitive) is an OCI non-distributable layer or a Docker foreign
// layer, whose blob a registry need not hold.
func IsNonDistributable(mt string) bool {
	switch baseMediaType(mt) {
	case MediaTypeImageLayerNonDistributable, MediaTypeImageLayerNonDistributableGzip,
		MediaTypeImageLayerNonDistributableZstd, MediaTypeDockerForeignLayer:
		return true
	}
	return false
}
