package generic

// Latest rules: the latest_rule field of the version object the
// management API's latest route answers with. The rules themselves are in
// server/pkgversion.
const (
	// LatestSemVer: every version is SemVer 2.0.0; the highest stable
	// release wins, else (only pre-releases) the highest pre-release.
	LatestSemVer = "semver"
	// LatestNewest: some version is not SemVer; the most recently created
	// version wins.
	LatestNewest = "newest"
)
