#!/usr/bin/env bash
# Prints the layout hack/lib.sh defines, as NAME=value lines, for programs that are not shell
# scripts (the Rust test kit reads it): one place knows where things are.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
printf '%s=%s\n' \
  ROOT "$ROOT" \
  TARGET_DIR "$TARGET_DIR" \
  ENVTEST_DIR "$ENVTEST_DIR" \
  ENVTEST_KUBECONFIG "$ENVTEST_KUBECONFIG" \
  CLUSTER_DIR "$CLUSTER_DIR" \
  CLUSTER_KUBECONFIG "$CLUSTER_KUBECONFIG" \
  TOOLS_BIN "$TOOLS_BIN"
