#!/usr/bin/env bash
# `make demo`: the operator's main job end to end on built-in defaults.
# Builds, starts the local control plane and the management API emulator (seeded with users and
# projects), runs the operator, applies examples/*.yaml, waits for Ready, prints the Group
# resources and the platform's view, then tears everything down.
# Keep it running for exploration: `make demo KEEP=1` (or hack/demo.sh --keep).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/demo-steps.sh"
cd "$ROOT"

KEEP=${KEEP:-}
[[ ${1:-} == --keep ]] && KEEP=1
DEMO_DIR="$TARGET_DIR/demo"
NAMESPACE=igz-demo
ACCESS_KEY=demo-access-key
rm -rf "$DEMO_DIR" && mkdir -p "$DEMO_DIR"

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

step "installing the CRDs (Group, GroupGrant, PlatformConnection)"
kubectl apply --server-side -f crds/ >&2
kubectl wait --for=condition=Established crd/groups.igz-operator.io crd/groupgrants.igz-operator.io \
  crd/platformconnections.igz-operator.io \
  --timeout=30s >&2

step "starting the operator"
# The demo namespace is also the operator's own here: it keeps its record key there.
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
printf '%s' "$ACCESS_KEY" >"$DEMO_DIR/access-key"
"$BIN_DIR/igz-operator" run --mgmt-url "$EMULATOR_URL" --access-key-file "$DEMO_DIR/access-key" \
  --metrics-addr 127.0.0.1:0 --resync-interval 30s --watch-namespace "$NAMESPACE" \
  --namespace "$NAMESPACE" >"$DEMO_DIR/operator.log" 2>&1 &
pids+=($!)
sleep 1
kill -0 "${pids[1]}" 2>/dev/null || die "the operator exited: $(cat "$DEMO_DIR/operator.log")"
grep -m1 "igz-operator starting" "$DEMO_DIR/operator.log" >&2 || true

# What demo-steps.sh needs: kubectl for this control plane, and the platform's state.
kc() { kubectl "$@"; }
platform_state() {
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
    "$EMULATOR_URL/__emulator/state"
}
demo_apply_groups

[[ -n $KEEP ]] && exit 0

demo_delete_groups
