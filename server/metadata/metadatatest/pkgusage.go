package metadatatest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/regkit/regkit/server/metadata"
)

// packagesOf returns the metadata.Packages of s, skipping t when s does
// not implement it.
func packagesOf(t *testing.T, s metadata.Store) metadata.Packages {
	t.Helper()
	p, ok := s.(metadata.Packages)
	if !ok {
		t.Skipf("%T does not implement metadata.Packages", s)
	}
	return p
}

// testPackageUsage checks that the files of an owner's generic packages
// count in the usage of the namespace of the same name, exactly, through
// every put and delete, and never in RepoUsage.
func testPackageUsage(t *testing.T, open opener) {
	t.Run("PackageFiles", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		p := packagesOf(t, s)
		ns := func(ns string, want int64) {
			t.Helper()
			got, err := s.NamespaceUsage(ctx, ns)
			noErr(t, err, "NamespaceUsage "+ns)
			if got != want {
				t.Fatalf("NamespaceUsage(%q) = %d, want %d", ns, got, want)
			}
		}
		repo := func(repo string, want int64) {
			t.Helper()
			got, err := s.RepoUsage(ctx, repo)
			noErr(t, err, "RepoUsage "+repo)
			if got != want {
				t.Fatalf("RepoUsage(%q) = %d, want %d", repo, got, want)
			}
		}
		put := func(r metadata.PackageRef, f metadata.PackageFile) {
			t.Helper()
			_, err := p.PutPackageFile(ctx, r, f, metadata.PutFileOptions{SemVer: true})
			noErr(t, err, "PutPackageFile "+f.Name)
		}
		ns("team", 0)

		// OCI usage of the namespace.
		blob := newBlob("oci layer", "k", at(1))
		link(t, s, "team/app", blob)
		oci := blob.Size

		// Files of owner "Team" (any case): a duplicate content counts
		// per file; a size beyond 2^32 and float32 stays exact.
		v1, v2 := ref("Team", "tool", "1.0.0"), ref("team", "Other", "2.0.0")
		a, dup := pkgFile("a.txt", "aaa"), pkgFile("copy-of-a.txt", "aaa")
		big := pkgFile("big.bin", "big")
		big.Size = 5<<40 + 7
		put(v1, a)
		put(v1, dup)
		put(v2, big)
		ns("team", oci+2*a.Size+big.Size)
		ns("TEAM", 2*a.Size+big.Size) // owners are case-insensitive; no repository is named "TEAM"
		repo("team/app", oci)
		repo("team", 0)

		// Other owners and namespaces are separate.
		put(ref("teams", "tool", "1.0.0"), pkgFile("x", "xxxxx"))
		put(ref("tea", "tool", "1.0.0"), pkgFile("y", "yyyyyyy"))
		ns("teams", 5)
		ns("tea", 7)
		ns("team", oci+2*a.Size+big.Size)

		// Refused puts change nothing.
		_, err := p.PutPackageFile(ctx, v1, pkgFile("A.TXT", "other content"), metadata.PutFileOptions{SemVer: true})
		wantErr(t, err, metadata.ErrExists, "duplicate filename")
		_, err = p.PutPackageFile(ctx, ref("team", "tool", "not-semver"), pkgFile("n", "nnnn"), metadata.PutFileOptions{})
		wantErr(t, err, metadata.ErrConflict, "non-SemVer version of a SemVer package")
		ns("team", oci+2*a.Size+big.Size)

		// Deleting one of two files with the same content frees its size.
		_, gone, err := p.DeletePackageFile(ctx, v1, "COPY-OF-A.TXT")
		noErr(t, err, "DeletePackageFile")
		if gone {
			t.Fatal("DeletePackageFile removed the version of a remaining file")
		}
		_, _, err = p.DeletePackageFile(ctx, v1, "copy-of-a.txt")
		wantErr(t, err, metadata.ErrNotFound, "second DeletePackageFile")
		ns("team", oci+a.Size+big.Size)

		// The last file of a version takes the version with it.
		_, gone, err = p.DeletePackageFile(ctx, v1, "a.txt")
		noErr(t, err, "DeletePackageFile last")
		if !gone {
			t.Fatal("DeletePackageFile of the last file kept the version")
		}
		ns("team", oci+big.Size)

		// A version delete frees all its files.
		put(v2, pkgFile("c", "cc"))
		ns("team", oci+big.Size+2)
		v, err := p.DeletePackageVersion(ctx, v2)
		noErr(t, err, "DeletePackageVersion")
		if len(v.Files) != 2 {
			t.Fatalf("DeletePackageVersion files = %+v", v.Files)
		}
		_, err = p.DeletePackageVersion(ctx, v2)
		wantErr(t, err, metadata.ErrNotFound, "second DeletePackageVersion")
		ns("team", oci)

		// Putting the same files again counts them again.
		put(v1, a)
		ns("team", oci+a.Size)
		ns("teams", 5)
		ns("tea", 7)
	})
	t.Run("PackageFilesConcurrent", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		p := packagesOf(t, s)
		const workers, files = 4, 6
		var wg sync.WaitGroup
		errs := make(chan error, workers*files*3)
		for w := range workers {
			wg.Go(func() {
				r := ref("crowd", fmt.Sprintf("pkg%d", w%2), fmt.Sprintf("1.0.%d", w))
				for i := range files {
					f := pkgFile(fmt.Sprintf("f%d", i), fmt.Sprintf("content %d %d", w, i))
					f.Size = int64(1 + i)
					if _, err := p.PutPackageFile(ctx, r, f, metadata.PutFileOptions{SemVer: true}); err != nil {
						errs <- err
					}
				}
				// Delete the even files one by one, then the version of
				// odd workers whole.
				for i := 0; i < files; i += 2 {
					if _, _, err := p.DeletePackageFile(ctx, r, fmt.Sprintf("f%d", i)); err != nil {
						errs <- err
					}
				}
				if w%2 == 1 {
					if _, err := p.DeletePackageVersion(ctx, r); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var want int64
		for w := range workers {
			if w%2 == 1 {
				continue
			}
			for i := 1; i < files; i += 2 {
				want += int64(1 + i)
			}
		}
		got, err := s.NamespaceUsage(ctx, "crowd")
		noErr(t, err, "NamespaceUsage")
		if got != want {
			t.Fatalf("NamespaceUsage after concurrent puts and deletes = %d, want %d", got, want)
		}
	})
}

// testPackageUploadGoesWithSession checks that deleting an upload session
// (finish, cancel, expiry sweep) deletes the package upload record of the
// same ID, and only that one.
func testPackageUploadGoesWithSession(t *testing.T, open opener) {
	t.Run("PackageRecordGoesWithSession", func(t *testing.T) {
		s, ctx := open(t), ctxT(t)
		p := packagesOf(t, s)
		for _, id := range []string{"sess-a", "sess-b"} {
			noErr(t, s.CreateUpload(ctx, newUpload(id, at(1))), "CreateUpload "+id)
			rec := metadata.PackageUpload{ID: id, Ref: ref("o", "p", "1"), Filename: "f"}
			noErr(t, p.CreatePackageUpload(ctx, rec), "CreatePackageUpload "+id)
		}
		noErr(t, s.DeleteUpload(ctx, "sess-a"), "DeleteUpload")
		_, err := p.GetPackageUpload(ctx, "sess-a")
		wantErr(t, err, metadata.ErrNotFound, "package record after its session was deleted")
		_, err = p.GetPackageUpload(ctx, "sess-b")
		noErr(t, err, "package record of another session")
		// A record whose session is already gone goes with the next
		// delete of that ID (which still reports the session absent).
		noErr(t, p.CreatePackageUpload(ctx, metadata.PackageUpload{ID: "sess-a", Ref: ref("o", "p", "1"), Filename: "f"}), "recreate record")
		wantErr(t, s.DeleteUpload(ctx, "sess-a"), metadata.ErrNotFound, "DeleteUpload of a gone session")
		_, err = p.GetPackageUpload(ctx, "sess-a")
		wantErr(t, err, metadata.ErrNotFound, "orphan package record after DeleteUpload")
		// Sessions without a package record delete as before.
		noErr(t, s.CreateUpload(ctx, newUpload("oci", at(1))), "CreateUpload oci")
		noErr(t, s.DeleteUpload(ctx, "oci"), "DeleteUpload oci")
	})
}
