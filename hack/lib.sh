# Shared settings for hack/ scripts. Source it; do not run it.
# The one place that knows versions and paths: scripts use these variables, and Rust tests ask
# hack/paths.sh (which prints them). Versions are pinned here and nowhere else; the tool cache
# is keyed by them.
KUBE_VERSION="${KUBE_VERSION:-v1.33.13}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.21}"
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
# kstatus (sigs.k8s.io/cli-utils), the status library Flux and kpt use; hack/tools/kstatus wraps
# it so tests can evaluate Group objects exactly as those tools do (hack/build-tools.sh kstatus).
CLI_UTILS_VERSION="${CLI_UTILS_VERSION:-v0.37.2}"
# gopher-lua, the Lua interpreter Argo CD embeds (the version argoproj/argo-cd's go.mod pins);
# hack/tools/argocd-health runs our Argo CD health check on it, in Argo CD's sandbox.
GOPHER_LUA_VERSION="${GOPHER_LUA_VERSION:-v1.1.2}"
# The vendor SDK the emulator is checked against and the benchmark compares with.
SDK_VERSION="${SDK_VERSION:-0.4.2}"
IGZ_CACHE="${IGZ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/igz-operator}"
TOOLS_BIN="$IGZ_CACHE/bin"

# The repository, and cargo's target directory (CARGO_TARGET_DIR, made absolute, or target/).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ $TARGET_DIR == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
# Binaries of `cargo build` (debug profile).
BIN_DIR="$TARGET_DIR/debug"
# The local control plane's state and admin kubeconfig (hack/envtest-up.sh).
ENVTEST_DIR="${ENVTEST_DIR:-$TARGET_DIR/envtest}"
[[ $ENVTEST_DIR == /* ]] || ENVTEST_DIR="$ROOT/$ENVTEST_DIR"
ENVTEST_KUBECONFIG="$ENVTEST_DIR/kubeconfig"
# The single-node cluster's per-checkout state and admin kubeconfig (hack/cluster-up.sh).
CLUSTER_DIR="${CLUSTER_STATE:-$TARGET_DIR/cluster}"
[[ $CLUSTER_DIR == /* ]] || CLUSTER_DIR="$ROOT/$CLUSTER_DIR"
CLUSTER_KUBECONFIG="$CLUSTER_DIR/kubeconfig"

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

# start_emulator LOGFILE ARGS...: starts bin/igz-emulator on a free loopback port in the
# background, waits until it is listening and sets EMULATOR_PID and EMULATOR_URL. The emulator
# writes its URL to a ready file once it accepts connections; nothing parses its output.
start_emulator() {
  local logfile=$1; shift
  local ready
  ready=$(mktemp -u "${TMPDIR:-/tmp}/igz-emulator-ready.XXXXXX")
  "$BIN_DIR/igz-emulator" --listen 127.0.0.1:0 --ready-file "$ready" "$@" >"$logfile" 2>&1 &
  EMULATOR_PID=$!
  local i
  for i in $(seq 1 200); do
    if [[ -s $ready ]]; then
      EMULATOR_URL=$(<"$ready")
      rm -f "$ready"
      return 0
    fi
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$logfile" >&2; die "igz-emulator exited during start"; }
    sleep 0.05
  done
  die "igz-emulator did not become ready within 10s (log: $logfile)"
}

# ensure_venv: the one virtualenv ($IGZ_VENV, default .venv) with every Python package the
# scripts use, so the system's Python needs nothing but venv and pip: the vendor SDK
# (igz-mgmt==$SDK_VERSION) and pytest for the conformance suite and the benchmark, PyYAML for
# the chart check. Created, or made again, when missing or when the list changed. Sets VENV_PYTHON.
VENV_PACKAGES=("igz-mgmt==$SDK_VERSION" "pytest>=8" "PyYAML>=6")
ensure_venv() {
  local venv="${IGZ_VENV:-$ROOT/.venv}" want="${VENV_PACKAGES[*]}"
  need python3 "install Python 3.11+"
  if [[ ! -x "$venv/bin/python" ]] || [[ "$(cat "$venv/.igz-packages" 2>/dev/null)" != "$want" ]]; then
    log "creating venv $venv with $want"
    python3 -m venv --clear "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${VENV_PACKAGES[@]}"
    echo "$want" >"$venv/.igz-packages"
  fi
  VENV_PYTHON="$venv/bin/python"
}
