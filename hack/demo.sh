#!/usr/bin/env bash
# `make demo`: the operator's main job end to end on built-in defaults.
# Builds, starts the local control plane and the management API emulator (seeded with users and
# projects), runs the operator, applies examples/*.yaml, waits for Ready, prints the Group
# resources and the platform's view; then a second platform (a PlatformConnection to a second
# emulator), an on-call member there until a time a few seconds ahead, a rotation of that
# platform's key with the Groups staying Ready, the on-call member removed on time; then tears
# everything down.
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
PROD_KEY=demo-prod-key-1
# How long the on-call member stays (KEEP=1: long enough to watch it with kubectl).
ON_CALL_SECONDS=${ON_CALL_SECONDS:-$([[ -n $KEEP ]] && echo 300 || echo 20)}
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
    "${PLATFORM_URL:-$EMULATOR_URL}/__emulator/state"
}
# emulator_admin URL ROUTE JSON: POSTs JSON to the emulator's admin route (issue or revoke keys).
emulator_admin() {
  python3 -c 'import sys, urllib.request; r=urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), headers={"Content-Type": "application/json"}); sys.stdout.write(urllib.request.urlopen(r, timeout=10).read().decode())' \
    "$1/__emulator/$2" "$3"
}
demo_apply_groups

step "a second platform: PlatformConnection prod, its own emulator, its key in a Secret"
DEV_URL=$EMULATOR_URL
start_emulator "$DEMO_DIR/emulator-prod.log" --access-key "$PROD_KEY" --seed hack/demo-seed.yaml --job-delay 300
pids+=("$EMULATOR_PID")
PROD_URL=$EMULATOR_URL
EMULATOR_URL=$DEV_URL
log "prod emulator at $PROD_URL"
kubectl -n "$NAMESPACE" create secret generic igz-prod --from-literal=access-key="$PROD_KEY" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
sed "s#https://dashboard.prod.example.com#$PROD_URL#" examples/connections/prod.yaml | kubectl apply -f - >&2
kubectl wait platformconnection/prod --for=condition=Ready --timeout=60s >&2
kubectl get platformconnections

until_time=$(python3 -c 'import datetime,sys; t=datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(seconds=int(sys.argv[1])); print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))' "$ON_CALL_SECONDS")
step "an on-call member on prod until $until_time (examples/temporary/on-call.yaml; grant: examples/grants/prod-on-call.yaml)"
sed "s#2030-01-01T18:00:00Z#$until_time#" examples/temporary/on-call.yaml | kubectl apply -n "$NAMESPACE" -f - >&2
kubectl wait -n "$NAMESPACE" --for=condition=Ready group/prod-admins --timeout=60s >&2
prod_state() { PLATFORM_URL=$PROD_URL platform_state; }
prod_state | python3 "$ROOT/hack/print-platform.py"

step "rotating prod's access key: the new key into the Secret, then the old one revoked"
emulator_admin "$PROD_URL" access_keys '{"key": "demo-prod-key-2"}' >/dev/null
kubectl -n "$NAMESPACE" create secret generic igz-prod --from-literal=access-key=demo-prod-key-2 \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
version=$(kubectl -n "$NAMESPACE" get secret igz-prod -o jsonpath='{.metadata.resourceVersion}')
deadline=$((SECONDS + 30))
until [[ $(kubectl get platformconnection prod -o jsonpath='{.status.secretResourceVersion}') == "$version" ]]; do
  ((SECONDS < deadline)) || die "the new key was not in use within 30s"
  sleep 0.5
done
emulator_admin "$PROD_URL" access_keys/revoke "{\"key\": \"$PROD_KEY\"}" >/dev/null
kubectl -n "$NAMESPACE" patch group prod-admins --type merge \
  -p '{"spec": {"temporaryMembers": [{"name": "dave", "expires": "'"$until_time"'", "reason": "on call, INC-4211 (handover)"}]}}' >/dev/null
kubectl wait -n "$NAMESPACE" --for=condition=Ready groups --all --timeout=60s >&2
log "the old key is revoked, the new one in use (Secret version $version); every Group Ready:"
kubectl get groups -n "$NAMESPACE"

[[ -n $KEEP ]] && exit 0

step "waiting for dave's on-call membership to end at $until_time"
deadline=$((SECONDS + ON_CALL_SECONDS + 60))
until ! prod_state | python3 -c 'import json,sys; s=json.load(sys.stdin); ids=[u["id"] for u in s["users"] if u["attributes"]["username"]=="dave"]; g=[g for g in s["user_groups"] if g["attributes"]["name"]=="prod-admins"][0]; sys.exit(0 if any(m["id"] in ids for m in g["relationships"]["users"]["data"]) else 1)'; do
  ((SECONDS < deadline)) || die "dave was still a member of prod-admins $((ON_CALL_SECONDS + 60))s after it began"
  sleep 1
done
kubectl get events -n "$NAMESPACE" --field-selector reason=MemberExpired -o custom-columns=REASON:.reason,MESSAGE:.message >&2
prod_state | python3 "$ROOT/hack/print-platform.py"

demo_delete_groups
kubectl delete platformconnection prod --timeout=60s >&2
