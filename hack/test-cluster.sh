#!/usr/bin/env bash
# `make test-cluster`: the operator's in-cluster tests (tests/cluster/, one test binary whose tests
# are #[ignore]d so that `make test` only builds them). Starts the single-node cluster
# (hack/cluster-up.sh; root), builds both images (make image) and imports them into the cluster,
# builds helm, then runs exactly that binary with --ignored, one test at a time (they share the
# chart's cluster-scoped objects). Stops the cluster again unless KEEP=1, or unless it was
# already running (then it is left as it was found; the tests remove what they created).
# Usage: hack/test-cluster.sh [TEST-NAME-FILTER]      e.g. hack/test-cluster.sh leader
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

KEEP=${KEEP:-}
filter=${1:-}
[[ $(id -u) == 0 ]] || die "the single-node cluster needs root: run as root"

step() { printf '\n==> %s\n' "$*" >&2; }
t_start=$SECONDS
timings=()
timed() { # label command...
  local label=$1 t0=$SECONDS; shift
  "$@"
  timings+=("$label: $((SECONDS - t0))s")
}

cluster_started=false
finish() {
  local rc=$?
  if ((rc != 0)) && [[ -f $CLUSTER_KUBECONFIG ]]; then
    log "failed (exit $rc); Pods in the cluster:"
    kc get pods -A -o wide >&2 2>/dev/null || true
  fi
  if $cluster_started && [[ -z $KEEP ]]; then
    step "stopping the cluster (KEEP=1 leaves it running)"
    local t0=$SECONDS
    hack/cluster-down.sh >&2 || true
    timings+=("cluster-down: $((SECONDS - t0))s")
  elif [[ -f $CLUSTER_KUBECONFIG ]]; then
    log "the cluster keeps running: export KUBECONFIG=$CLUSTER_KUBECONFIG; stop it with make cluster-down"
  fi
  step "timings"
  printf '    %s\n' "${timings[@]}" "total: $((SECONDS - t_start))s" >&2
}
trap finish EXIT

step "the single-node cluster (hack/cluster-up.sh)"
healthy_before=false
if [[ -f $CLUSTER_KUBECONFIG ]] && kc --request-timeout=5s get --raw=/readyz >/dev/null 2>&1; then
  healthy_before=true
fi
$healthy_before || cluster_started=true
timed cluster-up hack/cluster-up.sh >/dev/null

step "images (make image) and their import into the cluster"
version=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="igz-operator"))')
timed image hack/image.sh
timed import hack/cluster-import.sh "$IMAGE_REGISTRY/igz-operator:$version" "$IMAGE_REGISTRY/igz-emulator:$version"
timed helm hack/build-tools.sh helm

step "in-cluster tests: cargo test --test cluster -- --ignored"
args=(--ignored --test-threads=1 --nocapture)
[[ -n $filter ]] && args+=("$filter")
timed "build the test binary" cargo test --locked -p igz-operator --test cluster --no-run
timed "in-cluster tests" cargo test --locked -p igz-operator --test cluster -- "${args[@]}"
