#!/usr/bin/env bash
# `make crds`: regenerate the committed CRD YAML (crds/*.yaml) from the Rust types, then the
# chart's copies and deploy/igz-operator.yaml.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mkdir -p crds
IGZ_UPDATE_CRDS=1 cargo test --quiet --lib crd:: >/dev/null
log "wrote $(ls crds/*.yaml | tr '\n' ' ')"
hack/check-chart.sh --update
