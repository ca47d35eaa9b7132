# Shared settings for hack/ scripts. Source it; do not run it.
# Versions are pinned here and nowhere else; the cache is keyed by them.
KUBE_VERSION="${KUBE_VERSION:-v1.33.13}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.21}"
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
IGZ_CACHE="${IGZ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/igz-operator}"
TOOLS_BIN="$IGZ_CACHE/bin"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed; $2"
}
