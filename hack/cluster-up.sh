#!/usr/bin/env bash
# `make cluster-up`: a real single-node Kubernetes cluster for tests and demos, built from source
# (hack/build-tools.sh cluster) and Debian packages (containerd, runc, CNI plugins), no registry.
#
# Everything runs inside a network namespace of its own ($CLUSTER_NETNS): etcd, the control plane,
# containerd, kubelet, kube-proxy and every Pod. The node address, the Pod bridge and the Service
# range exist only there, the namespace has no link to the host's network, and the host reaches
# the API server through one loopback port (hack/cluster/netns-forward.py). So test traffic goes
# to 127.0.0.1 or to addresses inside that namespace, nowhere else.
#
# Writes the admin kubeconfig to $CLUSTER_KUBECONFIG (hack/lib.sh; target/cluster/kubeconfig by
# default) and prints `export KUBECONFIG=...`.
# Idempotent: a healthy running cluster is reused. Stop it with hack/cluster-down.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HACK=$(cd "$(dirname "$0")" && pwd)
READY_BUDGET=${CLUSTER_READY_SECONDS:-120}

[[ $(id -u) == 0 ]] || die "the cluster needs root (network namespace, containerd, kubelet): run as root"
need openssl "apt-get install -y openssl"
need curl "apt-get install -y curl"
need kubectl "install kubectl 1.27 or newer"
need python3 "apt-get install -y python3"
need nsenter "apt-get install -y util-linux"
need ip "apt-get install -y iproute2"
need containerd "apt-get install -y containerd runc containernetworking-plugins conntrack iptables"
need ctr "apt-get install -y containerd"
need runc "apt-get install -y runc"
need containerd-shim-runc-v2 "apt-get install -y containerd"
need iptables "apt-get install -y iptables"
need conntrack "apt-get install -y conntrack"
need podman "apt-get install -y podman (builds the pause image)"
CNI_BIN=/usr/lib/cni
for p in bridge host-local loopback; do
  [[ -x $CNI_BIN/$p ]] || die "CNI plugin $CNI_BIN/$p is missing: apt-get install -y containernetworking-plugins"
done

# One start (or stop) at a time, machine-wide: test binaries and make targets may race.
mkdir -p "$(dirname "$CLUSTER_LOCK")"
exec 9>"$CLUSTER_LOCK"
flock 9

