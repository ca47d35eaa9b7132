#!/usr/bin/env bash
# `make cluster-down`: stops the single-node cluster hack/cluster-up.sh started and removes every
# trace of it: Pods first (so kubelet unmounts their volumes and releases their network), then
# each process by its recorded PID, whatever the kernel still lists in the cluster's cgroups
# (containerd's shims, container processes), mounts, cgroups, the network namespace (with every
# address, link and iptables rule in it), the state directories; and it restores the host sysctls
# kubelet changed. Harmless when nothing runs; safe to repeat.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[[ $(id -u) == 0 ]] || die "run as root (the cluster was started as root)"

if [[ -z ${CLUSTER_LOCK_HELD:-} ]]; then
  mkdir -p "$(dirname "$CLUSTER_LOCK")"
  exec 9>"$CLUSTER_LOCK"
  flock 9
fi
# The machine's cluster may have been started from another checkout: its state dir is recorded.
[[ -f $CLUSTER_RUN/owner ]] && CLUSTER_DIR=$(cat "$CLUSTER_RUN/owner") && CLUSTER_KUBECONFIG="$CLUSTER_DIR/kubeconfig"

if [[ ! -e $CLUSTER_RUN && ! -e $NETNS_PATH && ! -d $CLUSTER_VAR && ! -d $CLUSTER_DIR ]]; then
  log "no cluster on this machine; nothing to stop"
  exit 0
fi
start_time=$SECONDS

