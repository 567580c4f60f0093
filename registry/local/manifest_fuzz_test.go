package local

import (
	"errors"
	"testing"

	"github.com/regkit/regkit/spec/oci"
)

// FuzzParseManifest: any body and Content-Type either parse into a
// manifest whose references are valid digests, or fail with a 4xx OCI
// error — never a panic, never an internal error.
func FuzzParseManifest(f *testing.F) {
	seeds := []struct{ ct, body string }{
		{oci.MediaTypeImageManifest, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`},
		{oci.MediaTypeImageIndex, `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}]}`},
		{"", `{"schemaVersion":2,"config":{"digest":"sha512:` + string(make([]byte, 0)) + `"}}`},
		{oci.MediaTypeDockerManifest, `{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":-1}]}`},
		{"text/plain", `not json`},
		{oci.MediaTypeImageManifest, `{"schemaVersion":1}`},
		{oci.MediaTypeImageManifest, `{"schemaVersion":2,"subject":{"digest":"sha256:zz"}} trailing`},
	}
	for _, s := range seeds {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		pm, err := parseManifest(ct, body)
		if err != nil {
			var oe *oci.Error
			if !errors.As(err, &oe) || oe.HTTPStatus() < 400 || oe.HTTPStatus() > 499 {
				t.Fatalf("parseManifest(%q) error %v is not a 4xx OCI error", ct, err)
			}
			return
		}
		if pm.MediaType == "" {
			t.Fatalf("parsed manifest without a media type")
		}
		for _, d := range pm.References {
			if err := d.Validate(); err != nil {
				t.Fatalf("reference %q is not a valid digest: %v", d, err)
			}
		}
		if pm.Subject != "" {
			if err := pm.Subject.Validate(); err != nil {
				t.Fatalf("subject %q is not a valid digest: %v", pm.Subject, err)
			}
		}
	})
}
