# Shared settings for hack/ scripts. Source it; do not run it.
# Versions are pinned here and nowhere else; the cache is keyed by them.
KUBE_VERSION="${KUBE_VERSION:-v1.33.13}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.21}"
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
IGZ_CACHE="${IGZ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/igz-operator}"
TOOLS_BIN="$IGZ_CACHE/bin"

# Container images (make image): names are $IMAGE_REGISTRY/igz-operator:<Cargo.toml version>.
# "localhost/" marks an image that exists only where it was built or imported (no registry).
IMAGE_REGISTRY="${IMAGE_REGISTRY:-localhost}"
IMAGE_RUST_TARGET="${IMAGE_RUST_TARGET:-x86_64-unknown-linux-musl}"
# org.opencontainers.image.source label; the project's public repository.
IMAGE_SOURCE="${IMAGE_SOURCE:-https://github.com/igz-operator/igz-operator}"

# The single-node cluster (make cluster-up). One per machine: its network namespace, cgroups
# and runtime directories are machine-wide names, so every checkout shares them (and the lock).
CLUSTER_NETNS="${CLUSTER_NETNS:-igz-cluster}"
CLUSTER_RUN="${CLUSTER_RUN:-/run/igz-cluster}"          # pids, sockets, runtime state
CLUSTER_VAR="${CLUSTER_VAR:-/var/lib/igz-cluster}"      # kubelet and containerd roots
# The Pod sandbox image, built from hack/cluster/pause.c (no registry has it for us).
PAUSE_IMAGE="${PAUSE_IMAGE:-localhost/igz-pause:1.0}"
# A test client/server for the cluster checks, built from hack/cluster/probe (Go, stdlib only).
PROBE_IMAGE="${PROBE_IMAGE:-localhost/igz-probe:1.0}"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed; $2"
}
