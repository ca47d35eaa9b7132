#!/usr/bin/env bash
# Copies images from podman's store into the local cluster's containerd (namespace k8s.io), where
# kubelet finds them: Pods use them with imagePullPolicy Never or IfNotPresent, no registry.
# Usage: hack/cluster-import.sh REF...      e.g. localhost/igz-operator:0.1.0
#        hack/cluster-import.sh --pause     build the pause image from hack/cluster/pause.c, import it
#        hack/cluster-import.sh --probe     build localhost/igz-probe (hack/cluster/probe), import it
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need podman "apt-get install -y podman"
[[ -S $CONTAINERD_SOCK ]] || die "the cluster's containerd is not running ($CONTAINERD_SOCK): make cluster-up"
(($#)) || die "usage: hack/cluster-import.sh REF... | --pause | --probe"

work=$(mktemp -d "${TMPDIR:-/tmp}/igz-cluster-import.XXXXXX")
trap 'rm -rf "$work"' EXIT

refs=()
for arg in "$@"; do
  if [[ $arg == --pause ]]; then
    # musl-gcc gives an 18 KB binary, plain glibc `gcc -static` about 700 KB; either works.
    cc=gcc
    command -v musl-gcc >/dev/null 2>&1 && cc=musl-gcc
    need "$cc" "apt-get install -y gcc (or musl-tools)"
    "$cc" -static -Os -s -Wall -o "$work/pause" "$ROOT/hack/cluster/pause.c"
    podman build --quiet --pull=never --layers=false --timestamp 0 -f "$ROOT/hack/cluster/Containerfile.pause" \
      -t "$PAUSE_IMAGE" "$work" >/dev/null
    refs+=("$PAUSE_IMAGE")
  elif [[ $arg == --probe ]]; then
    need go "install Go 1.26 or newer"
    (cd "$ROOT/hack/cluster/probe" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
      go build -trimpath -ldflags "-s -w" -o "$work/igz-probe" .)
    podman build --quiet --pull=never --layers=false --timestamp 0 -f "$ROOT/hack/cluster/probe/Containerfile" \
      -t "$PROBE_IMAGE" "$work" >/dev/null
    refs+=("$PROBE_IMAGE")
  else
    refs+=("$arg")
  fi
done

for ref in "${refs[@]}"; do
  podman image exists "$ref" || die "podman has no image $ref (make image builds ours)"
  archive="$work/image.tar"
  rm -f "$archive"
  # docker-archive keeps the tag (localhost/NAME:TAG), which ctr uses as the image name.
  podman save --quiet --format docker-archive -o "$archive" "$ref"
  ctr_k8s images import --snapshotter overlayfs "$archive" >/dev/null
  log "imported $ref into the cluster's containerd ($(podman image inspect --format '{{.Id}}' "$ref" | cut -c1-12))"
done
