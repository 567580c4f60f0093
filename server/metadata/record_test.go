package metadata

import (
	"crypto/sha512"
	"encoding/hex"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// Records as the format before the compact one wrote them (encoded by
// the code of 497a0bf, with the json tags of Blob, blobRec and Manifest):
// the values of golden().
const (
	// oldLink is the link of the digest of "layer" under its default key.
	oldLink = "a56664696765737478477368613235363a646163316437636661393530323137363438343966643130323532346531343134383863356533613930663836316462623561313264396163383538346638356473697a651a00bc614e636b65797853626c6f62732f7368613235362f64612f63312f646163316437636661393530323137363438343966643130323532346531343134383863356533613930663836316462623561313264396163383538346638356763726561746564781e323032352d30332d31345431353a30393a32362e3533353839373933325a63696e637030313233343536373839616263646566"
	// oldLinkObject is a link under a session's object key, without Inc.
	oldLinkObject = "a46664696765737478477368613235363a646163316437636661393530323137363438343966643130323532346531343134383863356533613930663836316462623561313264396163383538346638356473697a6505636b657978226f626a656374732f6162636465666768696a6b6c6d6e6f707172737475767778797a6763726561746564781e323032352d30332d31345431353a30393a32362e3533353839373933325a"
	// oldBlobRec is a pending global record with its use.
	oldBlobRec = "a86664696765737478477368613235363a646163316437636661393530323137363438343966643130323532346531343134383863356533613930663836316462623561313264396163383538346638356473697a651a00bc614e636b65797853626c6f62732f7368613235362f64612f63312f646163316437636661393530323137363438343966643130323532346531343134383863356533613930663836316462623561313264396163383538346638356763726561746564781e323032352d30332d31345431353a30393a32362e3533353839373933325a6475736564781e323032362d30312d30325430333a30343a30352e3030303030303030365a6367656e0763696e63703031323334353637383961626364656662737401"
	// oldManifest has every field set.
	oldManifest = "a86664696765737478477368613235363a62323263373238396464336234373835613337393563393065313564313662643636626432396234343462383937346665323965643034343363653530343035696d6564696154797065782a6170706c69636174696f6e2f766e642e6f63692e696d6167652e6d616e69666573742e76312b6a736f6e64626f6479584c7b22736368656d6156657273696f6e223a322c226d6564696154797065223a226170706c69636174696f6e2f766e642e6f63692e696d6167652e6d616e69666573742e76312b6a736f6e227d677375626a65637478477368613235363a613934393166346331626637623063666662616463626132646238663032386534623366323836376362353965316633613062633139363866336335313234326c617274696661637454797065781c6170706c69636174696f6e2f766e642e6578616d706c652b747970656b616e6e6f746174696f6e73a1616161626a7265666572656e6365738278477368613235363a6461633164376366613935303231373634383439666431303235323465313431343838633565336139306638363164626235613132643961633835383466383578477368613235363a623739363036666233616665613562643136303965643430623632323134326631633938313235616263666538396137366136363162306538653334333931306763726561746564781e323032352d30332d31345431353a30393a32362e3533353839373933325a"
)

type goldenRecs struct {
	layer                     digest.Digest
	link, linkObject, blobRec Blob
	state                     uint8
	manifest                  Manifest
}

// golden returns the values the old records hold.
func golden() goldenRecs {
	created := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	used := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	d := digest.FromString("layer")
	key := "blobs/sha256/" + d.Encoded()[:2] + "/" + d.Encoded()[2:4] + "/" + d.Encoded()
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
	return goldenRecs{
		layer:      d,
		link:       Blob{Digest: d, Size: 12345678, Key: key, Created: created, Inc: "0123456789abcdef"},
		linkObject: Blob{Digest: d, Size: 5, Key: "objects/abcdefghijklmnopqrstuvwxyz", Created: created},
		blobRec:    Blob{Digest: d, Size: 12345678, Key: key, Created: created, Used: used, Gen: 7, Inc: "0123456789abcdef"},
		state:      statePending,
		manifest: Manifest{Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: body,
			Subject: digest.FromString("subject"), ArtifactType: "application/vnd.example+type", Annotations: map[string]string{"a": "b"},
			References: []digest.Digest{d, digest.FromString("config")}, Created: created},
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOldRecords decodes records of the old format with the new code.
func TestOldRecords(t *testing.T) {
	g := golden()
	for _, c := range []struct {
		name  string
		rec   string
		want  Blob
		state uint8
	}{{"link", oldLink, g.link, 0}, {"link under an object key", oldLinkObject, g.linkObject, 0}, {"global record", oldBlobRec, g.blobRec, g.state}} {
		b := unhex(t, c.rec)
		if !legacy(b) {
			t.Errorf("%s: not recognised as the old format", c.name)
		}
		got, st, err := decodeBlob(b, g.layer)
		if err != nil || !reflect.DeepEqual(got, c.want) || st != c.state {
			t.Errorf("%s: decoded %+v state %d, %v; want %+v state %d", c.name, got, st, err, c.want, c.state)
		}
	}
	var m Manifest
	if err := decode(unhex(t, oldManifest), &m); err != nil || !reflect.DeepEqual(m, g.manifest) {
		t.Errorf("manifest: decoded %+v, %v; want %+v", m, err, g.manifest)
	}
	h, err := decodeManifestHead(unhex(t, oldManifest))
	want := Manifest{Digest: g.manifest.Digest, MediaType: g.manifest.MediaType, Body: g.manifest.Body}
	if err != nil || h.Digest != want.Digest || h.MediaType != want.MediaType || string(h.Body) != string(want.Body) {
		t.Errorf("manifest head: decoded %+v, %v; want %+v", h, err, want)
	}
}

// TestCompactRecords round-trips records through the compact format,
// with the fields it stores in another form: digests of other algorithms
// and encodings, keys other than the default (also ""), media types
// without a code, zero times, Incs that are not hex.
func TestCompactRecords(t *testing.T) {
	g := golden()
	odd := []digest.Digest{
		digest.FromString("x"),
		digest.Digest("sha512:" + hex.EncodeToString(sha512.New().Sum(nil))),
		digest.Digest("sha256:ABCDEF" + digest.FromString("x").Encoded()[6:]),
		"blake3:0123",
		"sha256:abc",
	}
	for _, d := range odd {
		for _, b := range []Blob{
			{Digest: d, Size: 1, Key: DefaultBlobKey(d)},
			{Digest: d, Key: "objects/x", Created: g.link.Created, Inc: "not hex"},
			{Digest: d, Key: "", Used: g.blobRec.Used, Gen: 3, Inc: "0a"},
		} {
			v := encodeBlob(b, stateTomb)
			if legacy(v) {
				t.Errorf("%+v: compact record taken for the old format", b)
			}
			got, st, err := decodeBlob(v, d)
			if err != nil || !reflect.DeepEqual(got, b) || st != stateTomb {
				t.Errorf("%+v: decoded %+v state %d, %v", b, got, st, err)
			}
		}
		m := g.manifest
		m.Digest, m.Subject, m.References = d, d, odd
		m.MediaType, m.ArtifactType = "text/plain", mediaTypes[5]
		for _, m := range []Manifest{g.manifest, m, {Digest: d, Body: []byte("{}")}} {
			var got Manifest
			v := encode(m)
			if err := decode(v, &got); err != nil || !reflect.DeepEqual(got, m) {
				t.Errorf("manifest %s: decoded %+v, %v; want %+v", m.Digest, got, err, m)
			}
			h, err := decodeManifestHead(v)
			if err != nil || h.Digest != m.Digest || h.MediaType != m.MediaType || string(h.Body) != string(m.Body) || h.References != nil {
				t.Errorf("manifest head %s: decoded %+v, %v", m.Digest, h, err)
			}
		}
	}
	for _, v := range [][]byte{{0xa1, 0x01, 0x41, 0x07}, {0xa1, 0x07, 0x18, 0xff}} {
		var m Manifest
		if err := decode(v, &m); err == nil {
			t.Errorf("%x: decoded %+v, want an error", v, m)
		}
	}
}

// BenchmarkManifestDecode decodes the record of a small image manifest
// (four references) as a GET does: whole (old and compact format) and
// only its head.
//
//	go test -run '^$' -bench ManifestDecode -count 6 ./server/metadata/
func BenchmarkManifestDecode(b *testing.B) {
	g := golden()
	m := g.manifest
	m.Subject, m.Annotations = "", nil
	for i := range 4 {
		m.References = append(m.References, digest.FromString(string(rune('a'+i))))
	}
	m.References = m.References[len(m.References)-4:]
	l := legacyManifest{Digest: m.Digest, MediaType: m.MediaType, Body: m.Body, References: m.References, ArtifactType: m.ArtifactType, Created: m.Created}
	old, err := encMode.Marshal(l)
	if err != nil {
		b.Fatal(err)
	}
	compact := encode(m)
	b.Logf("old record %d bytes, compact %d", len(old), len(compact))
	b.Run("old", func(b *testing.B) {
		for b.Loop() {
			var got Manifest
			if err := decode(old, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compact", func(b *testing.B) {
		for b.Loop() {
			var got Manifest
			if err := decodeManifest(compact, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("head", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeManifestHead(compact); err != nil {
				b.Fatal(err)
			}
		}
	})
}
