#!/usr/bin/env bash
# shellcheck disable=SC2034 # sourced: the variables are used by the scripts
# The settings of every hack/ script, in one place: versions, paths, the single-node cluster's
# names and addresses, and the few helpers the scripts share. Scripts source it. Programs that
# are not shell scripts (the Rust test kit) run it: `hack/lib.sh` prints the paths as NAME=value
# lines (see the end). Versions are pinned here and nowhere else; the tool cache is keyed by them.
KUBE_VERSION="${KUBE_VERSION:-v1.33.13}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.21}"
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
# kstatus (sigs.k8s.io/cli-utils), the status library Flux and kpt use; hack/tools/kstatus wraps
# it so tests can evaluate Group objects exactly as those tools do (hack/build-tools.sh kstatus).
CLI_UTILS_VERSION="${CLI_UTILS_VERSION:-v0.37.2}"
# gopher-lua, the Lua interpreter Argo CD embeds (the version argoproj/argo-cd's go.mod pins);
# hack/tools/argocd-health runs our Argo CD health check on it, in Argo CD's sandbox.
GOPHER_LUA_VERSION="${GOPHER_LUA_VERSION:-v1.1.2}"
# promtool (github.com/prometheus/prometheus, whose Go module versions are v0.<minor>.<patch> for
# Prometheus 3.<minor>.<patch>): checks the chart's alerts and runs their unit tests.
PROMETHEUS_MODULE_VERSION="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"
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
# The single-node cluster's per-checkout state: configuration, certificates, logs and the admin
# kubeconfig (hack/cluster-up.sh).
CLUSTER_DIR="${CLUSTER_DIR:-$TARGET_DIR/cluster}"
[[ $CLUSTER_DIR == /* ]] || CLUSTER_DIR="$ROOT/$CLUSTER_DIR"
CLUSTER_KUBECONFIG="$CLUSTER_DIR/kubeconfig"

# Container images (make image): names are $IMAGE_REGISTRY/igz-operator:<Cargo.toml version>.
# "localhost/" marks an image that exists only where it was built or imported (no registry).
IMAGE_REGISTRY="${IMAGE_REGISTRY:-localhost}"
IMAGE_RUST_TARGET="${IMAGE_RUST_TARGET:-x86_64-unknown-linux-musl}"
# org.opencontainers.image.source label; the project's public repository.
IMAGE_SOURCE="${IMAGE_SOURCE:-https://github.com/igz-operator/igz-operator}"

# The single-node cluster (make cluster-up; described in docs/cluster.md). One per machine: its
# network namespace, cgroups and runtime directories are machine-wide names, so every checkout
# shares them (and the lock), whichever checkout started it.
CLUSTER_NETNS="${CLUSTER_NETNS:-igz-cluster}"
CLUSTER_RUN="${CLUSTER_RUN:-/run/igz-cluster}"          # pids, sockets, runtime state
CLUSTER_VAR="${CLUSTER_VAR:-/var/lib/igz-cluster}"      # kubelet and containerd roots
CLUSTER_PIDS="$CLUSTER_RUN/pids"
CLUSTER_LOCK="${CLUSTER_RUN}.lock"
NETNS_PATH="/run/netns/$CLUSTER_NETNS"
CLUSTER_ETCD_DATA="/dev/shm/igz-cluster-etcd"
CONTAINERD_SOCK="$CLUSTER_RUN/containerd/containerd.sock"
# The cgroup (in each v1 controller below, or the v2 root) that holds every cluster process
# started here and, by inheritance, containerd's shims: what cluster-down sweeps and what the
# memory/CPU figures are read from. Pods live under kubelet's own "kubepods".
CLUSTER_CGROUP=igz-cluster
CLUSTER_CGROUP_CONTROLLERS=(pids memory cpuacct)
# Node networking; these addresses exist only inside $CLUSTER_NETNS.
NODE_NAME=igz-node
NODE_IP=10.244.0.1          # also the Pods' gateway, on the Pod bridge
POD_CIDR=10.244.0.0/24
POD_BRIDGE=igz-br0
SERVICE_CIDR=10.96.0.0/24
API_SERVICE_IP=10.96.0.1    # the `kubernetes` Service
API_PORT=6443               # inside the namespace (its 127.0.0.1 and $NODE_IP)
# The host-side sysctls kubelet sets (kubelet's setupKernelTunables); saved before the first
# kubelet start and restored by cluster-down. Network sysctls are per namespace and need no care.
KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
# The cluster's tools (ip, iptables, conntrack, ...) live in the sbin directories, which a
# non-root PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
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

# --- the single-node cluster's helpers (hack/cluster-*.sh, demo-cluster.sh, test-cluster.sh) ---
in_netns() { nsenter --net="$NETNS_PATH" -- "$@"; }
ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }
kc() { kubectl --kubeconfig "$CLUSTER_KUBECONFIG" "$@"; }

cgroup_v2() { [[ $(stat -fc %T /sys/fs/cgroup 2>/dev/null) == cgroup2fs ]]; }

# The directories of cgroup NAME (one per v1 controller, or one on v2), existing or not.
cgroup_dirs() {
  local name=$1 c
  if cgroup_v2; then
    echo "/sys/fs/cgroup/$name"
  else
    for c in "${CLUSTER_CGROUP_CONTROLLERS[@]}"; do
      [[ -d /sys/fs/cgroup/$c ]] && echo "/sys/fs/cgroup/$c/$name"
    done
  fi
  return 0
}

# Every PID in cgroup NAME (and its children), from the kernel's own record.
cgroup_pids() {
  local d
  for d in $(cgroup_dirs "$1"); do
    [[ -d $d ]] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

# A process that exited but was not reaped yet (a zombie) counts as gone: the components are
# re-parented to PID 1 once cluster-up exits, and PID 1 may reap them only seconds later.
running() { # pid
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}
alive() { [[ -f "$CLUSTER_PIDS/$1" ]] && running "$(cat "$CLUSTER_PIDS/$1")"; }

# Mount points at or below any of the given directories, deepest first.
mounts_under() {
  local dir
  for dir in "$@"; do
    awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
  done | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-
}

# Run rather than sourced: print the paths for programs that are not shell scripts.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  printf '%s=%s\n' \
    ROOT "$ROOT" \
    TARGET_DIR "$TARGET_DIR" \
    ENVTEST_DIR "$ENVTEST_DIR" \
    ENVTEST_KUBECONFIG "$ENVTEST_KUBECONFIG" \
    CLUSTER_DIR "$CLUSTER_DIR" \
    CLUSTER_KUBECONFIG "$CLUSTER_KUBECONFIG" \
    TOOLS_BIN "$TOOLS_BIN"
fi
