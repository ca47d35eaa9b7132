#!/usr/bin/env bash
# `make test`: every check and test suite, in order of cost. Starts the local control plane when
# none runs and stops it again at the end (a control plane you started yourself is left running).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "unit tests and doc examples (every crate)"
cargo test --workspace --locked --lib --bins
cargo test --workspace --locked --doc

started_here=false
if [[ ! -f $ENVTEST_KUBECONFIG ]]; then
  started_here=true
fi
cleanup() { if $started_here; then hack/envtest-down.sh || true; fi; }
trap cleanup EXIT

step "local control plane (etcd + kube-apiserver)"
hack/envtest-up.sh >/dev/null

step "integration tests (real kube-apiserver, emulator): one binary per crate"
cargo test --workspace --locked --test '*'

# The suites after the integration tests, in order of cost: each a script with its own checks.
suites=(
  # The vendor SDK (igz-mgmt, pinned) drives the emulator through every flow of the seed document.
  hack/conformance.sh
  # The GitOps status evaluators (kstatus, the Argo CD health check on gopher-lua) agree with the
  # expected table on the sample Groups, and docs/gitops.md carries the health check verbatim.
  hack/tools/check-gitops-tools.sh
  # The Helm chart lints, and deploy/igz-operator.yaml and the chart's CRD copy are up to date.
  hack/check-chart.sh
  # The chart's alerts (promtool unit tests of each) and its dashboard's queries.
  hack/check-alerts.sh
  # README's main command must keep working: `make demo` end to end.
  hack/demo.sh
)
for suite in "${suites[@]}"; do
  step "suite: $suite"
  bash "$suite"
done
