#!/usr/bin/env bash
# `make crds`: regenerate the committed CRD YAML from the Rust types.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p crds
cargo run --quiet --bin igz-operator -- crd > crds/groups.igz-operator.io.yaml.tmp
mv crds/groups.igz-operator.io.yaml.tmp crds/groups.igz-operator.io.yaml
if [[ -d charts/igz-operator ]]; then
  mkdir -p charts/igz-operator/crds
  cp crds/groups.igz-operator.io.yaml charts/igz-operator/crds/
fi
echo "wrote crds/groups.igz-operator.io.yaml" >&2