healthy() {
  [[ -f "$CLUSTER_KUBECONFIG" && -f "$CLUSTER_RUN/owner" && $(cat "$CLUSTER_RUN/owner") == "$CLUSTER_DIR" ]] &&
    alive etcd && alive kube-apiserver && alive forward && alive containerd && alive kubelet &&
    alive kube-proxy && alive kube-controller-manager && alive kube-scheduler &&
    kc --request-timeout=5s get --raw=/readyz >/dev/null 2>&1 &&
    [[ $(kc --request-timeout=5s get node "$NODE_NAME" \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

announce() {
  log "cluster ready: $(kc version -o json 2>/dev/null | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n 1)," \
    "node $NODE_NAME, API server $(cat "$CLUSTER_DIR/server") (network namespace $CLUSTER_NETNS)"
  echo "export KUBECONFIG=$CLUSTER_KUBECONFIG"
}

if healthy; then
  log "reusing the running cluster (state in $CLUSTER_DIR)"
  announce
  exit 0
fi
if [[ -f "$CLUSTER_RUN/owner" && $(cat "$CLUSTER_RUN/owner") != "$CLUSTER_DIR" ]] && [[ -d $CLUSTER_PIDS ]]; then
  other=$(cat "$CLUSTER_RUN/owner")
  for f in "$CLUSTER_PIDS"/*; do
    [[ -f $f ]] && running "$(cat "$f")" &&
      die "a cluster started from another checkout runs on this machine (state $other); one per machine: stop it first with hack/cluster-down.sh there (or here: it stops the machine's cluster)"
  done
fi
if [[ -e $CLUSTER_RUN || -e $NETNS_PATH || -d $CLUSTER_DIR ]]; then
  log "found a stopped or unhealthy cluster; cleaning it up first"
  CLUSTER_LOCK_HELD=1 "$HACK/cluster-down.sh" >&2
fi

start_time=$SECONDS
"$HACK/build-tools.sh" cluster
B=$TOOLS_BIN

# From here on a failure (or an interrupt) removes the half-started cluster, keeping its logs.
up_complete=false
FAILED_LOGS=$TARGET_DIR/cluster-failed-logs
on_exit() {
  local rc=$?
  { $up_complete || ((rc == 0)); } && return
  rm -rf "$FAILED_LOGS"
  cp -r "$CLUSTER_DIR/logs" "$FAILED_LOGS" 2>/dev/null && log "component logs kept in $FAILED_LOGS"
  log "removing the half-started cluster"
  CLUSTER_LOCK_HELD=1 "$HACK/cluster-down.sh" >/dev/null 2>&1 || true
}
trap on_exit EXIT
trap 'exit 130' INT TERM

mkdir -p "$CLUSTER_DIR"/{pki,logs,config,cni} "$CLUSTER_PIDS" "$CLUSTER_VAR"
echo "$CLUSTER_DIR" >"$CLUSTER_RUN/owner"
LOGS=$CLUSTER_DIR/logs
CFG=$CLUSTER_DIR/config

# --- host sysctls kubelet will change: saved once, restored by cluster-down ---
if [[ ! -f $CLUSTER_RUN/sysctls.saved ]]; then
  for s in "${KUBELET_SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done >"$CLUSTER_RUN/sysctls.saved.tmp"
  mv "$CLUSTER_RUN/sysctls.saved.tmp" "$CLUSTER_RUN/sysctls.saved"
fi

# --- the network namespace: node address, Pod bridge, Service route; no link to the host ---
log "creating network namespace $CLUSTER_NETNS (node $NODE_IP, Pods $POD_CIDR, Services $SERVICE_CIDR)"
ip netns add "$CLUSTER_NETNS"
in_netns ip link set lo up
# The Pod bridge exists before the first Pod so the node address (= the Pods' gateway, which the
# CNI bridge plugin finds already there) is up when the API server advertises it.
in_netns ip link add "$POD_BRIDGE" type bridge
in_netns ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$POD_BRIDGE"
in_netns ip link set "$POD_BRIDGE" up
# Node processes that dial a ClusterIP need a route for the output NAT chain to see the packet;
# one still untranslated after kube-proxy's rules dies on the bridge (nobody answers ARP for it).
in_netns ip route add "$SERVICE_CIDR" dev "$POD_BRIDGE"
# Pod -> Service -> Pod on the same bridge is routed back out of it.
in_netns sysctl -qw net.ipv4.ip_forward=1
# Replies from a Service's Pod cross the bridge; they must pass conntrack to be un-NATed.
in_netns sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null ||
  log "warning: net.bridge.bridge-nf-call-iptables is unavailable; Pod -> Service -> Pod on this node may fail"

# --- component cgroups: every process started here (and containerd's shims) is recorded there ---
for d in $(cgroup_dirs "$CLUSTER_CGROUP"); do mkdir -p "$d"; done

# --- certificates: a fresh CA per cluster, short-lived, never reused ---
# ECDSA P-256: generated in milliseconds, where 2048-bit RSA keys took 4 of the start's seconds.
pki=$CLUSTER_DIR/pki
EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
openssl req -x509 "${EC[@]}" -nodes -days 7 -subj "/CN=igz-cluster-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
issue_cert() { # name subject usage [san]
  local name=$1 subj=$2 usage=$3 san=${4:-}
  openssl req "${EC[@]}" -nodes -subj "$subj" -keyout "$pki/$name.key" -out "$pki/$name.csr" 2>/dev/null
  { echo "extendedKeyUsage=$usage"; [[ -z $san ]] || echo "subjectAltName=$san"; } >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 7 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
}
issue_cert kube-apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:$NODE_IP,IP:$API_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
issue_cert admin "/O=system:masters/CN=admin" clientAuth
issue_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
issue_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
issue_cert kubelet-serving "/CN=$NODE_NAME" serverAuth "IP:$NODE_IP,DNS:$NODE_NAME"
issue_cert kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
issue_cert kube-scheduler "/CN=system:kube-scheduler" clientAuth
issue_cert kube-proxy "/CN=system:kube-proxy" clientAuth
openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null

# Kubeconfigs for the components: they run in the namespace and dial its 127.0.0.1 directly.
write_kubeconfig() { # file user server
  local file=$1 user=$2 server=$3
  kubectl config --kubeconfig "$file" set-cluster igz-cluster --server "$server" \
    --certificate-authority "$pki/ca.crt" --embed-certs >/dev/null
  kubectl config --kubeconfig "$file" set-credentials "$user" \
    --client-certificate "$pki/$user.crt" --client-key "$pki/$user.key" --embed-certs >/dev/null
  kubectl config --kubeconfig "$file" set-context igz-cluster --cluster igz-cluster --user "$user" >/dev/null
  kubectl config --kubeconfig "$file" use-context igz-cluster >/dev/null
}
for u in kubelet kube-controller-manager kube-scheduler kube-proxy; do
  write_kubeconfig "$CFG/$u.kubeconfig" "$u" "https://127.0.0.1:$API_PORT"
done

start() { # name command...: runs it in the namespace and in the cluster cgroup, records its PID
  local name=$1; shift
  local procs=() d
  for d in $(cgroup_dirs "$CLUSTER_CGROUP"); do procs+=("$d/cgroup.procs"); done
  # The shell joins the cgroups, then becomes nsenter, which becomes the component: one PID.
  # 9>&- : children must not inherit (and hold) the start lock.
  setsid bash -c 'for f in "${@:2:$1}"; do echo $$ >"$f"; done; shift $(($1 + 1)); exec "$@"' \
    _ "${#procs[@]}" "${procs[@]}" nsenter --net="$NETNS_PATH" -- "$@" \
    >"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$CLUSTER_PIDS/$name"
}

fail_start() { # message name
  log "$1; last lines of $LOGS/$2.log:"
  tail -n 25 "$LOGS/$2.log" >&2 || true
  die "$1"
}

deadline=$((SECONDS + READY_BUDGET))
wait_for() { # name description command...
  local name=$1 what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    alive "$name" || fail_start "$name exited while starting" "$name"
    ((SECONDS < deadline)) || fail_start "$what not ready after ${READY_BUDGET}s" "$name"
    sleep 0.3
  done
}

# --- configuration files (written before anything starts, so the starts can overlap) ---
mkdir -p "$CLUSTER_VAR/containerd" "$CLUSTER_RUN/containerd" "$CLUSTER_VAR/cni" "$CFG/registry-none"
cat >"$CFG/containerd.toml" <<EOF
# Generated by hack/cluster-up.sh.
version = 2
root = "$CLUSTER_VAR/containerd"
state = "$CLUSTER_RUN/containerd"
# Unused snapshotters, and the tracing exporter (nothing may dial out).
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CONTAINERD_SOCK"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CLUSTER_VAR/containerd-opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This VM lacks CAP_SYS_RESOURCE: without this every sandbox fails in runc
  # ("failed to update /proc/self/oom_score_adj: Permission denied").
  restrict_oom_score_adj = true
  # Pod network namespaces under our state dir, not /run/netns (cluster-down finds them there).
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$CLUSTER_RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$CLUSTER_DIR/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    # No registry configuration at all: images come from hack/cluster-import.sh.
    config_path = "$CFG/registry-none"
EOF
# Pods on one bridge; host-local addresses; no masquerade (nothing to leave the namespace for);
# hairpin so a Pod reaches itself through its own Service.
cat >"$CLUSTER_DIR/cni/10-igz-pods.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "igz-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$POD_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$CLUSTER_VAR/cni"
      }
    }
  ]
}
EOF
# Pods get a resolver on their own loopback: there is no cluster DNS, and the host's resolver
# lies outside the namespace. Name lookups fail at once; in-cluster clients use
# KUBERNETES_SERVICE_HOST/PORT and Services are reached by ClusterIP.
echo "nameserver 127.0.0.1" >"$CFG/resolv.conf"
cat >"$CFG/kubelet.yaml" <<EOF
# Generated by hack/cluster-up.sh.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
# This VM has cgroup v1 (hybrid); kubelet 1.33 still supports it when asked.
failCgroupV1: false
failSwapOn: false
resolvConf: $CFG/resolv.conf
clusterDomain: cluster.local
podLogsDir: $CLUSTER_VAR/pod-logs
volumePluginDir: $CLUSTER_VAR/volume-plugins
# Imported images cannot be pulled again: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
serializeImagePulls: false
maxPods: 64
EOF
# kube-proxy: iptables mode, in the namespace; the conntrack settings are left alone (0 = do
# not touch), since nf_conntrack_max is machine-wide.
cat >"$CFG/kube-proxy.yaml" <<EOF
# Generated by hack/cluster-up.sh.
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $CFG/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables: {localhostNodePorts: false, minSyncPeriod: 1s, syncPeriod: 30s}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
nodePortAddresses: ["$NODE_IP/32"]
EOF
# A few host paths are constants in kubelet and containerd whatever their flags say: kubelet's
# device-plugin socket directory and /var/log/containers, containerd's shim socket directory
# (/run/containerd/s), the CNI result cache (/var/lib/cni). Those that do not exist yet are
# recorded, and cluster-down removes exactly them.
for p in /var/lib/kubelet /var/log/containers /usr/libexec/kubernetes /run/containerd /var/lib/cni; do
  [[ -e $p ]] || echo "$p" >>"$CLUSTER_RUN/created-paths"
done

# --- etcd (in memory, on the namespace's loopback) and containerd, side by side ---
rm -rf "$CLUSTER_ETCD_DATA"
log "starting etcd and containerd"
start etcd "$B/etcd" --name igz-cluster --data-dir "$CLUSTER_ETCD_DATA" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster igz-cluster=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
  --unsafe-no-fsync=true --quota-backend-bytes=4294967296 --log-level=warn
start containerd containerd --config "$CFG/containerd.toml" --log-level warn
wait_for etcd etcd in_netns curl -fsS http://127.0.0.1:2379/health

# --- kube-apiserver: configured for a real node (ServiceAccount admission, Node authorizer) ---
log "starting kube-apiserver"
start kube-apiserver "$B/kube-apiserver" \
  --etcd-servers http://127.0.0.1:2379 \
  --bind-address 0.0.0.0 --secure-port "$API_PORT" --advertise-address "$NODE_IP" \
  --tls-cert-file "$pki/kube-apiserver.crt" --tls-private-key-file "$pki/kube-apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.key" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --allow-privileged=true --profiling=false
# The host's door to the API server: a loopback port forwarded into the namespace.
HOST_PORT=${CLUSTER_API_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')}
setsid python3 "$HACK/cluster/netns-forward.py" "$HOST_PORT" "$NETNS_PATH" "$API_PORT" \
  >"$LOGS/forward.log" 2>&1 </dev/null 9>&- &
echo $! >"$CLUSTER_PIDS/forward"
for d in $(cgroup_dirs "$CLUSTER_CGROUP"); do cat "$CLUSTER_PIDS/forward" >"$d/cgroup.procs"; done
echo "https://127.0.0.1:$HOST_PORT" >"$CLUSTER_DIR/server"
write_kubeconfig "$CLUSTER_KUBECONFIG.tmp" admin "https://127.0.0.1:$HOST_PORT"
mv "$CLUSTER_KUBECONFIG.tmp" "$CLUSTER_KUBECONFIG"

# --- images, while the API server starts: the pause image (built here, from source) and our
#     images when podman has them ---
wait_for containerd containerd ctr --address "$CONTAINERD_SOCK" version
"$HACK/cluster-import.sh" --pause
imgs=()
for name in igz-operator igz-emulator; do
  ref=$(podman images --format '{{.Repository}}:{{.Tag}}' "$IMAGE_REGISTRY/$name" 2>/dev/null | head -n 1)
  [[ -n $ref ]] && imgs+=("$ref")
done
if ((${#imgs[@]})); then
  "$HACK/cluster-import.sh" "${imgs[@]}"
else
  log "no localhost/igz-* images in podman yet (make image); import them later with hack/cluster-import.sh"
fi

# --- the node; kubelet and kube-proxy retry until the API server answers ---
log "starting kubelet and kube-proxy"
start kubelet "$B/kubelet" --config "$CFG/kubelet.yaml" --kubeconfig "$CFG/kubelet.kubeconfig" \
  --root-dir "$CLUSTER_VAR/kubelet" --cert-dir "$CLUSTER_VAR/kubelet/pki" \
  --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
start kube-proxy "$B/kube-proxy" --config "$CFG/kube-proxy.yaml"

wait_for kube-apiserver "kube-apiserver" kc --request-timeout=5s get --raw=/readyz
alive forward || fail_start "the loopback forwarder exited (port $HOST_PORT taken?)" forward

# --- controller-manager and scheduler once the API server is ready: they read their
#     authentication configuration at start and exit when RBAC is not bootstrapped yet ---
log "starting kube-controller-manager and kube-scheduler"
start kube-controller-manager "$B/kube-controller-manager" \
  --kubeconfig "$CFG/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig "$CFG/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig "$CFG/kube-controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" --cluster-cidr "$POD_CIDR" --allocate-node-cidrs=false \
  --cluster-name igz-cluster --profiling=false \
  --flex-volume-plugin-dir "$CLUSTER_VAR/volume-plugins"
start kube-scheduler "$B/kube-scheduler" \
  --kubeconfig "$CFG/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig "$CFG/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig "$CFG/kube-scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --profiling=false

# --- ready: node Ready, default ServiceAccount, kube-proxy's rules for the API Service ---
wait_for kubelet "node $NODE_NAME" bash -c \
  "[[ \$(kubectl --kubeconfig '$CLUSTER_KUBECONFIG' get node '$NODE_NAME' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
wait_for kube-controller-manager "the default ServiceAccount" kc get serviceaccount default -n default
wait_for kube-proxy "kube-proxy's rules for the kubernetes Service" bash -c \
  "nsenter --net='$NETNS_PATH' -- iptables -t nat -S KUBE-SERVICES | grep -q '$API_SERVICE_IP/32'"
for n in kube-scheduler kube-controller-manager; do alive "$n" || fail_start "$n exited" "$n"; done
up_complete=true
rm -rf "$FAILED_LOGS"
log "cluster up in $((SECONDS - start_time))s"
announce
