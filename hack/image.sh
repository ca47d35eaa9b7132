#!/usr/bin/env bash
# `make image`: builds localhost/igz-operator:<version> and localhost/igz-emulator:<version> from
# ./Containerfile with podman. Nothing comes from a registry: each image is FROM scratch plus one
# static musl binary (and, for the operator, the host's CA bundle). <version> is the igz-operator
# package version from Cargo.toml.
# Usage: hack/image.sh [--save DIR]   (--save also writes DIR/<name>.tar, docker-archive format,
#                                     which `ctr images import` and `podman load` read)
#        hack/image.sh --binaries-only  (builds the static binaries only; prints their directory)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

save_dir=""
binaries_only=false
case "${1:-}" in
  "") ;;
  --save) save_dir=${2:?--save needs a directory} ;;
  --binaries-only) binaries_only=true ;;
  *) die "unknown argument '$1' (expected nothing, --save DIR or --binaries-only)" ;;
esac

$binaries_only || need podman "install it: apt-get install -y podman runc"
need cargo "install Rust with rustup"
[[ -f /usr/bin/musl-gcc ]] || die "musl-gcc is missing (aws-lc-sys compiles C for the musl target): apt-get install -y musl-tools"
rustup target list --installed 2>/dev/null | grep -qx "$IMAGE_RUST_TARGET" ||
  die "the Rust target $IMAGE_RUST_TARGET is missing: rustup target add $IMAGE_RUST_TARGET"

version=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="igz-operator"))')

# Release profile tuned for size, without touching Cargo.toml (measured on the operator binary):
# fat LTO + one codegen unit + stripped symbols: 15.0 MiB; with opt-level "s": 10.1 MiB; "z"
# would give 9.4 MiB but also drops loop vectorisation for 7% less. The operator waits on the
# network, and the TLS crypto is aws-lc's C code, compiled with its own flags, so "s" costs
# little. panic stays "unwind": a panicking task must not take the whole process down with it.
export CARGO_PROFILE_RELEASE_LTO=fat
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_OPT_LEVEL=s
export CARGO_PROFILE_RELEASE_STRIP=symbols
export CARGO_PROFILE_RELEASE_DEBUG=false
# Own target dir: the tuned musl build neither invalidates nor waits on the everyday target/debug.
export CARGO_TARGET_DIR="$TARGET_DIR/image"
# aws-lc-sys (the TLS crypto provider) compiles C: for musl, with Debian's musl-gcc wrapper.
export CC_x86_64_unknown_linux_musl=musl-gcc
# musl binaries are static by default on this target; say so explicitly.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=+crt-static"

log "building igz-operator and igz-emulator $version for $IMAGE_RUST_TARGET (release, LTO; slow the first time)"
start=$SECONDS
# --- THE BINARY BUILD: change here when the crates move (after the workspace split:
#     `-p igz-operator -p igz-emulator` instead of `--bin ... --bin ...`). ---
cargo build --locked --release --target "$IMAGE_RUST_TARGET" --bin igz-operator --bin igz-emulator
log "binaries built in $((SECONDS - start))s"
bin_dir="$CARGO_TARGET_DIR/$IMAGE_RUST_TARGET/release"
if $binaries_only; then
  # For make bench: the binaries the images would hold, without the images.
  echo "$bin_dir"
  exit 0
fi

context="$TARGET_DIR/image/context"
rm -rf "$context" && mkdir -p "$context"
for b in igz-operator igz-emulator; do
  # A dynamically linked binary would fail at run time in a scratch image; refuse it now.
  if file -L "$bin_dir/$b" 2>/dev/null | grep -q 'dynamically linked'; then
    die "$bin_dir/$b is dynamically linked; the scratch image needs a static binary"
  fi
  cp "$bin_dir/$b" "$context/$b"
done
# The operator talks HTTPS to the management API: ship the build host's CA bundle (Debian's
# ca-certificates). A private CA comes on top with --ca-file (chart: mgmt.caConfigMap).
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || die "/etc/ssl/certs/ca-certificates.crt is missing: apt-get install -y ca-certificates"
cp /etc/ssl/certs/ca-certificates.crt "$context/"

for name in igz-operator igz-emulator; do
  ref="$IMAGE_REGISTRY/$name:$version"
  log "podman build $ref"
  previous=$(podman image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
  # --timestamp 0: the same binary gives the same image ID, build after build.
  podman build --quiet --pull=never --layers=false --target "$name" -f "$ROOT/Containerfile" \
    --build-arg "VERSION=$version" --build-arg "SOURCE=$IMAGE_SOURCE" \
    --timestamp 0 -t "$ref" "$context" >/dev/null
  # The image this tag named before, now untagged, would pile up in podman's store.
  if [[ -n $previous && $previous != $(podman image inspect --format '{{.Id}}' "$ref") ]]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
  fi
  size=$(podman image inspect --format '{{.Size}}' "$ref")
  log "built $ref ($((size / 1024)) KiB; binary $(($(stat -c %s "$context/$name") / 1024)) KiB)"
  if [[ -n $save_dir ]]; then
    mkdir -p "$save_dir"
    rm -f "$save_dir/$name.tar"
    podman save --quiet --format docker-archive -o "$save_dir/$name.tar" "$ref"
    log "saved $save_dir/$name.tar"
  fi
done
