#!/usr/bin/env bash
# Installs the object-storage emulators that server/storage's backend tests start
# (server/storage/emulators): versitygw (S3, posix backend) and fake-gcs-server (GCS) with
# `go install` at pinned versions, Azurite (Azure Blob) from npm at a pinned version into a local
# directory. Idempotent and quick when everything is installed at the pinned versions.
# Go tools land in $(go env GOBIN), else $(go env GOPATH)/bin; Azurite in
# ${REGKIT_TOOLS:-$HOME/.cache/regkit}/azurite — where the tests look for them.
set -euo pipefail

GO=${GO:-go}
VERSITYGW_VERSION=v1.8.0        # github.com/versity/versitygw
FAKE_GCS_VERSION=v1.56.1        # github.com/fsouza/fake-gcs-server
AZURITE_VERSION=3.35.0          # npm azurite (3.36+ needs node 22)

gobin=$($GO env GOBIN)
[ -n "$gobin" ] || gobin="$($GO env GOPATH)/bin"
tools=${REGKIT_TOOLS:-$HOME/.cache/regkit}

go_tool() {
	local name=$1 pkg=$2 want=$3 have=""
	if [ -x "$gobin/$name" ]; then
		have=$($GO version -m "$gobin/$name" 2>/dev/null | awk '$1 == "mod" { print $3; exit }')
	fi
	if [ "$have" = "$want" ]; then
		echo "storage-emulators: $name $want already installed"
		return
	fi
	echo "storage-emulators: installing $name $want (go install $pkg@$want)"
	GOFLAGS= CGO_ENABLED=0 $GO install -p 2 -trimpath "$pkg@$want"
}

go_tool versitygw github.com/versity/versitygw/cmd/versitygw "$VERSITYGW_VERSION"
go_tool fake-gcs-server github.com/fsouza/fake-gcs-server "$FAKE_GCS_VERSION"

have=""
if [ -f "$tools/azurite/node_modules/azurite/package.json" ]; then
	have=$(node -p 'require(process.argv[1]).version' "$tools/azurite/node_modules/azurite/package.json" 2>/dev/null || true)
fi
if [ "$have" = "$AZURITE_VERSION" ]; then
	echo "storage-emulators: azurite $AZURITE_VERSION already installed"
else
	if ! command -v npm >/dev/null 2>&1; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "storage-emulators: installing nodejs and npm (apt-get)"
			apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
		else
			echo "storage-emulators: npm is missing: install nodejs and npm"; exit 1
		fi
	fi
	echo "storage-emulators: installing azurite $AZURITE_VERSION (npm install --prefix $tools/azurite azurite@$AZURITE_VERSION)"
	mkdir -p "$tools/azurite"
	npm install --silent --no-audit --no-fund --prefix "$tools/azurite" "azurite@$AZURITE_VERSION" >/dev/null
fi
