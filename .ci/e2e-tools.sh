#!/usr/bin/env bash
# Installs the real OCI clients that the e2e test (cmd/regkit/e2e_test.go, `make e2e`) drives:
# crane, regctl and helm with `go install` at pinned versions, skopeo from Debian's packages.
# Idempotent and non-interactive: a tool already installed at the pinned version is left alone.
# Go tools land in $(go env GOBIN), else $(go env GOPATH)/bin, where the test also looks for them.
set -euo pipefail

GO=${GO:-go}
CRANE_VERSION=v0.22.1   # github.com/google/go-containerregistry
REGCTL_VERSION=v0.11.7  # github.com/regclient/regclient
HELM_VERSION=v3.22.0    # helm.sh/helm/v3

gobin=$($GO env GOBIN)
[ -n "$gobin" ] || gobin="$($GO env GOPATH)/bin"

# go_tool NAME PACKAGE VERSION [go install flags]: go install PACKAGE@VERSION unless $gobin/NAME
# was built from that version.
go_tool() {
	local name=$1 pkg=$2 want=$3 have=""
	shift 3
	if [ -x "$gobin/$name" ]; then
		# the main module's version as recorded by `go install pkg@version`
		have=$($GO version -m "$gobin/$name" 2>/dev/null | awk '$1 == "mod" { print $3; exit }')
	fi
	if [ "$have" = "$want" ]; then
		echo "e2e-tools: $name $want already installed"
		return
	fi
	echo "e2e-tools: installing $name $want (go install $pkg@$want)"
	# modest parallelism: the machines have 2 cores; GOFLAGS of the caller (e.g. -mod=vendor) must not leak in
	GOFLAGS= CGO_ENABLED=0 $GO install -p 2 -trimpath "$@" "$pkg@$want"
}

go_tool crane github.com/google/go-containerregistry/cmd/crane "$CRANE_VERSION"
go_tool regctl github.com/regclient/regclient/cmd/regctl "$REGCTL_VERSION"
# helm's version string is normally set by its Makefile's ldflags; without it `helm version` says v3.22
go_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"

if ! command -v skopeo >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "e2e-tools: installing skopeo (apt-get)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends skopeo >/dev/null
	else
		echo "e2e-tools: skopeo is missing: install it (e.g. sudo apt-get install -y skopeo)" >&2
		exit 1
	fi
else
	echo "e2e-tools: skopeo already installed"
fi

# tmux: the progress-display test (cmd/regkit progress_e2e_test.go) drives regkit cp in a tmux pane
if ! command -v tmux >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "e2e-tools: installing tmux (apt-get)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends tmux >/dev/null
	else
		echo "e2e-tools: tmux is missing: install it (e.g. sudo apt-get install -y tmux)" >&2
		exit 1
	fi
fi

echo "e2e-tools: crane $("$gobin/crane" version 2>/dev/null || echo '?')"
echo "e2e-tools: regctl $("$gobin/regctl" version --format '{{.VCSTag}}' 2>/dev/null || echo "$REGCTL_VERSION")"
echo "e2e-tools: helm $("$gobin/helm" version --short 2>/dev/null || echo '?')"
echo "e2e-tools: $(skopeo --version)"
