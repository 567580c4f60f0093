package metadatatest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/regkit/regkit/server/metadata"
)

// RunPackages runs the contract suite of metadata.Packages against the
// stores newStore returns: packages, versions, files, listing, links,
// download counts and resumable upload records. newStore is called once
// per subtest (subtests run in parallel) and must return an empty store
// sharing no data with the others; it registers its own cleanup.
func RunPackages(t *testing.T, newStore func(t *testing.T) metadata.Packages) {
	open := func(t *testing.T) metadata.Packages {
		t.Helper()
		t.Parallel()
		s := newStore(t)
		if s == nil {
			t.Fatal("newStore returned nil")
		}
		return s
	}
	t.Run("PutGet", func(t *testing.T) { testPackagePutGet(t, open(t)) })
	t.Run("CaseInsensitive", func(t *testing.T) { testPackageCase(t, open(t)) })
	t.Run("SemVer", func(t *testing.T) { testPackageSemVer(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { testPackageDelete(t, open(t)) })
	t.Run("List", func(t *testing.T) { testPackageList(t, open(t)) })
	t.Run("LinkAndDownloads", func(t *testing.T) { testPackageLink(t, open(t)) })
	t.Run("Blobs", func(t *testing.T) { testPackageBlobs(t, open(t)) })
	t.Run("Uploads", func(t *testing.T) { testPackageUploads(t, open(t)) })
	t.Run("Concurrent", func(t *testing.T) { testPackageConcurrent(t, open(t)) })
}

func pkgFile(name, content string) metadata.PackageFile {
	s := sha256.Sum256([]byte(content))
	return metadata.PackageFile{
		Name: name, Size: int64(len(content)), ContentType: "text/plain",
		MD5: "md5-" + name, SHA1: "sha1-" + name, SHA256: hex.EncodeToString(s[:]), SHA512: "sha512-" + name,
	}
}

func ref(owner, name, version string) metadata.PackageRef {
	return metadata.PackageRef{Owner: owner, Type: "generic", Name: name, Version: version}
}

func testPackagePutGet(t *testing.T, s metadata.Packages) {
	ctx := t.Context()
	r := ref("Alice", "Tool", "1.0.0")
	_, err := s.GetPackageVersion(ctx, r)
	wantErr(t, err, metadata.ErrNotFound, "GetPackageVersion before put")
	_, err = s.GetPackage(ctx, r)
	wantErr(t, err, metadata.ErrNotFound, "GetPackage before put")
	_, err = s.GetPackageFile(ctx, r, "a.txt")
	wantErr(t, err, metadata.ErrNotFound, "GetPackageFile before put")

	before := time.Now().Add(-time.Second)
	v, err := s.PutPackageFile(ctx, r, pkgFile("a.txt", "aaa"), metadata.PutFileOptions{SemVer: true, Creator: "alice"})
	noErr(t, err, "PutPackageFile")
	if v.ID == 0 || v.Version != "1.0.0" || v.Package.ID == 0 || v.Package.Name != "Tool" || v.Package.Owner != "Alice" ||
		v.Package.Type != "generic" || !v.Package.SemVer || v.Creator != "alice" || v.Created.Before(before) {
		t.Fatalf("PutPackageFile = %+v", v)
	}
	if len(v.Files) != 1 || v.Files[0].ID == 0 || v.Files[0].Name != "a.txt" || v.Files[0].Created.IsZero() {
		t.Fatalf("PutPackageFile files = %+v", v.Files)
	}
	v2, err := s.PutPackageFile(ctx, r, pkgFile("b.txt", "bbbb"), metadata.PutFileOptions{SemVer: true})
	noErr(t, err, "second file")
	if v2.ID != v.ID || len(v2.Files) != 2 || v2.Files[0].Name != "a.txt" || v2.Files[1].Name != "b.txt" || v2.Files[1].ID <= v2.Files[0].ID {
		t.Fatalf("second PutPackageFile = %+v", v2)
	}
	_, err = s.PutPackageFile(ctx, r, pkgFile("a.txt", "other"), metadata.PutFileOptions{SemVer: true})
	wantErr(t, err, metadata.ErrExists, "duplicate file")

	got, err := s.GetPackageVersion(ctx, r)
	noErr(t, err, "GetPackageVersion")
	if got.ID != v.ID || len(got.Files) != 2 || got.Files[0] != v2.Files[0] || got.Files[1] != v2.Files[1] || got.Package != v.Package {
		t.Fatalf("GetPackageVersion = %+v, want %+v", got, v2)
	}
	f, err := s.GetPackageFile(ctx, r, "b.txt")
	noErr(t, err, "GetPackageFile")
	want := pkgFile("b.txt", "bbbb")
	want.ID, want.Created = f.ID, f.Created
	if f != want {
		t.Fatalf("GetPackageFile = %+v, want %+v", f, want)
	}
	if f.Digest() != digest.FromString("bbbb") {
		t.Fatalf("Digest = %s", f.Digest())
	}
	p, err := s.GetPackage(ctx, r)
	noErr(t, err, "GetPackage")
	if p != v.Package {
		t.Fatalf("GetPackage = %+v, want %+v", p, v.Package)
	}
	// Another type with the same name is another package.
	other := r
	other.Type = "other"
	_, err = s.GetPackage(ctx, other)
	wantErr(t, err, metadata.ErrNotFound, "GetPackage of another type")
}

func testPackageCase(t *testing.T, s metadata.Packages) {
	ctx := t.Context()
	_, err := s.PutPackageFile(ctx, ref("Bob", "MyPkg", "V1"), pkgFile("File.TXT", "x"), metadata.PutFileOptions{})
	noErr(t, err, "put")
	_, err = s.PutPackageFile(ctx, ref("bob", "mypkg", "v1"), pkgFile("file.txt", "y"), metadata.PutFileOptions{})
	wantErr(t, err, metadata.ErrExists, "put differing in case only")
	v, err := s.PutPackageFile(ctx, ref("BOB", "MYPKG", "v1"), pkgFile("other", "z"), metadata.PutFileOptions{})
	noErr(t, err, "second file, other case")
	if v.Version != "V1" || v.Package.Name != "MyPkg" || v.Package.Owner != "Bob" || len(v.Files) != 2 {
		t.Fatalf("names keep their first case: %+v", v)
	}
	f, err := s.GetPackageFile(ctx, ref("bob", "mypkg", "v1"), "FILE.txt")
	noErr(t, err, "GetPackageFile, other case")
	if f.Name != "File.TXT" {
		t.Fatalf("file name %q", f.Name)
	}
}

func testPackageSemVer(t *testing.T, s metadata.Packages) {
	ctx := t.Context()
	_, err := s.PutPackageFile(ctx, ref("o", "sv", "1.0.0"), pkgFile("f", "1"), metadata.PutFileOptions{SemVer: true})
	noErr(t, err, "first SemVer version")
	_, err = s.PutPackageFile(ctx, ref("o", "sv", "nightly"), pkgFile("f", "2"), metadata.PutFileOptions{SemVer: false})
	wantErr(t, err, metadata.ErrConflict, "non-SemVer version of a SemVer package")
	_, err = s.GetPackageVersion(ctx, ref("o", "sv", "nightly"))
	wantErr(t, err, metadata.ErrNotFound, "the refused version")
	_, err = s.PutPackageFile(ctx, ref("o", "sv", "1.1.0"), pkgFile("f", "3"), metadata.PutFileOptions{SemVer: true})
	noErr(t, err, "second SemVer version")

	v, err := s.PutPackageFile(ctx, ref("o", "free", "nightly"), pkgFile("f", "4"), metadata.PutFileOptions{})
	noErr(t, err, "non-SemVer package")
	if v.Package.SemVer {
		t.Fatal("package of a non-SemVer first version is SemVer")
	}
	_, err = s.PutPackageFile(ctx, ref("o", "free", "2.0.0"), pkgFile("f", "5"), metadata.PutFileOptions{SemVer: true})
	noErr(t, err, "SemVer version of a free package")
}

func testPackageDelete(t *testing.T, s metadata.Packages) {
	ctx := t.Context()
	r1, r2 := ref("o", "p", "1"), ref("o", "p", "2")
	for _, f := range []string{"a", "b"} {
		_, err := s.PutPackageFile(ctx, r1, pkgFile(f, f), metadata.PutFileOptions{})
		noErr(t, err, "put "+f)
	}
	_, err := s.PutPackageFile(ctx, r2, pkgFile("c", "c"), metadata.PutFileOptions{})
	noErr(t, err, "put c")

	f, gone, err := s.DeletePackageFile(ctx, r1, "A")
	noErr(t, err, "delete a")
	if gone || f.Name != "a" {
		t.Fatalf("delete a = %+v, %v", f, gone)
	}
	_, _, err = s.DeletePackageFile(ctx, r1, "a")
	wantErr(t, err, metadata.ErrNotFound, "second delete of a")
	_, gone, err = s.DeletePackageFile(ctx, r1, "b")
	noErr(t, err, "delete b")
	if !gone {
		t.Fatal("deleting the last file did not delete the version")
	}
	_, err = s.GetPackageVersion(ctx, r1)
	wantErr(t, err, metadata.ErrNotFound, "version after its last file")
	vs, total, err := s.PackageVersions(ctx, r1, 0, -1)
	noErr(t, err, "PackageVersions")
	if total != 1 || len(vs) != 1 || vs[0].Version != "2" {
		t.Fatalf("PackageVersions = %+v, %d", vs, total)
	}

	v, err := s.DeletePackageVersion(ctx, r2)
	noErr(t, err, "DeletePackageVersion")
	if v.Version != "2" || len(v.Files) != 1 || v.Files[0].Name != "c" {
		t.Fatalf("DeletePackageVersion = %+v", v)
	}
	_, err = s.DeletePackageVersion(ctx, r2)
	wantErr(t, err, metadata.ErrNotFound, "second DeletePackageVersion")
	_, err = s.GetPackage(ctx, r2)
	wantErr(t, err, metadata.ErrNotFound, "package after its last version")
	_, _, err = s.PackageVersions(ctx, r2, 0, -1)
	wantErr(t, err, metadata.ErrNotFound, "PackageVersions of a deleted package")
	// A new version starts a new package.
	v, err = s.PutPackageFile(ctx, ref("o", "p", "3"), pkgFile("d", "d"), metadata.PutFileOptions{})
	noErr(t, err, "put after delete")
	if len(v.Files) != 1 {
		t.Fatalf("new version has files %+v", v.Files)
	}
}

func testPackageList(t *testing.T, s metadata.Packages) {
	ctx := t.Context()
	var order []string // creation order
	put := func(owner, typ, name, version string) {
		t.Helper()
		r := metadata.PackageRef{Owner: owner, Type: typ, Name: name, Version: version}
		_, err := s.PutPackageFile(ctx, r, pkgFile("f", name+version), metadata.PutFileOptions{})
		noErr(t, err, "put "+name+"/"+version)
		if owner == "lister" {
			order = append(order, name+"/"+version)
		}
	}
	put("lister", "generic", "Alpha", "1")
	put("lister", "generic", "beta", "1")
	put("lister", "generic", "Alpha", "2")
	put("lister", "other", "alphabet", "1")
	put("someone-else", "generic", "Alpha", "9")
	put("lister", "generic", "gamma", "1")

	names := func(vs []metadata.PackageVersion) []string {
		out := []string{}
		for _, v := range vs {
			out = append(out, v.Package.Name+"/"+v.Version)
		}
		return out
	}
	newest := slices.Clone(order)
	slices.Reverse(newest)
	vs, total, err := s.ListPackageVersions(ctx, "LISTER", metadata.PackageFilter{}, 0, -1)
	noErr(t, err, "ListPackageVersions")
	if total != 5 || !slices.Equal(names(vs), newest) {
		t.Fatalf("ListPackageVersions = %v, %d; want %v", names(vs), total, newest)
	}
	vs, total, err = s.ListPackageVersions(ctx, "lister", metadata.PackageFilter{}, 1, 2)
	noErr(t, err, "page")
	if total != 5 || !slices.Equal(names(vs), newest[1:3]) {
		t.Fatalf("page = %v, %d; want %v", names(vs), total, newest[1:3])
	}
	vs, total, err = s.ListPackageVersions(ctx, "lister", metadata.PackageFilter{}, 10, 2)
	noErr(t, err, "page past the end")
	if total != 5 || vs == nil || len(vs) != 0 {
		t.Fatalf("page past the end = %v, %d", vs, total)
	}
	vs, total, err = s.ListPackageVersions(ctx, "lister", metadata.PackageFilter{Query: "ALPH"}, 0, -1)
	noErr(t, err, "query")
	if want := []string{"alphabet/1", "Alpha/2", "Alpha/1"}; total != 3 || !slices.Equal(names(vs), want) {
		t.Fatalf("query = %v, %d; want %v", names(vs), total, want)
	}
	vs, total, err = s.ListPackageVersions(ctx, "lister", metadata.PackageFilter{Type: "generic", Query: "alph"}, 0, -1)
	noErr(t, err, "type and query")
	if want := []string{"Alpha/2", "Alpha/1"}; total != 2 || !slices.Equal(names(vs), want) {
		t.Fatalf("type and query = %v, %d; want %v", names(vs), total, want)
	}
	vs, total, err = s.ListPackageVersions(ctx, "lister", metadata.PackageFilter{Type: "nope"}, 0, -1)
	noErr(t, err, "unknown type")
	if total != 0 || vs == nil || len(vs) != 0 {
		t.Fatalf("unknown type = %v, %d", vs, total)
	}
	vs, total, err = s.ListPackageVersions(ctx, "nobody", metadata.PackageFilter{}, 0, -1)
	noErr(t, err, "unknown owner")
	if total != 0 || vs == nil || len(vs) != 0 {
		t.Fatalf("unknown owner = %v, %d", vs, total)
	}
	vs, total, err = s.PackageVersions(ctx, ref("lister", "alpha", ""), 0, 1)
	noErr(t, err, "PackageVersions")
	if total != 2 || len(vs) != 1 || vs[0].Version != "2" || vs[0].Package.Name != "Alpha" || vs[0].Files != nil {
		t.Fatalf("PackageVersions = %+v, %d", vs, total)
	}
}

func testPackageLink(t *testing.T, s metadata.Packages) {
	ctx := t.Context()
	r := ref("o", "linked", "1")
	wantErr(t, s.LinkPackage(ctx, r, "repo"), metadata.ErrNotFound, "link of a missing package")
	wantErr(t, s.CountPackageDownload(ctx, r), metadata.ErrNotFound, "download of a missing version")
	_, err := s.PutPackageFile(ctx, r, pkgFile("f", "l"), metadata.PutFileOptions{})
	noErr(t, err, "put")
	noErr(t, s.LinkPackage(ctx, r, "Repo"), "link")
	for range 3 {
		noErr(t, s.CountPackageDownload(ctx, r), "count")
	}
	v, err := s.GetPackageVersion(ctx, r)
	noErr(t, err, "get")
	if v.Package.Repository != "Repo" || v.Downloads != 3 {
		t.Fatalf("after link and downloads: %+v", v)
	}
	vs, _, err := s.ListPackageVersions(ctx, "o", metadata.PackageFilter{}, 0, -1)
	noErr(t, err, "list")
	if len(vs) != 1 || vs[0].Downloads != 3 || vs[0].Package.Repository != "Repo" {
		t.Fatalf("list after link and downloads: %+v", vs)
	}
	noErr(t, s.LinkPackage(ctx, r, ""), "unlink")
	p, err := s.GetPackage(ctx, r)
	noErr(t, err, "get package")
	if p.Repository != "" {
		t.Fatalf("after unlink: %+v", p)
	}
}

func testPackageBlobs(t *testing.T, s metadata.Packages) {
	ctx := t.Context()
	want := map[digest.Digest]bool{}
	for i, owner := range []string{"a", "b", "c"} {
		for j := range 3 {
			content := fmt.Sprintf("%s-%d", owner, j)
			_, err := s.PutPackageFile(ctx, ref(owner, "p", fmt.Sprint(i)), pkgFile(fmt.Sprint(j), content), metadata.PutFileOptions{})
			noErr(t, err, "put")
			want[digest.FromString(content)] = true
		}
	}
	got := map[digest.Digest]bool{}
	err := metadata.PackageReferencer(s).References(ctx, func(d digest.Digest) { got[d] = true })
	noErr(t, err, "References")
	for d := range want {
		if !got[d] {
			t.Errorf("PackageBlobs misses %s", d)
		}
	}
}

func testPackageUploads(t *testing.T, s metadata.Packages) {
	ctx := t.Context()
	_, err := s.GetPackageUpload(ctx, "u1")
	wantErr(t, err, metadata.ErrNotFound, "get before create")
	u := metadata.PackageUpload{ID: "u1", Ref: ref("o", "p", "1"), Filename: "f", ContentType: "x/y", MD5: []byte{1}, SHA1: []byte{2}}
	noErr(t, s.CreatePackageUpload(ctx, u), "create")
	wantErr(t, s.CreatePackageUpload(ctx, u), metadata.ErrExists, "second create")
	got, err := s.GetPackageUpload(ctx, "u1")
	noErr(t, err, "get")
	if got.Ref != u.Ref || got.Filename != "f" || got.ContentType != "x/y" || got.Offset != 0 || got.Started.IsZero() || string(got.MD5) != "\x01" {
		t.Fatalf("get = %+v", got)
	}
	u.Offset, u.MD5, u.SHA1 = 10, []byte{3}, []byte{4}
	noErr(t, s.UpdatePackageUpload(ctx, u, 0), "update")
	wantErr(t, s.UpdatePackageUpload(ctx, u, 0), metadata.ErrConflict, "stale update")
	got, err = s.GetPackageUpload(ctx, "u1")
	noErr(t, err, "get after update")
	if got.Offset != 10 || string(got.MD5) != "\x03" || string(got.SHA1) != "\x04" {
		t.Fatalf("after update = %+v", got)
	}
	noErr(t, s.DeletePackageUpload(ctx, "u1"), "delete")
	wantErr(t, s.DeletePackageUpload(ctx, "u1"), metadata.ErrNotFound, "second delete")
	wantErr(t, s.UpdatePackageUpload(ctx, u, 10), metadata.ErrNotFound, "update after delete")
}

// testPackageConcurrent races uploads of the same filename and of new
// versions: exactly one of each duplicate wins and IDs stay unique.
func testPackageConcurrent(t *testing.T, s metadata.Packages) {
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := s.PutPackageFile(ctx, ref("race", "p", "1"), pkgFile("same", fmt.Sprint(i)), metadata.PutFileOptions{})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := s.PutPackageFile(ctx, ref("race", "p", fmt.Sprint(i+10)), pkgFile("f", fmt.Sprint(i)), metadata.PutFileOptions{})
			if err != nil {
				t.Errorf("put of a distinct version: %v", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		default:
			wantErr(t, err, metadata.ErrExists, "racing duplicate")
		}
	}
	if ok != 1 {
		t.Fatalf("%d racing uploads of one filename succeeded, want 1", ok)
	}
	vs, total, err := s.PackageVersions(ctx, ref("race", "p", ""), 0, -1)
	noErr(t, err, "versions")
	ids := map[int64]bool{}
	for _, v := range vs {
		ids[v.ID] = true
	}
	if total != n+1 || len(ids) != n+1 {
		t.Fatalf("%d versions with %d distinct IDs, want %d", total, len(ids), n+1)
	}
}
