#!/usr/bin/env bash
# `make demo-cluster`: the demo of `make demo`, with everything running as Pods in the local
# single-node cluster: the management API emulator from the igz-emulator image (seeded with
# hack/demo-seed.yaml) behind a Service, and the operator installed by `helm install --wait` from
# charts/igz-operator with the igz-operator image (in-cluster configuration, the access key from
# a Secret, probes, leader election). Applies examples/*.yaml, waits until every Group is Ready,
# prints them, the platform's view and the Events, then deletes the Groups and tears down.
# The platform is reached through a PlatformConnection named default (the chart's `connections`
# value) whose credentials are the Secret the operator reads in its own namespace.
# Keep it running for exploration: `make demo-cluster KEEP=1` (or hack/demo-cluster.sh --keep).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/demo-steps.sh"
cd "$ROOT"

KEEP=${KEEP:-}
[[ ${1:-} == --keep ]] && KEEP=1
SYSTEM_NS=igz-system      # the operator (Helm release)
PLATFORM_NS=igz-platform  # the emulator, standing in for the Iguazio platform
NAMESPACE=igz-demo        # the Group resources
ACCESS_KEY=demo-access-key
HELM="$TOOLS_BIN/helm"

t_start=$SECONDS
cluster_started=false
emulator_url=""
teardown() {
  local rc=$?
  if [[ -n $KEEP && $rc -eq 0 ]]; then
    step "left running (KEEP=1)"
    cat >&2 <<MSG
  export KUBECONFIG=$CLUSTER_KUBECONFIG
  kubectl get groups -A; kubectl describe group -n $NAMESPACE data-science
  kubectl -n $SYSTEM_NS logs deploy/igz-operator
  nsenter --net=$NETNS_PATH curl -s $emulator_url/__emulator/state | python3 -m json.tool | less
  stop: make cluster-down
MSG
    return
  fi
  if ((rc != 0)); then
    log "demo failed (exit $rc); operator Pods and last log lines:"
    kc get pods -A -o wide >&2 2>/dev/null || true
    kc -n "$SYSTEM_NS" logs deploy/igz-operator --tail=30 >&2 2>/dev/null || true
  fi
  step "tearing down"
  if $cluster_started; then
    hack/cluster-down.sh >&2 || true
  else
    # Someone else's running cluster: take away only what the demo added.
    "$HELM" --kubeconfig "$CLUSTER_KUBECONFIG" uninstall igz-operator -n "$SYSTEM_NS" --wait >/dev/null 2>&1 || true
    kc delete -f examples/grants/ --ignore-not-found >/dev/null 2>&1 || true
    kc delete namespace "$NAMESPACE" "$PLATFORM_NS" "$SYSTEM_NS" --wait=false >/dev/null 2>&1 || true
  fi
  log "demo-cluster finished in $((SECONDS - t_start))s"
}
trap teardown EXIT

step "starting the local single-node cluster"
[[ -f $CLUSTER_KUBECONFIG ]] || cluster_started=true
hack/cluster-up.sh >/dev/null
kc get nodes -o wide >&2

step "building the images (make image) and importing them into the cluster"
hack/image.sh
version=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="igz-operator"))')
OPERATOR_IMAGE=$IMAGE_REGISTRY/igz-operator
EMULATOR_IMAGE=$IMAGE_REGISTRY/igz-emulator:$version
hack/cluster-import.sh "$OPERATOR_IMAGE:$version" "$EMULATOR_IMAGE"
hack/build-tools.sh helm

# Every namespace of the demo enforces the `restricted` Pod Security level.
for ns in "$SYSTEM_NS" "$PLATFORM_NS" "$NAMESPACE"; do
  kc create namespace "$ns" --dry-run=client -o yaml | kc apply -f - >/dev/null
  kc label namespace "$ns" --overwrite pod-security.kubernetes.io/enforce=restricted >/dev/null
done
for ns in "$SYSTEM_NS" "$PLATFORM_NS"; do
  until kc get serviceaccount default -n "$ns" >/dev/null 2>&1; do sleep 0.2; done
done

step "starting the management API emulator as a Pod (image $EMULATOR_IMAGE, seed hack/demo-seed.yaml)"
# The emulator chart the in-cluster tests use too (hack/cluster/emulator-chart).
"$HELM" --kubeconfig "$CLUSTER_KUBECONFIG" upgrade --install igz-emulator hack/cluster/emulator-chart \
  -n "$PLATFORM_NS" --wait --timeout 90s --set image.repository="${EMULATOR_IMAGE%:*}" \
  --set image.tag="$version" --set "accessKeys[0]=$ACCESS_KEY" --set-file seed=hack/demo-seed.yaml >/dev/null
emulator_ip=$(kc -n "$PLATFORM_NS" get service igz-emulator -o jsonpath='{.spec.clusterIP}')
emulator_url="http://$emulator_ip:8470"
log "emulator Service at $emulator_url (reachable only inside the cluster's network namespace)"
# The platform's view is read from the node's side of the namespace, through the same Service.
platform_state() { in_netns curl -fsS --max-time 10 "$emulator_url/__emulator/state"; }

step "installing the operator as docs/operating.md says (Installing with Helm), with --wait"
# The access key from a file, as the docs' `kubectl create secret ... --from-file` has it.
key_file=$(mktemp "${TMPDIR:-/tmp}/igz-demo-key.XXXXXX")
echo "$ACCESS_KEY" >"$key_file"
kc -n "$SYSTEM_NS" create secret generic igz-operator-mgmt --from-file=access-key="$key_file" \
  --dry-run=client -o yaml | kc apply -f - >/dev/null
rm -f "$key_file"
t0=$SECONDS
# The chart's default image (localhost/igz-operator:<appVersion>, IfNotPresent) is the one just
# imported; `upgrade --install` is `helm install` that may be repeated (KEEP=1 runs).
"$HELM" --kubeconfig "$CLUSTER_KUBECONFIG" upgrade --install igz-operator charts/igz-operator \
  -n "$SYSTEM_NS" --wait --timeout 180s \
  --set mgmt.url="$emulator_url" --set resyncInterval=30s --set logFormat=text \
  --set "connections[0].name=default" --set "connections[0].spec.url=$emulator_url" \
  --set "connections[0].spec.secretRef.name=igz-operator-mgmt" >&2
kc -n "$SYSTEM_NS" wait pod -l app.kubernetes.io/name=igz-operator --for=condition=Ready --timeout=60s >/dev/null
log "helm install --wait returned in $((SECONDS - t0))s; the operator Pod is Ready:"
kc -n "$SYSTEM_NS" get pods -l app.kubernetes.io/name=igz-operator -o wide >&2
kc -n "$SYSTEM_NS" logs deploy/igz-operator 2>/dev/null | grep -m3 -iE "starting|connect|lease|leader" | cut -c1-220 >&2 || true

step "the connection default is a PlatformConnection (the chart's connections value), its key the Secret's"
kc wait platformconnection/default --for=condition=Ready --timeout=60s >&2
kc get platformconnections >&2

demo_apply_groups

[[ -n $KEEP ]] && exit 0

demo_delete_groups
