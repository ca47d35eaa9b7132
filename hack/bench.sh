#!/usr/bin/env bash
# `make bench`: every benchmark, each against a baseline measured in the same run.
#  1. The emulator (crates/igz-emulator/benches): simple-GET throughput against a trivial axum
#     handler, and memory with 10,000 users + 5,000 groups; release build; fails when a target
#     (5,000 GETs/s, 100 MiB) is missed. BENCH_SECONDS / BENCH_CONCURRENCY tune the run;
#     BENCH_PROFILE=dev skips the release build (the numbers are then only a lower bound).
#  2. The operator (benches/operator): the real igz-operator binary against the local control
#     plane and the emulator. Requests per Group and the time to converge against the vendor SDK
#     sync script (hack/bench/sdk_sync.py, in the scripts' virtualenv), peak RSS at 1,000 and
#     5,000 Groups (the bench's build and the image's static musl binary), change latency with
#     5,000 idle Groups, and a 60 s outage. BENCH_ONLY / BENCH_SIZES select parts (see
#     benches/operator/main.rs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
need cargo "install Rust (rustup)"

printf '\n==> bench: emulator\n' >&2
if [[ "${BENCH_PROFILE:-release}" == "dev" ]]; then
  cargo bench -p igz-emulator --profile dev --bench emulator
else
  cargo bench -p igz-emulator --bench emulator
fi

printf '\n==> bench: operator\n' >&2
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
