#!/usr/bin/env bash
# `make cluster-check`: proves the local cluster does what the operator's tests need, in a fresh
# namespace that enforces the `restricted` Pod Security level:
#   - a Deployment's Pod becomes Running and Ready through an httpGet probe
#   - a Pod reaches another Pod through its ClusterIP Service (kube-proxy, iptables)
#   - a Pod reaches the API server through the `kubernetes` Service with its ServiceAccount
#     token, TLS verified (200 with RBAC, 403 without)
#   - the restricted level is enforced (a non-compliant Pod is refused; ours run)
#   - `helm install --wait` completes
# Starts the cluster when none runs (and then stops it again). Test images: localhost/igz-probe.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HACK=$(cd "$(dirname "$0")" && pwd)
NS=igz-check

started=false
if ! [[ -f $CLUSTER_KUBECONFIG ]]; then started=true; fi
"$HACK/cluster-up.sh" >/dev/null
cleanup() {
  local rc=$?
  if ((rc != 0)); then
    log "check failed; state of namespace $NS:"
    kc get all,events -n "$NS" 2>&1 | tail -n 30 >&2 || true
  fi
  kc delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  if $started && [[ -z ${KEEP:-} ]]; then "$HACK/cluster-down.sh" >&2; fi
}
trap cleanup EXIT
"$HACK/cluster-import.sh" --probe

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
ok() { printf '    \033[32mok\033[0m %s\n' "$*" >&2; }

kc delete namespace "$NS" --ignore-not-found --wait=true --timeout=60s >/dev/null
kc create namespace "$NS" >/dev/null
kc label namespace "$NS" pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/enforce-version=latest >/dev/null
# The ServiceAccount admission plugin refuses Pods until the controller created `default`.
until kc get serviceaccount default -n "$NS" >/dev/null 2>&1; do sleep 0.2; done

# A Pod spec fragment that satisfies `restricted`: non-root, read-only root, no capabilities.
restricted_pod_spec() { # name args-json
  cat <<EOF
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: $1
          image: $PROBE_IMAGE
          imagePullPolicy: Never
          args: $2
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          resources:
            limits: {memory: 32Mi}
EOF
}

# A one-shot Pod; prints its log; succeeds when the Pod's phase becomes the expected one.
run_pod() { # name serviceaccount expected-phase args-json
  local name=$1 sa=$2 phase=$3 args=$4
  {
    cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $name, namespace: $NS}
spec:
  serviceAccountName: $sa
  restartPolicy: Never
EOF
    restricted_pod_spec "$name" "$args" | sed 's/^    //'
  } | kc apply -f - >/dev/null
  local deadline=$((SECONDS + 60)) p=""
  until [[ $p == Succeeded || $p == Failed ]]; do
    ((SECONDS < deadline)) || die "pod $name still ${p:-Pending} after 60s"
    sleep 0.5
    p=$(kc get pod "$name" -n "$NS" -o jsonpath='{.status.phase}')
  done
  kc logs "$name" -n "$NS" 2>&1 | cut -c1-150 | sed 's/^/      /' >&2
  [[ $p == "$phase" ]] || die "pod $name ended $p, expected $phase"
}

step "the cluster's network stays inside its namespace"
# Only loopback, the Pod bridge and the Pods' veth ends; routes only to the Pod and Service
# ranges: an address outside them is unreachable from the node and from every Pod (whose default
# route leads here). Checked by reading the tables, without sending anything.
links=$(in_netns ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -vxE "lo|$POD_BRIDGE|veth[0-9a-f]+" || true)
[[ -z $links ]] || die "unexpected links in $CLUSTER_NETNS: $links"
routes=$(in_netns ip -4 route show | grep -vE "^($POD_CIDR|$SERVICE_CIDR) " || true)
[[ -z $routes ]] || die "unexpected routes in $CLUSTER_NETNS: $routes"
if in_netns ip route get 10.255.255.53 >/dev/null 2>&1; then
  die "an address outside the cluster is routable from $CLUSTER_NETNS"
fi
ok "links: lo, $POD_BRIDGE, Pod veths; routes: $POD_CIDR, $SERVICE_CIDR; nothing else is routable"

step "Deployment with an httpGet readiness probe -> Running and Ready"
t0=$SECONDS
kc apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: $NS}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      automountServiceAccountToken: false
$(restricted_pod_spec web '[serve, ":8080"]')
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1}
          livenessProbe: {httpGet: {path: /live, port: http}, periodSeconds: 5}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: $NS}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
EOF
kc rollout status deployment/web -n "$NS" --timeout=90s >/dev/null
kc get pods -n "$NS" -l app=web -o wide | sed 's/^/      /' >&2
ok "2/2 Pods Ready in $((SECONDS - t0))s (readiness: httpGet /ready)"

step "Pod -> another Pod through its ClusterIP Service"
ip=$(kc get service web -n "$NS" -o jsonpath='{.spec.clusterIP}')
run_pod client-svc default Succeeded "[get, \"http://$ip/\"]"
ok "http://$ip/ (Service web) answered"

step "Pod -> API server through the kubernetes Service, ServiceAccount token, TLS verified"
kc create serviceaccount pod-reader -n "$NS" >/dev/null
kc create role pod-reader -n "$NS" --verb=list --resource=pods >/dev/null
kc create rolebinding pod-reader -n "$NS" --role=pod-reader --serviceaccount="$NS:pod-reader" >/dev/null
run_pod api-allowed pod-reader Succeeded "[kube-get, \"/api/v1/namespaces/$NS/pods?limit=1\"]"
ok "200 with a Role allowing it"
run_pod api-denied default Failed "[kube-get, \"/api/v1/namespaces/$NS/pods?limit=1\"]"
ok "403 without (RBAC applies to the Pod's identity)"

step "restricted Pod Security level is enforced"
if out=$(kc run privileged -n "$NS" --image="$PROBE_IMAGE" --image-pull-policy=Never \
  --restart=Never -- serve :8080 2>&1); then
  die "a Pod without the restricted settings was admitted: $out"
fi
grep -q 'violates PodSecurity "restricted' <<<"$out" || die "unexpected refusal: $out"
ok "a Pod without securityContext is refused: ${out:0:110}..."
ok "the Pods above ran non-root, read-only, without capabilities in this namespace"

step "helm install --wait"
"$HACK/build-tools.sh" helm >/dev/null 2>&1
chart=$(mktemp -d "${TMPDIR:-/tmp}/igz-check-chart.XXXXXX")
mkdir -p "$chart/templates"
printf 'apiVersion: v2\nname: igz-check\nversion: 0.1.0\n' >"$chart/Chart.yaml"
kc get deployment web -n "$NS" -o json |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"{{ .Release.Name }}"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"{{ .Release.Name }}"}},"template":{"metadata":{"labels":{"app":"{{ .Release.Name }}"}},"spec":d["spec"]["template"]["spec"]}}}))' \
  >"$chart/templates/deployment.yaml"
t0=$SECONDS
KUBECONFIG=$CLUSTER_KUBECONFIG "$TOOLS_BIN/helm" install helmcheck "$chart" -n "$NS" --wait --timeout 90s >/dev/null
ok "helm install --wait returned in $((SECONDS - t0))s"
KUBECONFIG=$CLUSTER_KUBECONFIG "$TOOLS_BIN/helm" uninstall helmcheck -n "$NS" --wait >/dev/null
rm -rf "$chart"

step "all cluster checks passed"