stop_pid() { # name... : SIGTERM to each, together; SIGKILL to whoever is still there after 10s
  local name pid stopping=()
  for name in "$@"; do
    [[ -f "$CLUSTER_PIDS/$name" ]] || continue
    pid=$(cat "$CLUSTER_PIDS/$name")
    if running "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      stopping+=("$name:$pid")
    fi
  done
  local entry deadline=$((SECONDS + 10))
  for entry in "${stopping[@]}"; do
    name=${entry%%:*} pid=${entry#*:}
    while running "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if running "$pid"; then
      log "$name (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
  done
  for name in "$@"; do rm -f "$CLUSTER_PIDS/$name"; done
}

# Whatever the kernel still lists in our cgroups: containerd's shims (started by containerd, so
# in its cgroup) and the processes of containers in kubelet's kubepods tree (left running when
# kubelet or containerd died before the Pods were deleted).
sweep() {
  # The components still to be stopped by PID (recorded in $CLUSTER_PIDS) are spared.
  leftovers() {
    local keep
    keep=$(cat "$CLUSTER_PIDS"/* 2>/dev/null | sort -u)
    { cgroup_pids "$CLUSTER_CGROUP"; cgroup_pids kubepods; } | sort -un | grep -vxF "${keep:-none}" || true
  }
  local pids
  pids=$(leftovers)
  [[ -n $pids ]] || return 0
  log "killing leftover cluster processes (from the cluster's cgroups): $(tr '\n' ' ' <<<"$pids")"
  # shellcheck disable=SC2086 # one PID per word
  kill -KILL $pids 2>/dev/null || true
  for _ in $(seq 1 50); do
    [[ -z $(leftovers) ]] && return 0
    sleep 0.1
  done
  log "warning: processes remain in the cluster's cgroups: $(leftovers | tr '\n' ' ')"
}

# 1. Pods first, while kubelet and containerd still run: kubelet stops the containers, tears
#    down each sandbox's network (CNI DEL) and unmounts the volumes. The controllers stop first
#    so nothing replaces the deleted Pods.
if alive kubelet && alive containerd && kc --request-timeout=5s get --raw=/readyz >/dev/null 2>&1; then
  stop_pid kube-controller-manager kube-scheduler
  log "deleting every Pod (kubelet cleans up their containers, volumes and network)"
  kc delete pods --all -A --grace-period=1 --wait=false >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do
    [[ -z $(kc get pods -A --no-headers 2>/dev/null) ]] && break
    sleep 0.5
  done
  if [[ -n $(kc get pods -A --no-headers 2>/dev/null) ]]; then
    log "some Pods did not terminate within 30s; removing them forcibly"
    kc delete pods --all -A --force --grace-period=0 >/dev/null 2>&1 || true
  fi
  # The API objects are gone once kubelet confirmed the containers stopped; give it a moment
  # to stop the sandboxes (network teardown) too.
  for _ in $(seq 1 30); do
    [[ -z $(ctr_k8s tasks ls -q 2>/dev/null) ]] && break
    sleep 0.5
  done
fi

# 2. Node processes, by recorded PID.
stop_pid kube-proxy kubelet
if alive containerd; then
  # Anything kubelet left running: kill the tasks through containerd so their shims exit.
  for t in $(ctr_k8s tasks ls -q 2>/dev/null); do
    ctr_k8s tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
  done
  sleep 0.5
  for t in $(ctr_k8s tasks ls -q 2>/dev/null); do
    ctr_k8s tasks delete --force "$t" >/dev/null 2>&1 || true
  done
fi
stop_pid containerd kube-controller-manager kube-scheduler
# 3. Container processes and shims, before the API server goes: a Pod still running (its kubelet
#    gone) would keep watches open that delay the API server's shutdown.
sweep
# The API server before etcd, so it does not log etcd connection errors while shutting down.
stop_pid forward kube-apiserver
stop_pid etcd
sweep

# 4. kube-proxy's iptables rules live in the namespace (deleting it drops them too); its own
#    cleanup first, for the record.
if [[ -e $NETNS_PATH && -x $TOOLS_BIN/kube-proxy ]]; then
  in_netns "$TOOLS_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
fi

# 5. Mounts: kubelet's volumes and its rshared bind of its root dir, containerd's rootfs
#    overlays, sandbox /dev/shm, Pod network namespaces (under containerd's state dir).
for m in $(mounts_under "$CLUSTER_VAR" "$CLUSTER_RUN"); do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: cannot unmount $m"
done

# 6. cgroups: kubelet's kubepods tree (every controller) and ours, deepest first.
for top in /sys/fs/cgroup/kubepods /sys/fs/cgroup/*/kubepods $(cgroup_dirs "$CLUSTER_CGROUP"); do
  [[ -d $top ]] || continue
  find "$top" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  [[ -d $top ]] && log "warning: cannot remove cgroup $top"
done

# 7. The network namespace: the node address, the Pod bridge, the Pods' veth ends, routes and
#    every iptables rule go with it.
if [[ -e $NETNS_PATH ]]; then
  ip netns del "$CLUSTER_NETNS" 2>/dev/null || log "warning: cannot delete network namespace $CLUSTER_NETNS"
fi

# 8. Files: kubelet's /var/log/containers links to our Pod logs, then the state directories.
if [[ -d /var/log/containers ]]; then
  find /var/log/containers -maxdepth 1 -type l -lname "$CLUSTER_VAR/*" -delete 2>/dev/null || true
fi
rm -rf "$CLUSTER_VAR" "$CLUSTER_ETCD_DATA"
# Host paths kubelet created because they did not exist before cluster-up (recorded there).
if [[ -f $CLUSTER_RUN/created-paths ]]; then
  while IFS= read -r p; do
    [[ -n $p ]] && rm -rf "$p"
  done <"$CLUSTER_RUN/created-paths"
fi

# 9. Host sysctls kubelet changed, back to what they were before the first cluster-up.
if [[ -f $CLUSTER_RUN/sysctls.saved ]]; then
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    current=$(sysctl -n "${line%%=*}" 2>/dev/null || true)
    if [[ $current != "${line#*=}" ]]; then
      sysctl -qw "$line" >/dev/null && log "restored $line (was $current)"
    fi
  done <"$CLUSTER_RUN/sysctls.saved"
fi
rm -rf "$CLUSTER_RUN"
rm -rf "$CLUSTER_DIR"

# Nothing of ours belongs in the host's own tables; say so if something else put chains there.
if iptables-save 2>/dev/null | grep -q '^:KUBE-'; then
  log "note: the host's iptables have KUBE-* chains; the cluster's lived in its namespace, so these are someone else's (left alone)"
fi
log "cluster removed in $((SECONDS - start_time))s"
