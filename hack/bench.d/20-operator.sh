#!/usr/bin/env bash
# Operator frugality: platform requests per Group (from scratch, per idle resync) against a
# one-GET-per-group baseline measured in the same run. Needs the local control plane.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
started_here=false
[[ -f $ENVTEST_KUBECONFIG ]] || started_here=true
cleanup() { if $started_here; then hack/envtest-down.sh >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
hack/envtest-up.sh >/dev/null
cargo bench -p igz-operator --bench operator
