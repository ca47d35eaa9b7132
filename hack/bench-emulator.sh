#!/usr/bin/env bash
# Emulator benchmark (make bench): simple-GET throughput vs a trivial axum handler measured in the
# same run, and memory with 10,000 users + 5,000 groups. Release build. Exit 1 if a target
# (5,000 GETs/s, 100 MiB) is missed. BENCH_SECONDS / BENCH_CONCURRENCY tune the run; BENCH_PROFILE=dev skips
# the release build (numbers are then only a lower bound).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib.sh
need cargo "install Rust (rustup)"
if [[ "${BENCH_PROFILE:-release}" == "dev" ]]; then
  exec cargo bench -p igz-emulator --profile dev --bench emulator
fi
exec cargo bench -p igz-emulator --bench emulator
