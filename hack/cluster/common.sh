# shellcheck shell=bash disable=SC2034 # sourced: the variables are used by the scripts
# Shared by hack/cluster-*.sh (the single-node cluster). Source it after hack/lib.sh.
# The layout is described in README.md, "A real single-node cluster".

CLUSTER_ROOT=$ROOT
# Per checkout: configuration, certificates, logs and the admin kubeconfig (paths from lib.sh).
CLUSTER_STATE="$CLUSTER_DIR"
CLUSTER_KUBECONFIG="$CLUSTER_DIR/kubeconfig"
# Machine-wide (see lib.sh): one cluster per machine, whichever checkout started it.
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

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

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
