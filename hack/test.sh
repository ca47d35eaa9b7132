#!/usr/bin/env bash
# `make test`: every check and test suite, in order of cost. Starts the local control plane when
# none runs and stops it again at the end (a control plane you started yourself is left running).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

step "unit tests"
cargo test --locked --lib --bins

started_here=false
if [[ ! -f target/envtest/kubeconfig ]]; then
  started_here=true
fi
cleanup() { if $started_here; then hack/envtest-down.sh || true; fi; }
trap cleanup EXIT

step "local control plane (etcd + kube-apiserver)"
hack/envtest-up.sh >/dev/null

step "integration tests (real kube-apiserver, emulator)"
cargo test --locked --test '*'

for suite in hack/test-suites.d/*.sh; do
  [[ -e $suite ]] || continue
  step "suite: $(basename "$suite" .sh)"
  bash "$suite"
done
