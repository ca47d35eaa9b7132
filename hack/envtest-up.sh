#!/usr/bin/env bash
# Starts a real control plane for tests: etcd + kube-apiserver on free loopback ports, RBAC on,
# a client-certificate admin, service-account token signing (TokenRequest works).
# Writes the admin kubeconfig to $ENVTEST_KUBECONFIG (hack/lib.sh; target/envtest/kubeconfig by
# default) and prints `export KUBECONFIG=<path>` on stdout. Idempotent: a healthy running
# control plane is reused. Stop it with hack/envtest-down.sh (by PID, never by name).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need kubectl "install kubectl 1.27 or newer"

STATE="$ENVTEST_DIR"
KUBECONFIG_OUT="$ENVTEST_KUBECONFIG"
READY_BUDGET=${ENVTEST_READY_SECONDS:-60}

# Test binaries and make targets may call this concurrently: one start at a time.
mkdir -p "$(dirname "$STATE")"
exec 9>"$(dirname "$STATE")/.envtest.lock"
flock 9

alive() { [[ -f "$STATE/$1.pid" ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

healthy() {
  [[ -f "$KUBECONFIG_OUT" ]] && alive etcd && alive kube-apiserver &&
    kubectl --kubeconfig "$KUBECONFIG_OUT" --request-timeout=5s get --raw=/readyz >/dev/null 2>&1
}

announce() {
  log "control plane ready: $(kubectl --kubeconfig "$KUBECONFIG_OUT" version -o json 2>/dev/null |
    sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n 1) at $(cat "$STATE/server")"
  echo "export KUBECONFIG=$KUBECONFIG_OUT"
}

if healthy; then
  log "reusing the running control plane (state in $STATE)"
  announce
  exit 0
fi
if [[ -d "$STATE" ]]; then
  log "found stale state in $STATE; cleaning it up first"
  "$(dirname "$0")/envtest-down.sh" >/dev/null
fi

"$(dirname "$0")/build-tools.sh" etcd kube-apiserver pki
ETCD="$TOOLS_BIN/etcd"
APISERVER="$TOOLS_BIN/kube-apiserver"
PKI="$TOOLS_BIN/pki"

mkdir -p "$STATE/pki"
# etcd's data lives in memory (tmpfs) when available: tests need speed, not durability.
DATA_ROOT=/dev/shm
[[ -d $DATA_ROOT && -w $DATA_ROOT ]] || DATA_ROOT="$STATE"
DATA=$(mktemp -d "$DATA_ROOT/igz-envtest-etcd.XXXXXX")
echo "$DATA" >"$STATE/etcd-data-dir"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
ETCD_PORT=$(free_port); PEER_PORT=$(free_port); API_PORT=$(free_port)

# --- certificates (all short-lived test material, never reused across runs; hack/tools/pki) ---
pki="$STATE/pki"
"$PKI" ca "$pki/ca" igz-envtest-ca
"$PKI" issue "$pki/ca" "$pki/serving" /CN=127.0.0.1 IP:127.0.0.1,DNS:localhost
"$PKI" issue "$pki/ca" "$pki/admin" /O=system:masters/CN=admin
"$PKI" key "$pki/sa.key"

start() { # name logfile command...
  local name=$1 logfile=$2; shift 2
  # 9>&- : the children must not inherit (and hold) the start lock.
  setsid "$@" >"$logfile" 2>&1 </dev/null 9>&- &
  echo $! >"$STATE/$name.pid"
}

fail_start() {
  log "$1; last lines of $2:"
  tail -n 20 "$2" >&2 || true
  "$(dirname "$0")/envtest-down.sh" >/dev/null 2>&1 || true
  die "$1 (see above)"
}

log "starting etcd on 127.0.0.1:$ETCD_PORT"
start etcd "$STATE/etcd.log" "$ETCD" --name igz-envtest --data-dir "$DATA" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-cluster "igz-envtest=http://127.0.0.1:$PEER_PORT" \
  --unsafe-no-fsync=true --quota-backend-bytes=4294967296 --log-level=warn

deadline=$((SECONDS + READY_BUDGET))
etcd_healthy() {
  python3 - "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as answer:
    sys.exit(0 if json.load(answer).get("health") == "true" else 1)
PY
}
until etcd_healthy; do
  alive etcd || fail_start "etcd exited during start (port $ETCD_PORT or $PEER_PORT taken?)" "$STATE/etcd.log"
  ((SECONDS < deadline)) || fail_start "etcd not healthy after ${READY_BUDGET}s" "$STATE/etcd.log"
  sleep 0.3
done

log "starting kube-apiserver on https://127.0.0.1:$API_PORT"
start kube-apiserver "$STATE/kube-apiserver.log" "$APISERVER" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --secure-port "$API_PORT" --advertise-address 127.0.0.1 \
  --endpoint-reconciler-type none \
  --tls-cert-file "$pki/serving.crt" --tls-private-key-file "$pki/serving.key" \
  --client-ca-file "$pki/ca.crt" \
  --service-account-issuer "https://127.0.0.1:$API_PORT" \
  --service-account-key-file "$pki/sa.key" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.0.0.0/24 \
  --authorization-mode RBAC \
  --disable-admission-plugins ServiceAccount \
  --allow-privileged=true

echo "https://127.0.0.1:$API_PORT" >"$STATE/server"
kubectl config --kubeconfig "$KUBECONFIG_OUT" set-cluster envtest \
  --server "https://127.0.0.1:$API_PORT" --certificate-authority "$pki/ca.crt" --embed-certs >/dev/null
kubectl config --kubeconfig "$KUBECONFIG_OUT" set-credentials admin \
  --client-certificate "$pki/admin.crt" --client-key "$pki/admin.key" --embed-certs >/dev/null
kubectl config --kubeconfig "$KUBECONFIG_OUT" set-context envtest --cluster envtest --user admin >/dev/null
kubectl config --kubeconfig "$KUBECONFIG_OUT" use-context envtest >/dev/null

until kubectl --kubeconfig "$KUBECONFIG_OUT" --request-timeout=5s get --raw=/readyz >/dev/null 2>&1 &&
  kubectl --kubeconfig "$KUBECONFIG_OUT" --request-timeout=5s get namespace default >/dev/null 2>&1; do
  alive kube-apiserver || fail_start "kube-apiserver exited during start (port $API_PORT taken?)" "$STATE/kube-apiserver.log"
  ((SECONDS < deadline)) || fail_start "kube-apiserver not ready after ${READY_BUDGET}s" "$STATE/kube-apiserver.log"
  sleep 0.5
done
announce
