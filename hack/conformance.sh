#!/usr/bin/env bash
# Conformance suite: the vendor's Python SDK (igz-mgmt, pinned) drives igz-emulator through
# every flow the operator relies on. Creates or reuses a venv (default .venv, or $IGZ_VENV),
# builds and starts the emulator on a free loopback port, runs pytest, stops the emulator.
# Exit code: pytest's. Extra arguments go to pytest (e.g. -k groups -x).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

need cargo "install Rust (rustup)"
ensure_venv

log "building igz-emulator"
cargo build --quiet --bin igz-emulator

WORK="$(mktemp -d)"
KEY="conformance-$(date +%s)-$$"
EMU_PID=""
cleanup() {
  if [[ -n "$EMU_PID" ]] && kill -0 "$EMU_PID" 2>/dev/null; then
    kill -TERM "$EMU_PID" 2>/dev/null || true
    wait "$EMU_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Port 0: the emulator picks a free port; no race with other suites.
IGZ_EMULATOR_ACCESS_KEYS="$KEY" RUST_LOG="${RUST_LOG:-warn}" start_emulator "$WORK/emulator.log"
EMU_PID=$EMULATOR_PID
URL=$EMULATOR_URL
log "emulator at $URL"

set +e
IGZ_EMULATOR_URL="$URL" IGZ_EMULATOR_ACCESS_KEY="$KEY" IGZ_EMULATOR_BIN="$BIN_DIR/igz-emulator" \
  "$VENV_PYTHON" -m pytest -q -p no:cacheprovider tests/conformance "$@"
rc=$?
set -e
exit "$rc"
