#!/usr/bin/env bash
# `make demo`: the operator's main job end to end on built-in defaults.
# Builds, starts the local control plane and the management API emulator (seeded with users and
# projects), runs the operator, applies examples/*.yaml, waits for Ready, prints the Group
# resources and the platform's view, then tears everything down.
# Keep it running for exploration: `make demo KEEP=1` (or hack/demo.sh --keep).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

KEEP=${KEEP:-}
[[ ${1:-} == --keep ]] && KEEP=1
DEMO_DIR="$TARGET_DIR/demo"
NAMESPACE=igz-demo
ACCESS_KEY=demo-access-key
rm -rf "$DEMO_DIR" && mkdir -p "$DEMO_DIR"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
pids=()
envtest_started=false
teardown() {
  local rc=$?
  if [[ -n $KEEP && $rc -eq 0 ]]; then
    step "left running (KEEP=1)"
    cat >&2 <<MSG
  export KUBECONFIG=$ENVTEST_KUBECONFIG
  kubectl get groups -A; kubectl describe group -n $NAMESPACE data-science
  curl -s $EMULATOR_URL/__emulator/state | python3 -m json.tool | less
  operator log: $DEMO_DIR/operator.log    emulator log: $DEMO_DIR/emulator.log
  stop: kill ${pids[*]}; make envtest-down
MSG
    return
  fi
  step "tearing down"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if $envtest_started; then hack/envtest-down.sh >/dev/null 2>&1 || true; fi
  if ((rc != 0)); then
    log "demo failed (exit $rc); last operator log lines:"
    tail -n 30 "$DEMO_DIR/operator.log" >&2 2>/dev/null || true
  fi
}
trap teardown EXIT

step "building igz-operator and igz-emulator"
cargo build --quiet --bin igz-operator --bin igz-emulator

step "starting the local control plane (etcd + kube-apiserver)"
[[ -f $ENVTEST_KUBECONFIG ]] || envtest_started=true
hack/envtest-up.sh >/dev/null
export KUBECONFIG="$ENVTEST_KUBECONFIG"
kubectl version 2>/dev/null | grep -i server >&2

step "starting the management API emulator (seed: hack/demo-seed.yaml)"
start_emulator "$DEMO_DIR/emulator.log" --access-key "$ACCESS_KEY" --seed hack/demo-seed.yaml --job-delay 300
pids+=("$EMULATOR_PID")
log "emulator at $EMULATOR_URL"

step "installing the CRDs (Group, GroupGrant)"
kubectl apply --server-side -f crds/ >&2
kubectl wait --for=condition=Established crd/groups.igz-operator.io crd/groupgrants.igz-operator.io \
  --timeout=30s >&2

step "starting the operator"
printf '%s' "$ACCESS_KEY" >"$DEMO_DIR/access-key"
"$BIN_DIR/igz-operator" run --mgmt-url "$EMULATOR_URL" --access-key-file "$DEMO_DIR/access-key" \
  --metrics-addr 127.0.0.1:0 --resync-interval 30s --watch-namespace "$NAMESPACE" \
  >"$DEMO_DIR/operator.log" 2>&1 &
pids+=($!)
sleep 1
kill -0 "${pids[1]}" 2>/dev/null || die "the operator exited: $(cat "$DEMO_DIR/operator.log")"
grep -m1 "igz-operator starting" "$DEMO_DIR/operator.log" >&2 || true

step "granting namespace $NAMESPACE (cluster admin): label tenant=demo, GroupGrant demo-team"
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl label namespace "$NAMESPACE" tenant=demo --overwrite >/dev/null
kubectl apply -f examples/grants/ >&2
# The operator writes the grant into its admission policy a moment later; a dry run shows when.
deadline=$((SECONDS + 60))
until kubectl apply -n "$NAMESPACE" -f examples/ --dry-run=server >/dev/null 2>&1; do
  ((SECONDS < deadline)) || die "the GroupGrant did not reach admission within 60s"
  sleep 1
done

step "applying examples/*.yaml to namespace $NAMESPACE"
kubectl apply -n "$NAMESPACE" -f examples/ >&2

step "a Group that asks for more than the grant gives is refused (examples/refused/)"
if refusal=$(kubectl apply -n "$NAMESPACE" -f examples/refused/ 2>&1); then
  die "examples/refused/ was admitted; the GroupGrant is not enforced"
fi
printf '    %s\n' "$refusal" >&2

step "waiting for every Group to be Ready"
deadline=$((SECONDS + 120))
until kubectl wait -n "$NAMESPACE" --for=condition=Ready groups --all --timeout=2s >/dev/null 2>&1; do
  kubectl get groups -n "$NAMESPACE" --no-headers 2>/dev/null | sed 's/^/    /' >&2
  ((SECONDS < deadline)) || die "Groups not Ready after 120s (see kubectl describe groups -n $NAMESPACE)"
  sleep 2
done

step "kubectl get groups -A"
kubectl get groups -A

step "the platform's view (as the management API reports it)"
curl -fsS "$EMULATOR_URL/__emulator/state" | python3 "$ROOT/hack/platform-view.py"

step "recent Events"
kubectl get events -n "$NAMESPACE" --sort-by=.metadata.creationTimestamp 2>/dev/null | tail -n 15

[[ -n $KEEP ]] && exit 0

step "deleting the Groups: the finalizer cleans up the platform (legacy-analysts is Orphan: kept)"
kubectl delete groups --all -n "$NAMESPACE" --timeout=60s >&2
curl -fsS "$EMULATOR_URL/__emulator/state" | python3 "$ROOT/hack/platform-view.py"
