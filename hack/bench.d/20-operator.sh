#!/usr/bin/env bash
# Operator benchmark (benches/operator): the real igz-operator binary against the local control
# plane and the emulator. Requests per Group and the time to converge against the vendor SDK sync
# script (hack/bench/sdk_sync.py, in the SDK venv), peak RSS at 1,000 and 5,000 Groups (the
# bench's build and the image's static musl binary), change latency with 5,000 idle Groups, and a
# 60 s outage; each against a baseline measured in the same run. BENCH_ONLY / BENCH_SIZES select
# parts (see benches/operator/main.rs).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
started_here=false
[[ -f $ENVTEST_KUBECONFIG ]] || started_here=true
cleanup() { if $started_here; then hack/envtest-down.sh >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
ensure_venv
# helm: the frugality section also hands the Groups over as one Helm release.
hack/build-tools.sh helm >/dev/null
hack/envtest-up.sh >/dev/null
# The memory section also measures the binary the image ships (static musl, built as
# `make image` builds it), when this machine can build it.
if [[ -f /usr/bin/musl-gcc ]] &&
  rustup target list --installed 2>/dev/null | grep -qx "$IMAGE_RUST_TARGET"; then
  IGZ_BENCH_IMAGE_OPERATOR="$(hack/image.sh --binaries-only)/igz-operator"
  export IGZ_BENCH_IMAGE_OPERATOR
fi
IGZ_SDK_PYTHON="$VENV_PYTHON" cargo bench -p igz-operator --bench operator
