#!/usr/bin/env bash
# `make bench`: runs every benchmark script in hack/bench.d/ in order.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
shopt -s nullglob
benches=(hack/bench.d/*.sh)
if ((${#benches[@]} == 0)); then
  echo "make bench: no benchmarks yet" >&2
  exit 1
fi
for b in "${benches[@]}"; do
  printf '\n==> bench: %s\n' "$(basename "$b" .sh)" >&2
  bash "$b"
done
