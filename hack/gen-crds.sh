#!/usr/bin/env bash
# `make crds`: regenerate the committed CRD YAML from the Rust types.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mkdir -p crds
cargo run --quiet --bin igz-operator -- crd > crds/groups.igz-operator.io.yaml.tmp
mv crds/groups.igz-operator.io.yaml.tmp crds/groups.igz-operator.io.yaml
echo "wrote crds/groups.igz-operator.io.yaml" >&2
# The chart's copy and deploy/igz-operator.yaml carry the CRD too.
hack/check-chart.sh --update
