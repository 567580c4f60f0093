#!/usr/bin/env bash
# Client benchmarks of issue 13, on this machine, in one run:
#   1. copy of a multi-layer image regkit→regkit: regkit cp vs crane copy vs skopeo copy
#   2. a 1 GiB blob downloaded into an OCI layout: 4 parallel ranges vs one stream
# Two `regkit serve` processes (file storage, embedded metadata) on loopback; every run copies into
# a repository of its own, so nothing is skipped. Needs crane and skopeo (.ci/e2e-tools.sh) and
# farm-bench. Usage: bench/cp-bench.sh [LAYERS] [LAYER_MIB] [BIG_MIB]
set -euo pipefail
LAYERS=${1:-8}
LAYER_MIB=${2:-16}
BIG_MIB=${3:-1024}
work=$(mktemp -d /tmp/regkit-cp-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "${REGKIT_SRC:-$(dirname "$0")/..}"
go build -o "$work/regkit" ./cmd/regkit
rk="$work/regkit"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SRC=127.0.0.1:$(port)
DST=127.0.0.1:$(port)
"$rk" serve --addr "$SRC" --data "$work/src" --log-level error & 
"$rk" serve --addr "$DST" --data "$work/dst" --log-level error &
for a in $SRC $DST; do for _ in $(seq 100); do curl -fs "http://$a/v2/" >/dev/null && break; sleep 0.1; done; done

# push_image REPO:TAG N MIB: an image of N random layers of MIB MiB each, pushed to SRC.
push_image() {
	local ref=$1 n=$2 mib=$3 layers="" i
	for i in $(seq "$n"); do
		head -c "$((mib << 20))" /dev/urandom > "$work/layer"
		d=$("$rk" wire push-blob --url "http://$SRC" "${ref%%:*}" "$work/layer")
		layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$d\",\"size\":$((mib << 20))}"
	done
	printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"%s"}' "$RANDOM" > "$work/config"
	c=$("$rk" wire push-blob --url "http://$SRC" "${ref%%:*}" "$work/config")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[%s]}' \
		"$c" "$(stat -c %s "$work/config")" "$layers" > "$work/manifest"
	"$rk" wire manifest put --url "http://$SRC" "${ref%%:*}" "${ref##*:}" "$work/manifest" >/dev/null
	rm -f "$work/layer"
}
push_image bench/app:v1 "$LAYERS" "$LAYER_MIB"
push_image bench/big:v1 1 "$BIG_MIB"
echo "image: $LAYERS layers of $LAYER_MIB MiB; big blob: $BIG_MIB MiB; $(nproc) cores, $(uname -r)"

# Each run copies into a repository of its own (a new name per run), so the target has no blob.
cat > "$work/rk.sh" <<X
exec $rk cp --progress never $SRC/bench/app:v1 $DST/rk\$(date +%s%N)/app:v1 >/dev/null
X
cat > "$work/cr.sh" <<X
exec crane --insecure copy $SRC/bench/app:v1 $DST/cr\$(date +%s%N)/app:v1 >/dev/null 2>&1
X
# skopeo remembers where it saw each blob (its blob-info cache) and would mount it from the
# previous run's repository: each run starts without that cache.
cat > "$work/sk.sh" <<X
rm -f /var/lib/containers/cache/blob-info-cache-v1.* "\$HOME/.local/share/containers/cache/blob-info-cache-v1".*
exec skopeo copy --src-tls-verify=false --dest-tls-verify=false docker://$SRC/bench/app:v1 docker://$DST/sk\$(date +%s%N)/app:v1 >/dev/null
X
cat > "$work/p4.sh" <<X
rm -rf $work/p4; exec $rk cp --progress never --parallel 4 --part-size 16MiB $SRC/bench/big:v1 oci:$work/p4 >/dev/null
X
cat > "$work/p1.sh" <<X
rm -rf $work/p1; exec $rk cp --progress never --parallel 1 $SRC/bench/big:v1 oci:$work/p1 >/dev/null
X
echo "== regkit cp vs crane copy"
farm-bench -n 5 --timeout 600 --vs "sh $work/cr.sh" -- sh "$work/rk.sh"
echo "== regkit cp vs skopeo copy"
farm-bench -n 5 --timeout 600 --vs "sh $work/sk.sh" -- sh "$work/rk.sh"
echo "== 1 GiB download into a layout: 4 parallel ranges of 16 MiB vs one stream"
farm-bench -n 5 --timeout 900 --vs "sh $work/p1.sh" -- sh "$work/p4.sh"
