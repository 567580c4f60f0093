package oci

import (
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestMediaTypesMatchImageSpec(t *testing.T) {
	for got, want := range map[string]string{
		MediaTypeImageManifest:  v1.MediaTypeImageManifest,
		MediaTypeImageIndex:     v1.MediaTypeImageIndex,
		MediaTypeImageConfig:    v1.MediaTypeImageConfig,
		MediaTypeEmptyJSON:      v1.MediaTypeEmptyJSON,
		MediaTypeImageLayer:     v1.MediaTypeImageLayer,
		MediaTypeImageLayerGzip: v1.MediaTypeImageLayerGzip,
		MediaTypeImageLayerZstd: v1.MediaTypeImageLayerZstd,
	} {
		if got != want {
			t.Errorf("%q != image-spec %q", got, want)
		}
	}
}

func TestMediaTypePredicates(t *testing.T) {
	tests := []struct {
		mt                       string
		manifest, index, nondist bool
	}{
		{MediaTypeImageManifest, true, false, false},
		{MediaTypeImageIndex, true, true, false},
		{MediaTypeDockerManifest, true, false, false},
		{MediaTypeDockerManifestList, true, true, false},
		{"Application/VND.oci.image.index.v1+json; charset=utf-8", true, true, false},
		{MediaTypeImageConfig, false, false, false},
		{MediaTypeEmptyJSON, false, false, false},
		{MediaTypeImageLayerGzip, false, false, false},
		{MediaTypeDockerLayer, false, false, false},
		{MediaTypeImageLayerNonDistributable, false, false, true},
		{MediaTypeImageLayerNonDistributableGzip, false, false, true},
		{MediaTypeImageLayerNonDistributableZstd, false, false, true},
		{MediaTypeDockerForeignLayer, false, false, true},
		{"", false, false, false},
		{"application/json", false, false, false},
	}
	for _, tt := range tests {
		if IsManifest(tt.mt) != tt.manifest || IsIndex(tt.mt) != tt.index || IsNonDistributable(tt.mt) != tt.nondist {
			t.Errorf("%q: IsManifest=%v IsIndex=%v IsNonDistributable=%v", tt.mt, IsManifest(tt.mt), IsIndex(tt.mt), IsNonDistributable(tt.mt))
		}
	}
}
